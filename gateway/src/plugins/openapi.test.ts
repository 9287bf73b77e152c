import { createRouterTransport } from "@connectrpc/connect";
import { createLogger } from "@langopen/common";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../app.js";
import { operationIdOf, TAGS, tagOf } from "./openapi.js";
import { COMPONENTS, RESPONSES } from "./openapi-components.js";

const METHODS = ["get", "put", "post", "delete", "patch"] as const;

/** Component names of the upstream API description that ours uses for the same things. */
const UPSTREAM_NAMES = [
  "Assistant",
  "AssistantCreate",
  "AssistantPatch",
  "AssistantVersionChange",
  "AssistantSearchRequest",
  "AssistantCountRequest",
  "AssistantVersionsSearchRequest",
  "Config",
  "Cron",
  "CronCreate",
  "CronPatch",
  "CronSearch",
  "CronCountRequest",
  "GraphSchema",
  "GraphSchemaNoId",
  "Subgraphs",
  "Run",
  "Send",
  "Command",
  "RunBatchCreate",
  "ThreadSearchRequest",
  "ThreadCountRequest",
  "Thread",
  "ThreadCreate",
  "ThreadPatch",
  "ThreadPruneRequest",
  "ThreadPruneResponse",
  "ThreadStateCheckpointRequest",
  "ThreadStorage",
  "ThreadState",
  "ThreadStateSearch",
  "ThreadStateUpdate",
  "ThreadSuperstepUpdate",
  "ThreadStateUpdateResponse",
  "CheckpointConfig",
  "StorePutRequest",
  "StoreDeleteRequest",
  "StoreSearchRequest",
  "StoreListNamespacesRequest",
  "Item",
  "RunsCancel",
  "SearchItemsResponse",
  "ListNamespaceResponse",
  "ErrorResponse",
  "Interrupt",
  "ProtocolChannel",
  "ProtocolNamespace",
  "ProtocolEventStreamRequest",
  "ProtocolCommand",
];

/** Ours: upstream's four run-create bodies in one, and objects upstream does not describe. */
const OUR_NAMES = ["RunCreate", "AssistantVersion", "WebhookDelivery"];

interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, unknown>;
}

interface Document {
  openapi: string;
  info: { title: string; version: string };
  tags: Array<{ name: string }>;
  paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
  components?: { schemas?: Record<string, unknown> };
}

/** Every route the app serves, as `METHOD /path/{param}`, read from Fastify's route tree. */
function servedRoutes(app: FastifyInstance): string[] {
  const out: string[] = [];
  const prefixes: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split("\n")) {
    const match = /^([│ ]*)[├└]── (.*?)(?: \(([^)]*)\))?$/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? "").length / 4;
    const path = (prefixes[depth - 1] ?? "") + (match[2] ?? "");
    prefixes[depth] = path;
    for (const method of (match[3] ?? "").split(",").map((m) => m.trim())) {
      if (method === "" || method === "HEAD" || method === "OPTIONS") continue;
      out.push(`${method} ${path.replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`);
    }
  }
  return out;
}

/** The Swagger UI's own files are served but not described. */
const isDocsAsset = (route: string) => route.startsWith("GET /docs") && route !== "GET /docs";
/** The portal's app and its Connect RPCs (described by the protos, not by the REST API's document). */
const isPortal = (route: string) => / \/portal(\/|\*|$)/.test(route);

let app: FastifyInstance;
let doc: Document;

beforeAll(async () => {
  app = await buildApp({
    logger: createLogger({ service: "openapi-test", level: "silent" }),
    transport: createRouterTransport(() => {}),
    info: { version: "9.8.7" },
  });
  const res = await app.inject({ method: "GET", url: "/openapi.json" });
  expect(res.statusCode).toBe(200);
  doc = res.json();
});
afterAll(() => app?.close());

function operations(): Array<[string, string, Operation]> {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.flatMap((method) => (item[method] ? [[method, path, item[method]] as [string, string, Operation]] : [])),
  );
}

/** The node a local reference points to (undefined when it points nowhere). */
function resolve(ref: string): unknown {
  return ref
    .slice(2)
    .split("/")
    .map((key) => key.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc);
}

/** A schema with its local references followed. */
function deref(schema: unknown): Record<string, unknown> | undefined {
  let node = schema as Record<string, unknown> | undefined;
  for (let hops = 0; typeof node?.$ref === "string" && hops < 10; hops++) node = resolve(node.$ref) as Record<string, unknown>;
  return node;
}

/** Follows local references; fails the test on a dangling one. */
function collectRefs(value: unknown, refs: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) collectRefs(item, refs);
  else if (value !== null && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      if (key === "$ref" && typeof child === "string") refs.push(child);
      else collectRefs(child, refs);
    }
  }
  return refs;
}

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3.1 document titled LangOpen, with the server version and the resource tags", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info).toMatchObject({ title: "LangOpen", version: "9.8.7" });
    expect(doc.tags.map((t) => t.name)).toEqual(TAGS.map((t) => t.name));
  });

  it("describes every route served, and serves every route described", () => {
    const served = servedRoutes(app).filter((r) => !isDocsAsset(r) && !isPortal(r));
    expect(servedRoutes(app).some(isPortal)).toBe(true);
    expect(operations().some(([, path]) => path.startsWith("/portal"))).toBe(false);
    const described = operations().map(([method, path]) => `${method.toUpperCase()} ${path}`);
    expect(served.length).toBeGreaterThan(50);
    expect([...described].sort()).toEqual([...new Set(served)].sort());
    for (const route of [
      "POST /a2a/{assistant_id}",
      "GET /.well-known/agent-card.json",
      "POST /mcp",
      "GET /docs",
      "GET /openapi.json",
    ]) {
      expect(described).toContain(route);
    }
  });

  it("gives every operation a tag, a summary, a unique id and its path parameters", () => {
    const tags = new Set<string>(TAGS.map((t) => t.name));
    const ids = new Set<string>();
    for (const [method, path, op] of operations()) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(op.tags?.length, where).toBe(1);
      expect(tags.has(op.tags?.[0] ?? ""), where).toBe(true);
      expect(op.summary, where).toEqual(expect.any(String));
      expect(op.operationId, where).toMatch(/^[a-z]+(_[A-Za-z0-9]+)*$/);
      expect(ids.has(op.operationId ?? ""), `${where}: duplicate operationId`).toBe(false);
      ids.add(op.operationId ?? "");
      expect(op.responses && Object.keys(op.responses).length, where).toBeGreaterThan(0);
      for (const name of path.match(/\{([^}]+)\}/g) ?? []) {
        const param = op.parameters?.find((p) => p.in === "path" && `{${p.name}}` === name);
        expect(param?.required, `${where}: path parameter ${name}`).toBe(true);
      }
    }
  });

  it("documents the request bodies, query strings and protocol envelopes the routes take", () => {
    const body = (method: string, path: string) => {
      const op = doc.paths[path]?.[method as (typeof METHODS)[number]];
      return deref(op?.requestBody?.content?.["application/json"]?.schema) as
        | { properties?: Record<string, unknown> }
        | undefined;
    };
    expect(Object.keys(body("post", "/threads/{thread_id}/runs")?.properties ?? {})).toEqual(
      expect.arrayContaining(["assistant_id", "input", "command", "stream_mode", "multitask_strategy", "if_not_exists"]),
    );
    expect(Object.keys(body("post", "/a2a/{assistant_id}")?.properties ?? {})).toEqual(["jsonrpc", "id", "method", "params"]);
    expect(body("put", "/store/items")?.properties).toHaveProperty("namespace");
    const list = doc.paths["/threads/{thread_id}/runs"]?.get;
    expect(list?.parameters?.filter((p) => p.in === "query").map((p) => p.name)).toEqual(
      expect.arrayContaining(["limit", "offset", "status", "select"]),
    );
    const card = doc.paths["/.well-known/agent-card.json"]?.get;
    expect(card?.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: "assistant_id", in: "query", required: true })]),
    );
  });

  it("resolves every reference and leaves out the validator's own keywords", () => {
    const text = JSON.stringify(doc);
    expect(text).not.toContain('"errorMessage"');
    const refs = collectRefs(doc);
    expect(refs.length).toBeGreaterThan(100);
    for (const ref of refs) {
      expect(ref, ref).toMatch(/^#\/components\/schemas\/[A-Za-z]+$/);
      expect(resolve(ref), ref).toBeDefined();
    }
  });

  it("lists the named schemas of the contract as components, under upstream's names", () => {
    const schemas = doc.components?.schemas ?? {};
    expect(Object.keys(schemas).sort()).toEqual(Object.keys(COMPONENTS).sort());
    for (const name of [...UPSTREAM_NAMES, ...OUR_NAMES]) {
      expect(schemas[name], name).toMatchObject({ title: name });
    }
    // Every component is upstream's or one of the few of ours; every one is referenced.
    expect(
      Object.keys(schemas)
        .filter((name) => !UPSTREAM_NAMES.includes(name))
        .sort(),
    ).toEqual([...OUR_NAMES].sort());
    const referenced = new Set(collectRefs(doc));
    for (const name of Object.keys(schemas)) expect(referenced.has(`#/components/schemas/${name}`), name).toBe(true);
    expect(deref(schemas.Thread)?.properties).toEqual(
      expect.objectContaining({ thread_id: expect.anything(), status: expect.anything(), values: expect.anything() }),
    );
    expect(schemas.RunBatchCreate).toMatchObject({ type: "array", items: { $ref: "#/components/schemas/RunCreate" } });
    expect((schemas.RunCreate as { properties: Record<string, unknown> }).properties).toMatchObject({
      config: { $ref: "#/components/schemas/Config" },
      command: { anyOf: [{ $ref: "#/components/schemas/Command" }, { type: "null" }] },
      checkpoint: { anyOf: [{ $ref: "#/components/schemas/CheckpointConfig" }, { type: "null" }] },
    });
  });

  it.each([
    ["post", "/assistants", "AssistantCreate", "Assistant"],
    ["patch", "/assistants/{assistant_id}", "AssistantPatch", "Assistant"],
    ["get", "/assistants/{assistant_id}", undefined, "Assistant"],
    ["post", "/threads", "ThreadCreate", "Thread"],
    ["get", "/threads/{thread_id}", undefined, "Thread"],
    ["get", "/threads/{thread_id}/state", undefined, "ThreadState"],
    ["post", "/threads/{thread_id}/state", "ThreadStateUpdate", "ThreadStateUpdateResponse"],
    ["post", "/threads/{thread_id}/runs", "RunCreate", "Run"],
    ["post", "/runs", "RunCreate", "Run"],
    ["get", "/threads/{thread_id}/runs/{run_id}", undefined, "Run"],
    ["post", "/runs/crons", "CronCreate", "Cron"],
    ["post", "/threads/{thread_id}/runs/crons", "CronCreate", "Cron"],
    ["patch", "/runs/crons/{cron_id}", "CronPatch", "Cron"],
    ["post", "/store/items/search", "StoreSearchRequest", "SearchItemsResponse"],
  ])("references the components from %s %s", (method, path, body, answer) => {
    const op = doc.paths[path]?.[method as (typeof METHODS)[number]];
    const content = (status: string) =>
      (op?.responses?.[status] as { content?: Record<string, { schema?: unknown }> } | undefined)?.content;
    if (body) expect(op?.requestBody?.content?.["application/json"]?.schema).toEqual({ $ref: `#/components/schemas/${body}` });
    expect(content("200")?.["application/json"]?.schema).toEqual({ $ref: `#/components/schemas/${answer}` });
    expect(content("4XX")?.["application/json"]?.schema).toEqual({ $ref: "#/components/schemas/ErrorResponse" });
  });

  it("describes lists, counts, empty answers and event streams", () => {
    const answer = (method: (typeof METHODS)[number], path: string, status = "200") =>
      doc.paths[path]?.[method]?.responses?.[status] as { description: string; content?: Record<string, { schema?: unknown }> };
    expect(answer("post", "/assistants/search").content?.["application/json"]?.schema).toEqual({
      type: "array",
      items: { $ref: "#/components/schemas/Assistant" },
    });
    expect(answer("get", "/threads/{thread_id}/history").content?.["application/json"]?.schema).toEqual({
      type: "array",
      items: { $ref: "#/components/schemas/ThreadState" },
    });
    expect(answer("post", "/threads/count").content?.["application/json"]?.schema).toEqual({ type: "integer", minimum: 0 });
    expect(answer("delete", "/threads/{thread_id}", "204")).toEqual({ description: "Deleted." });
    expect(answer("get", "/store/items").content?.["application/json"]?.schema).toEqual({
      anyOf: [{ $ref: "#/components/schemas/Item" }, { type: "null" }],
    });
    expect(Object.keys(answer("post", "/threads/{thread_id}/runs/stream").content ?? {})).toEqual(["text/event-stream"]);
    // The table of answers names served routes only.
    const served = new Set(servedRoutes(app));
    for (const key of Object.keys(RESPONSES)) expect(served.has(key.replace(/:([A-Za-z0-9_]+)/g, "{$1}")), key).toBe(true);
    // Every upstream operation says what it answers.
    for (const [method, path, op] of operations()) {
      if (
        /^\/(a2a|mcp|docs|openapi|metrics|ok|info|health|\.well-known)/.test(path) ||
        path.includes("/commands") ||
        path.endsWith("/stream/events")
      )
        continue;
      expect(Object.keys(op.responses ?? {}), `${method.toUpperCase()} ${path}`).toContain("4XX");
    }
  });

  it("keeps the live validation messages, which the document leaves out", async () => {
    const res = await app.inject({ method: "POST", url: "/assistants/search", payload: { limit: 0 } });
    expect(res.statusCode).toBe(422);
    expect(res.json().detail).toBe("Invalid body: 'limit' must be an integer from 1 to 1000");
  });
});

describe("GET /docs", () => {
  it("renders the Swagger UI over the same document, with its assets under /docs/", async () => {
    for (const url of ["/docs", "/docs/"]) {
      const page = await app.inject({ method: "GET", url });
      expect(page.statusCode, url).toBe(200);
      expect(page.headers["content-type"]).toMatch(/^text\/html/);
      expect(page.body).toContain("swagger-ui");
    }
    const css = await app.inject({ method: "GET", url: "/docs/static/swagger-ui.css" });
    expect(css.statusCode).toBe(200);
    expect(css.headers["content-type"]).toMatch(/^text\/css/);
    const json = await app.inject({ method: "GET", url: "/docs/json" });
    expect(json.json()).toEqual(doc);
  });
});

describe("operation names", () => {
  it.each([
    ["/assistants/:assistant_id/versions", "Assistants"],
    ["/threads/:thread_id/runs/crons", "Crons"],
    ["/runs/crons/:cron_id", "Crons"],
    ["/threads/:thread_id/runs/:run_id/join", "Thread Runs"],
    ["/runs/cancel", "Thread Runs"],
    ["/runs/batch", "Stateless Runs"],
    ["/threads/:thread_id/state", "Threads"],
    ["/store/items", "Store"],
    ["/.well-known/agent-card.json", "A2A"],
    ["/mcp", "MCP"],
    ["/ok", "System"],
  ])("tags %s as %s", (url, tag) => {
    expect(tagOf(url)).toBe(tag);
  });

  it("derives operation ids from the method and path", () => {
    expect(operationIdOf("POST", "/threads/:thread_id/runs")).toBe("post_threads_thread_id_runs");
    expect(operationIdOf("GET", "/a2a/:assistant_id/.well-known/agent-card.json")).toBe(
      "get_a2a_assistant_id_well_known_agent_card_json",
    );
  });
});
