import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifySchema } from "fastify";
import fp from "fastify-plugin";
import { componentSchemas, RESPONSES, withReferences } from "./openapi-components.js";

/*
 * The API description of what this gateway serves, built from the route schemas at run time
 * (@fastify/swagger in dynamic mode): GET /openapi.json, and the Swagger UI at GET /docs. Route
 * plugins declare only their TypeBox schemas; the operation's tag, summary and id are added here,
 * from the table below or, for a route it does not list, from its path, and its answers from
 * RESPONSES (the routes have no response schemas: their answers are not serialized by schema).
 * The named schemas of openapi-components.ts are shared schemas (`addSchema`), which the document
 * lists as `components.schemas` and references with `$ref` wherever a route schema uses them.
 */

export interface OpenApiOptions {
  /** The server version, as `info.version`. */
  version?: string;
}

/** The resource groups of the upstream API, in the order the document lists them. */
export const TAGS = [
  { name: "Assistants", description: "Assistants: a graph with its configuration, versioned." },
  { name: "Threads", description: "Threads: conversations that keep their state between runs." },
  { name: "Thread Runs", description: "Runs on a thread: create, stream, wait, join and cancel." },
  { name: "Stateless Runs", description: "Runs on a temporary thread." },
  { name: "Crons", description: "Runs on a schedule." },
  { name: "Store", description: "Long-term memory shared across threads." },
  { name: "A2A", description: "The assistants over the Agent2Agent protocol (JSON-RPC 2.0)." },
  { name: "MCP", description: "The assistants as tools of a Model Context Protocol server (Streamable HTTP)." },
  { name: "System", description: "Health, server information and this documentation." },
] as const;

type Tag = (typeof TAGS)[number]["name"];

/** Short names of the operations, by `METHOD url` in Fastify's form. */
const SUMMARIES: Readonly<Record<string, string>> = {
  "POST /assistants": "Create an assistant",
  "POST /assistants/search": "Search assistants",
  "POST /assistants/count": "Count assistants",
  "GET /assistants/:assistant_id": "Get an assistant",
  "PATCH /assistants/:assistant_id": "Update an assistant (new version)",
  "DELETE /assistants/:assistant_id": "Delete an assistant",
  "GET /assistants/:assistant_id/graph": "Get the assistant's graph",
  "GET /assistants/:assistant_id/schemas": "Get the assistant's schemas",
  "GET /assistants/:assistant_id/subgraphs": "Get the assistant's subgraphs",
  "GET /assistants/:assistant_id/subgraphs/:namespace": "Get one subgraph of the assistant",
  "POST /assistants/:assistant_id/versions": "List the assistant's versions",
  "POST /assistants/:assistant_id/latest": "Make a version the current one",
  "POST /threads": "Create a thread",
  "POST /threads/search": "Search threads",
  "POST /threads/count": "Count threads",
  "POST /threads/prune": "Prune threads",
  "GET /threads/:thread_id": "Get a thread",
  "PATCH /threads/:thread_id": "Update a thread",
  "DELETE /threads/:thread_id": "Delete a thread",
  "POST /threads/:thread_id/copy": "Copy a thread",
  "GET /threads/:thread_id/storage": "Get the thread's storage usage",
  "GET /threads/:thread_id/state": "Get the thread's state",
  "POST /threads/:thread_id/state": "Update the thread's state",
  "GET /threads/:thread_id/state/:checkpoint_id": "Get the thread's state at a checkpoint",
  "POST /threads/:thread_id/state/checkpoint": "Get the thread's state at a checkpoint (body form)",
  "GET /threads/:thread_id/history": "Get the thread's history",
  "POST /threads/:thread_id/history": "Search the thread's history",
  "GET /threads/:thread_id/stream": "Stream every run of the thread",
  "POST /threads/:thread_id/stream/events": "Protocol v2 event stream",
  "POST /threads/:thread_id/commands": "Protocol v2 command",
  "GET /threads/:thread_id/runs": "List the thread's runs",
  "POST /threads/:thread_id/runs": "Create a background run",
  "POST /threads/:thread_id/runs/stream": "Create a run and stream it",
  "POST /threads/:thread_id/runs/wait": "Create a run and wait for its output",
  "GET /threads/:thread_id/runs/:run_id": "Get a run",
  "DELETE /threads/:thread_id/runs/:run_id": "Delete a run",
  "GET /threads/:thread_id/runs/:run_id/join": "Wait for a run's output",
  "GET /threads/:thread_id/runs/:run_id/stream": "Join a run's stream",
  "POST /threads/:thread_id/runs/:run_id/cancel": "Cancel a run",
  "POST /threads/:thread_id/runs/crons": "Create a cron on the thread",
  "POST /runs/cancel": "Cancel runs",
  "POST /runs": "Create a stateless background run",
  "POST /runs/stream": "Create a stateless run and stream it",
  "POST /runs/wait": "Create a stateless run and wait for its output",
  "POST /runs/batch": "Create stateless runs in a batch",
  "GET /runs/:run_id/stream": "Join a stateless run's stream",
  "POST /runs/crons": "Create a cron",
  "POST /runs/crons/search": "Search crons",
  "POST /runs/crons/count": "Count crons",
  "GET /runs/crons/:cron_id": "Get a cron",
  "PATCH /runs/crons/:cron_id": "Update a cron",
  "DELETE /runs/crons/:cron_id": "Delete a cron",
  "PUT /store/items": "Store an item",
  "GET /store/items": "Get an item",
  "DELETE /store/items": "Delete an item",
  "POST /store/items/search": "Search items",
  "POST /store/namespaces": "List namespaces",
  "POST /a2a/:assistant_id": "A2A JSON-RPC",
  "GET /a2a/:assistant_id/.well-known/agent-card.json": "Get the assistant's agent card",
  "GET /.well-known/agent-card.json": "Get an assistant's agent card",
  "POST /mcp": "MCP JSON-RPC message (stateless Streamable HTTP)",
  "GET /mcp": "MCP server-sent stream (not supported)",
  "DELETE /mcp": "End an MCP session (none are kept)",
  "GET /ok": "Health check",
  "GET /info": "Server information",
  "GET /metrics": "Metrics",
  "GET /docs": "API documentation",
  "GET /openapi.json": "This API description",
};

/** The resource group of a route, from its path. */
export function tagOf(url: string): Tag {
  if (url.startsWith("/assistants")) return "Assistants";
  if (/^\/(threads\/[^/]+\/)?runs\/crons(\/|$)/.test(url)) return "Crons";
  if (url.startsWith("/threads/:thread_id/runs") || url === "/runs/cancel") return "Thread Runs";
  if (url.startsWith("/runs")) return "Stateless Runs";
  if (url.startsWith("/threads")) return "Threads";
  if (url.startsWith("/store")) return "Store";
  if (url.startsWith("/a2a") || url.startsWith("/.well-known/")) return "A2A";
  if (url === "/mcp" || url.startsWith("/mcp/")) return "MCP";
  return "System";
}

/** A stable operation id: `post_threads_thread_id_runs`. */
export function operationIdOf(method: string, url: string): string {
  const words = url
    .split("/")
    .map((segment) =>
      segment
        .replace(/^:/, "")
        .replace(/[^A-Za-z0-9]+/g, "_")
        .replace(/^_+|_+$/g, ""),
    )
    .filter((segment) => segment !== "");
  return [method.toLowerCase(), ...words].join("_");
}

/**
 * Removes our validator's `errorMessage` keyword: it is not part of the schema language. The
 * keyword's value is a string; a property named so would be a schema object, and stays.
 */
function stripErrorMessages(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) stripErrorMessages(item);
  } else if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (typeof record.errorMessage === "string") delete record.errorMessage;
    for (const child of Object.values(record)) stripErrorMessages(child);
  }
}

/** The Swagger UI's own page, which the description lists as GET /docs (its assets stay hidden). */
const DOCS_PAGE = "/docs";

export const openapiPlugin = fp<OpenApiOptions>(
  async (fastify, options) => {
    // Shared schemas are for the description only: routes validate with their own TypeBox
    // schemas (validation.ts), which reference nothing.
    for (const schema of componentSchemas()) fastify.addSchema(schema);
    await fastify.register(swagger, {
      // A shared schema is the component of its `$id` (the default would name it `def-<n>`).
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === "string" ? json.$id : `def-${i}`),
      },
      openapi: {
        openapi: "3.1.0",
        info: {
          title: "LangOpen",
          version: options.version ?? "0.0.0",
          description:
            "An open, self-hostable server for LangGraph agents. The API is compatible with the LangGraph SDKs: " +
            'errors answer `{"detail": "..."}`, streams are server-sent events.',
        },
        tags: TAGS.map((tag) => ({ ...tag })),
      },
      transform: ({ schema, url, route }) => {
        const methods = Array.isArray(route.method) ? route.method : [route.method];
        const method = methods[0] ?? "GET";
        const own = (schema ?? {}) as FastifySchema & Record<string, unknown>;
        const visible = url === DOCS_PAGE && method === "GET";
        if (own.hide === true && !visible) return { schema: own, url };
        // The portal is an app and its RPCs are Connect's, described by the protos: not REST operations.
        if (url === "/portal" || url.startsWith("/portal/")) return { schema: { ...own, hide: true }, url };
        const described: Record<string, unknown> = { ...own, hide: false };
        described.tags ??= [tagOf(url)];
        described.summary ??= SUMMARIES[`${method} ${url}`] ?? `${method} ${url}`;
        described.operationId ??= operationIdOf(method, url);
        if (own.body !== undefined) described.body = withReferences(own.body);
        described.response ??= RESPONSES[`${method} ${url}`];
        return { schema: described as FastifySchema, url };
      },
      transformObject: (documentObject) => {
        // A copy: the document may share objects with the route schemas the validator reads.
        const document = structuredClone(
          "openapiObject" in documentObject ? documentObject.openapiObject : documentObject.swaggerObject,
        );
        stripErrorMessages(document);
        return document;
      },
    });
    await fastify.register(swaggerUi, { routePrefix: DOCS_PAGE });

    fastify.get("/openapi.json", async () => fastify.swagger());
  },
  { name: "openapi", fastify: "5.x" },
);
