import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { jsonBytes, parseJsonBytes } from "@langopen/common";
import type { Assistant } from "@langopen/gen/langopen/data/v1/assistant_pb";
import { SortOrder } from "@langopen/gen/langopen/data/v1/common_pb";
import { RunSpecSchema } from "@langopen/gen/langopen/data/v1/run_pb";
import { CreateRunRequestSchema } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import type { FastifyRequest } from "fastify";
import { authorizedMetadata, createRunValue } from "../../auth/events.js";
import { present } from "../../mappers/common.js";
import { type ToolResult, toolDescription, toolError, toolInputSchema, toolNames, toolResult } from "../../mappers/mcp.js";
import { fromConnectError } from "../../plugins/error-handler.js";
import { documentOnly, JsonRpcCode, lenientJsonBodies, rpcError, UNPARSABLE_BODY } from "../../plugins/json-rpc.js";
import { callOptionsFor, readOptions } from "../../plugins/rpc-clients.js";
import { McpMessageBody, McpPostHeaders } from "../../schemas/mcp.js";

export interface McpRoutesOptions {
  /** The server version announced at initialization. */
  version?: string;
  /** Most JSON-RPC requests in one batch (default DEFAULT_MCP_MAX_BATCH). */
  maxBatch?: number;
}

/**
 * Requests one batch may hold. Each may start a run (tools/call) or look up schemas
 * (tools/list), so the length of a batch is a multiple of its cost; the protocol's newest
 * revision drops batches altogether, and clients send one request at a time.
 */
export const DEFAULT_MCP_MAX_BATCH = 20;
/** Assistants read per page when listing the tools. */
const PAGE = 100;
/** At most this many tools: the first assistants, oldest first. */
export const MAX_TOOLS = 1_000;
/** Tools per page of tools/list: each needs a schema look-up, answered by the runtime. */
export const TOOLS_PAGE = 100;
/** Schema look-ups (answered by the runtime) made at once while listing. */
const SCHEMA_CONCURRENCY = 8;

/** The opaque cursor of tools/list: where the next page starts. */
export const toolsCursor = (offset: number): string => Buffer.from(`tools:${offset}`).toString("base64url");

/** The start of the page a cursor names; undefined for a cursor this server did not hand out. */
export function cursorOffset(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return 0;
  const match = /^tools:(\d{1,7})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  const offset = match ? Number(match[1]) : Number.NaN;
  return Number.isSafeInteger(offset) && offset % TOOLS_PAGE === 0 ? offset : undefined;
}

/** Maps over items with at most `limit` calls under way. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * An MCP server (Streamable HTTP transport, stateless) whose tools are the assistants. Every POST
 * gets a fresh server and transport, without a session: nothing is kept between requests, so any
 * gateway replica can answer any request. Answers are JSON, not event streams. GET (a
 * server-to-client stream) is not offered: 405; DELETE ends no session: 404.
 */
export const mcpRoutes: FastifyPluginAsyncTypebox<McpRoutesOptions> = async (fastify, options) => {
  lenientJsonBodies(fastify);
  const { assistants, runs } = fastify.rpc;
  const maxBatch = options.maxBatch ?? DEFAULT_MCP_MAX_BATCH;

  /** Every assistant, oldest first, so that tool names stay stable as assistants are added. */
  const listAssistants = async (request: FastifyRequest): Promise<Assistant[]> => {
    // Tools list and calls of one batch run side by side: each call carries its own event's caller.
    const { callerHeader } = await request.authorizeCall("assistants", "search", { limit: MAX_TOOLS, offset: 0 });
    const all: Assistant[] = [];
    for (let offset = 0; all.length < MAX_TOOLS; offset += PAGE) {
      const res = await assistants.searchAssistants(
        { limit: PAGE, offset, sortBy: "created_at", sortOrder: SortOrder.ASC },
        callOptionsFor(request, callerHeader, request.clientGone),
      );
      all.push(...res.assistants);
      if (res.assistants.length < PAGE) break;
    }
    return all.slice(0, MAX_TOOLS);
  };

  const inputSchema = async (request: FastifyRequest, assistant: Assistant) => {
    try {
      const res = await assistants.getAssistantSchemas({ assistantId: assistant.assistantId }, readOptions(request));
      return toolInputSchema(parseJsonBytes<unknown>(res.schemasJson, undefined));
    } catch (err) {
      request.log.debug({ err, assistant_id: assistant.assistantId }, "No input schema for an MCP tool");
      return toolInputSchema(undefined);
    }
  };

  /**
   * What one HTTP request has read, shared by the requests of its batch: the assistants (one
   * search), each page of tools, and the input schemas. However many tools/list a batch holds, it
   * costs at most one listing of every tool.
   */
  interface RequestScope {
    named?: Promise<Map<string, Assistant>>;
    pages: Map<number, Promise<{ tools: Tool[]; nextCursor?: string }>>;
    /** By graph and config: the runtime answers schemas from nothing else, and assistants often share both. */
    schemas: Map<string, Promise<Tool["inputSchema"]>>;
  }

  const sharedInputSchema = (request: FastifyRequest, scope: RequestScope, assistant: Assistant) => {
    const key = `${assistant.graphId}\u0000${JSON.stringify(assistant.config ?? {})}`;
    let schema = scope.schemas.get(key);
    if (schema === undefined) {
      schema = inputSchema(request, assistant);
      scope.schemas.set(key, schema);
    }
    return schema;
  };

  const namedTools = (request: FastifyRequest, scope: RequestScope): Promise<Map<string, Assistant>> => {
    scope.named ??= listAssistants(request).then(toolNames);
    return scope.named;
  };

  /** One page of tools, from the cursor's offset; the names are given over every assistant, so they stay stable. */
  const listTools = (request: FastifyRequest, scope: RequestScope, cursor: string | undefined) => {
    const offset = cursorOffset(cursor);
    if (offset === undefined) throw new McpError(ErrorCode.InvalidParams, "Invalid cursor: pass a nextCursor of tools/list");
    let page = scope.pages.get(offset);
    if (page === undefined) {
      page = namedTools(request, scope).then(async (named) => {
        const entries = [...named].slice(offset, offset + TOOLS_PAGE);
        const tools = await mapLimited(entries, SCHEMA_CONCURRENCY, async ([name, assistant]) => ({
          name,
          title: assistant.name || assistant.graphId,
          description: toolDescription(assistant),
          inputSchema: await sharedInputSchema(request, scope, assistant),
        }));
        const next = offset + TOOLS_PAGE;
        return next < named.size ? { tools, nextCursor: toolsCursor(next) } : { tools };
      });
      scope.pages.set(offset, page);
    }
    return page;
  };

  /** Runs the tool's assistant statelessly and answers its result; run failures are error results. */
  const callTool = async (
    request: FastifyRequest,
    scope: RequestScope,
    name: string,
    args: JsonObject,
    signal: AbortSignal,
  ): Promise<ToolResult> => {
    const assistant = (await namedTools(request, scope)).get(name);
    if (assistant === undefined) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
    try {
      const authorized = await request.authorizeCall(
        "threads",
        "create_run",
        createRunValue(null, { assistant_id: assistant.assistantId, metadata: {} }),
      );
      const spec = create(RunSpecSchema, {
        assistantId: assistant.assistantId,
        inputJson: jsonBytes(args),
        metadata: authorizedMetadata(authorized.value, {}),
      });
      const res = await runs.createRun(
        create(CreateRunRequestSchema, { threadId: "", spec }),
        callOptionsFor(request, authorized.callerHeader, undefined),
      );
      const run = present(res.run, "run");
      const joined = await runs.joinRun(
        { threadId: "", runId: run.runId },
        callOptionsFor(request, authorized.callerHeader, signal),
      );
      return toolResult(parseJsonBytes<JsonValue | undefined>(joined.resultJson, undefined));
    } catch (err) {
      if (!(err instanceof ConnectError)) throw err;
      return toolError(fromConnectError(err).detail);
    }
  };

  const newServer = (request: FastifyRequest): McpServer => {
    const server = new McpServer({ name: "LangOpen", version: options.version ?? "0.0.0" }, { capabilities: { tools: {} } });
    const scope: RequestScope = { pages: new Map(), schemas: new Map() };
    // The tools come from the assistants and their JSON schemas, not from registered handlers.
    server.server.setRequestHandler(ListToolsRequestSchema, async (list) => listTools(request, scope, list.params?.cursor));
    server.server.setRequestHandler(CallToolRequestSchema, async (call, extra) =>
      callTool(request, scope, call.params.name, (call.params.arguments ?? {}) as JsonObject, extra.signal),
    );
    return server;
  };

  fastify.post(
    "/mcp",
    { schema: { body: McpMessageBody, headers: McpPostHeaders }, validatorCompiler: documentOnly },
    async (request, reply) => {
      if ((request.body as unknown) === UNPARSABLE_BODY) {
        return reply.code(400).send(rpcError(null, { code: JsonRpcCode.ParseError, message: "Parse error: Invalid JSON" }));
      }
      if (Array.isArray(request.body) && request.body.length > maxBatch) {
        return reply.code(400).send(
          rpcError(null, {
            code: JsonRpcCode.InvalidRequest,
            message: `Invalid request: a batch may hold at most ${maxBatch} requests; send the rest in further batches`,
          }),
        );
      }
      const server = newServer(request);
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      reply.hijack();
      const res = reply.raw;
      // Headers set so far (request id, CORS) go out with the transport's answer.
      for (const [header, value] of Object.entries(reply.getHeaders())) if (value !== undefined) res.setHeader(header, value);
      res.once("close", () => {
        void transport.close();
        void server.close();
      });
      try {
        await server.connect(transport);
        await transport.handleRequest(request.raw, res, request.body);
      } catch (err) {
        request.log.error({ err }, "MCP request failed");
        if (!res.headersSent) {
          res.writeHead(500, { "content-type": "application/json" });
          res.end(JSON.stringify(rpcError(null, { code: JsonRpcCode.InternalError, message: "Internal error" })));
        } else if (!res.writableEnded) res.end();
      }
    },
  );

  fastify.get("/mcp", async (_request, reply) =>
    reply
      .code(405)
      .header("allow", "POST, DELETE")
      .send(
        rpcError(null, {
          code: JsonRpcCode.ServerError,
          message: "Method not allowed: this server keeps no event stream; POST messages",
        }),
      ),
  );

  fastify.delete("/mcp", async (_request, reply) =>
    reply
      .code(404)
      .send(rpcError(null, { code: JsonRpcCode.ServerError, message: "Session not found: this server keeps no sessions" })),
  );
};
