import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { jsonBytes } from "@langopen/common";
import { AssistantSchema } from "@langopen/gen/langopen/data/v1/assistant_pb";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import type { FastifyInstance } from "fastify";
import { describe, expect, it } from "vitest";
import { standInGateway } from "../../test-fixtures/stand-in.js";
import { cursorOffset, DEFAULT_MCP_MAX_BATCH, TOOLS_PAGE, toolsCursor } from "./index.js";

/** The RPC methods the gateway called. */
const start = standInGateway("mcp-route-test");

const MCP_ACCEPT = { accept: "application/json, text/event-stream" };

const post = (instance: FastifyInstance, url: string, payload: string, headers: Record<string, string> = {}) =>
  instance.inject({ method: "POST", url, payload, headers: { "content-type": "application/json", ...headers } });

/**
 * Answers of the MCP transport go over a real loopback connection: the transport closes its
 * sockets in ways an injected request's stand-in socket does not support.
 */
async function mcpClient(app: FastifyInstance) {
  const base = await app.listen({ host: "127.0.0.1", port: 0 });
  return async (body: unknown, accept = MCP_ACCEPT.accept) => {
    const res = await fetch(`${base}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(20_000),
    });
    return { status: res.status, json: (await res.json()) as unknown };
  };
}

/** A stand-in api-server with `count` assistants (oldest first) of one graph in three configs. */
function assistantsApi(count: number) {
  const all = Array.from({ length: count }, (_, i) =>
    create(AssistantSchema, {
      assistantId: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      graphId: "agent",
      name: `assistant ${i}`,
      config: { configurable: { variant: i % 3 } },
      version: 1,
      createTime: { seconds: 1719335433n, nanos: 0 },
      updateTime: { seconds: 1719335433n, nanos: 0 },
    }),
  );
  return (router: ConnectRouter) =>
    router.service(AssistantService, {
      searchAssistants: (req) => ({
        assistants: all.slice(Number(req.offset), Number(req.offset) + Number(req.limit)),
        totalSize: BigInt(count),
      }),
      getAssistantSchemas: () => ({
        schemasJson: jsonBytes({ input_schema: { type: "object", properties: { messages: { type: "array" } } } }),
      }),
    });
}

const listRequest = (id: number, cursor?: string) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/list",
  ...(cursor !== undefined && { params: { cursor } }),
});

interface ListAnswer {
  id: number;
  result?: { tools: Array<{ name: string }>; nextCursor?: string };
  error?: { code: number; message: string };
}

describe("/mcp", () => {
  it("refuses invalid JSON, other methods and a session end without calling anything", async () => {
    const { app, methods: calls } = await start();
    const invalid = await post(app, "/mcp", "{oops", MCP_ACCEPT);
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700 } });
    expect((await app.inject({ method: "GET", url: "/mcp/" })).statusCode).toBe(405);
    expect((await app.inject({ method: "DELETE", url: "/mcp" })).statusCode).toBe(404);
    const notAcceptable = await (await mcpClient(app))(listRequest(1), "application/json");
    expect(notAcceptable.status).toBe(406);
    expect(calls).toEqual([]);
  });

  it("refuses a batch over the cap with a JSON-RPC error, before any work", async () => {
    const { app, methods } = await start(assistantsApi(3));
    const mcp = await mcpClient(app);
    const batch = Array.from({ length: DEFAULT_MCP_MAX_BATCH + 1 }, (_, i) => listRequest(i + 1));
    const res = await mcp(batch);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32600, message: expect.stringContaining(`at most ${DEFAULT_MCP_MAX_BATCH} requests`) },
    });
    expect(methods).toEqual([]);
  });

  it("lists the tools of a whole batch from one search and one schema look-up per graph and config", async () => {
    const { app, methods } = await start(assistantsApi(301));
    const mcp = await mcpClient(app);
    const batch = Array.from({ length: DEFAULT_MCP_MAX_BATCH }, (_, i) => listRequest(i + 1));
    const res = await mcp(batch);
    expect(res.status).toBe(200);
    const answers = res.json as ListAnswer[];
    expect(answers).toHaveLength(DEFAULT_MCP_MAX_BATCH);
    for (const answer of answers) {
      expect(answer.result?.tools.map((t) => t.name).slice(0, 2)).toEqual(["assistant_0", "assistant_1"]);
      expect(answer.result?.tools).toHaveLength(TOOLS_PAGE);
    }
    // 20 tools/list cost what one does: the assistants read once (4 pages of 100), and one schema
    // look-up per graph and config of the page (the runtime's answer depends on nothing else).
    expect(methods.filter((m) => m === "SearchAssistants")).toHaveLength(4);
    expect(methods.filter((m) => m === "GetAssistantSchemas")).toHaveLength(3);

    // The cursors walk every tool once, in order, with names stable across pages.
    const names: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const answer = (await mcp(listRequest(1, cursor))).json as ListAnswer;
      names.push(...(answer.result?.tools.map((t) => t.name) ?? []));
      cursor = answer.result?.nextCursor;
      if (cursor === undefined) break;
    }
    expect(names).toEqual(Array.from({ length: 301 }, (_, i) => `assistant_${i}`));

    const bad = (await mcp(listRequest(7, "bm9wZQ"))).json as ListAnswer;
    expect(bad).toMatchObject({ id: 7, error: { code: -32602, message: expect.stringMatching(/Invalid cursor/) } });
  });

  it("hands out cursors it can read back, and reads no others", () => {
    expect(cursorOffset(undefined)).toBe(0);
    expect(cursorOffset(toolsCursor(TOOLS_PAGE * 3))).toBe(TOOLS_PAGE * 3);
    expect(cursorOffset(toolsCursor(TOOLS_PAGE + 1))).toBeUndefined();
    expect(cursorOffset(Buffer.from("tools:-100").toString("base64url"))).toBeUndefined();
    expect(cursorOffset("")).toBeUndefined();
  });
});
