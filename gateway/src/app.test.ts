import { type ConnectRouter, createRouterTransport, type Transport } from "@connectrpc/connect";
import { createLogger, createRpcTransport, jsonBytes, notFound, unavailable } from "@langopen/common";
import { Health, HealthCheckResponse_ServingStatus } from "@langopen/gen/health/v1/health_pb";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import { ThreadStatus } from "@langopen/gen/langopen/data/v1/thread_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { buildApp } from "./app.js";

const logger = createLogger({ service: "gateway-test", level: "silent" });
const THREAD = "0190b3c2-8c4f-7000-8000-000000000001";
const ts = { seconds: 1719335433n, nanos: 0 };

interface Recorded {
  method: string;
  requestId: string | null;
  input: unknown;
}

/** Wraps a transport to record every RPC the gateway makes. */
function recording(inner: Transport): { transport: Transport; calls: Recorded[] } {
  const calls: Recorded[] = [];
  const transport: Transport = {
    unary(method, signal, timeoutMs, header, input, contextValues) {
      calls.push({ method: method.name, requestId: new Headers(header).get("x-request-id"), input });
      return inner.unary(method, signal, timeoutMs, header, input, contextValues);
    },
    stream(method, signal, timeoutMs, header, input, contextValues) {
      calls.push({ method: method.name, requestId: new Headers(header).get("x-request-id"), input: undefined });
      return inner.stream(method, signal, timeoutMs, header, input, contextValues);
    },
  };
  return { transport, calls };
}

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function start(routes: (router: ConnectRouter) => void = () => {}, bodyLimitBytes?: number) {
  const { transport, calls } = recording(createRouterTransport(routes));
  app = await buildApp({ logger, transport, bodyLimitBytes, info: { version: "1.2.3" } });
  return { app, calls };
}

describe("bad input", () => {
  it.each([
    ["POST", "/assistants", "{not json", 422, "Request body is not valid JSON"],
    ["POST", "/assistants", {}, 422, "Invalid body: 'graph_id' is required"],
    ["POST", "/assistants", { graph_id: "g", assistant_id: "nope" }, 422, "Invalid body: 'assistant_id' must be a UUID"],
    ["POST", "/assistants/search", { limit: 0 }, 422, "Invalid body: 'limit' must be an integer from 1 to 1000"],
    ["POST", "/assistants/a/latest", {}, 422, "Invalid body: 'version' is required"],
    ["GET", "/threads/123", undefined, 422, "Invalid path parameter: 'thread_id' must be a UUID"],
    ["POST", "/threads/prune", { thread_ids: ["x"] }, 422, "Invalid body: 'thread_ids[0]' must be a UUID"],
    [
      "POST",
      "/threads",
      { status: "idle", if_exists: "sometimes" },
      422,
      `Invalid body: 'if_exists' must be one of "raise", "do_nothing"`,
    ],
    ["PUT", "/store/items", { namespace: [], key: "k", value: {} }, 400, "Namespace is required: give at least one label"],
    [
      "PUT",
      "/store/items",
      { namespace: ["a.b"], key: "k", value: {} },
      422,
      "Invalid body: 'namespace[0]' must be a non-empty label without '.'",
    ],
    ["GET", "/store/items?key=k", undefined, 400, "Namespace is required: give at least one label"],
    [
      "GET",
      "/store/items?key=k&namespace=a..b",
      undefined,
      422,
      "Invalid query parameter: 'namespace' labels must be non-empty and contain no '.'",
    ],
    ["DELETE", "/store/items", { key: "k" }, 400, "Namespace is required: give at least one label"],
    [
      "GET",
      "/assistants/a/graph?xray=sometimes",
      undefined,
      422,
      "Invalid query parameter: 'xray' must be a boolean or a non-negative integer",
    ],
  ])("%s %s -> %i without calling the api-server", async (method, url, payload, status, detail) => {
    const { app, calls } = await start();
    const res = await app.inject({
      method: method as "GET",
      url,
      ...(payload === undefined ? {} : { payload: payload as string, headers: { "content-type": "application/json" } }),
    });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual({ detail });
    expect(calls).toEqual([]);
  });

  it("answers 413 above the body limit", async () => {
    const { app, calls } = await start(undefined, 100);
    const res = await app.inject({ method: "POST", url: "/assistants", payload: { graph_id: "x".repeat(200) } });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ detail: "Request body is too large: the limit is 100 bytes" });
    expect(calls).toEqual([]);
  });

  it("answers 415 for bodies that are not JSON", async () => {
    const { app } = await start();
    const res = await app.inject({ method: "POST", url: "/threads", payload: "{}", headers: { "content-type": "text/plain" } });
    expect(res.statusCode).toBe(415);
  });

  it("answers 404 for unknown routes and 405 for known paths with another method", async () => {
    const { app } = await start();
    const missing = await app.inject({ method: "GET", url: "/nope" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ detail: "Not Found" });
    const wrong = await app.inject({ method: "PUT", url: `/threads/${THREAD}` });
    expect(wrong.statusCode).toBe(405);
    expect(wrong.json()).toEqual({ detail: "Method Not Allowed" });
    expect(wrong.headers.allow).toBe("GET, HEAD, PATCH, DELETE");
  });

  it("ignores a trailing slash", async () => {
    const { app, calls } = await start((router) => router.service(ThreadService, { countThreads: () => ({ count: 0n }) }));
    const res = await app.inject({ method: "POST", url: "/threads/count/", payload: {} });
    expect(res.statusCode).toBe(200);
    expect(calls).toHaveLength(1);
  });
});

describe("errors from the api-server", () => {
  it("passes 404 through with its message", async () => {
    const { app } = await start((router) =>
      router.service(AssistantService, {
        getAssistant(req) {
          throw notFound("Assistant", req.assistantId);
        },
      }),
    );
    const res = await app.inject({ method: "GET", url: "/assistants/nope" });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ detail: "Assistant nope not found" });
  });

  it("names the dependency the api-server lost", async () => {
    const { app } = await start((router) =>
      router.service(ThreadService, {
        countThreads() {
          throw unavailable("postgres");
        },
      }),
    );
    const res = await app.inject({ method: "POST", url: "/threads/count", payload: {} });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ detail: "postgres is unavailable" });
  });

  it("answers 503 naming the api-server when it cannot be reached", async () => {
    app = await buildApp({ logger, transport: createRpcTransport("http://127.0.0.1:1") });
    const res = await app.inject({ method: "POST", url: "/assistants/count" });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ detail: "api-server is unavailable" });
  });
});

describe("translation", () => {
  const assistant = (assistantId: string) => ({
    assistantId,
    graphId: "agent",
    version: 1,
    name: assistantId,
    createTime: ts,
    updateTime: ts,
  });

  it("searches assistants with pagination headers, select, and the request id forwarded", async () => {
    const { app, calls } = await start((router) =>
      router.service(AssistantService, {
        searchAssistants: () => ({ assistants: [assistant("a"), assistant("b")], totalSize: 5n }),
      }),
    );
    const res = await app.inject({
      method: "POST",
      url: "/assistants/search",
      payload: { limit: 2, select: ["assistant_id", "name"] },
      headers: { "x-request-id": "req-1" },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual([
      { assistant_id: "a", name: "a" },
      { assistant_id: "b", name: "b" },
    ]);
    expect(res.headers["x-pagination-total"]).toBe("5");
    expect(res.headers["x-pagination-next"]).toBe("2");
    expect(res.headers["x-request-id"]).toBe("req-1");
    expect(calls).toMatchObject([{ method: "SearchAssistants", requestId: "req-1", input: { limit: 2, offset: 0 } }]);
  });

  it("counts with a bare integer, even without a body", async () => {
    const { app } = await start((router) => router.service(AssistantService, { countAssistants: () => ({ count: 4n }) }));
    const res = await app.inject({ method: "POST", url: "/assistants/count" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe("4");
  });

  it("takes the version of /latest from the query too", async () => {
    const { app, calls } = await start((router) =>
      router.service(AssistantService, { setLatestAssistantVersion: (req) => ({ assistant: assistant(req.assistantId) }) }),
    );
    const res = await app.inject({ method: "POST", url: "/assistants/agent/latest?version=2" });
    expect(res.statusCode).toBe(200);
    expect(calls).toMatchObject([{ method: "SetLatestAssistantVersion", input: { assistantId: "agent", version: 2 } }]);
  });

  it("deletes with 204 and no body", async () => {
    const { app, calls } = await start((router) => router.service(AssistantService, { deleteAssistant: () => ({}) }));
    const res = await app.inject({ method: "DELETE", url: "/assistants/a?delete_threads=1" });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe("");
    expect(calls).toMatchObject([{ method: "DeleteAssistant", input: { deleteThreads: true } }]);
  });

  it("answers PATCH /threads/{id} with 204 when the client prefers return=minimal", async () => {
    const thread = { threadId: THREAD, status: ThreadStatus.IDLE, createTime: ts, updateTime: ts, stateUpdateTime: ts };
    const { app } = await start((router) => router.service(ThreadService, { updateThread: () => ({ thread }) }));
    const minimal = await app.inject({
      method: "PATCH",
      url: `/threads/${THREAD}`,
      payload: { metadata: { a: 1 } },
      headers: { prefer: "return=minimal" },
    });
    expect(minimal.statusCode).toBe(204);
    expect(minimal.body).toBe("");
    const full = await app.inject({ method: "PATCH", url: `/threads/${THREAD}`, payload: { metadata: { a: 1 } } });
    expect(full.statusCode).toBe(200);
    expect(full.json()).toMatchObject({ thread_id: THREAD, status: "idle", values: null });
  });

  it("asks for the TTL when include=ttl, comma-joined or repeated", async () => {
    const { app, calls } = await start((router) =>
      router.service(ThreadService, { getThread: (req) => ({ thread: { threadId: req.threadId, createTime: ts } }) }),
    );
    await app.inject({ method: "GET", url: `/threads/${THREAD}?include=ttl` });
    await app.inject({ method: "GET", url: `/threads/${THREAD}?include=x,ttl` });
    await app.inject({ method: "GET", url: `/threads/${THREAD}` });
    expect(calls.map((c) => (c.input as { includeTtl: boolean }).includeTtl)).toEqual([true, true, false]);
  });

  it("answers a missing store item with 200 and null", async () => {
    const { app, calls } = await start((router) => router.service(StoreService, { getItem: () => ({}) }));
    const res = await app.inject({ method: "GET", url: "/store/items?key=k&namespace=users.ada&refresh_ttl=false" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.body).toBe("null");
    expect(calls).toMatchObject([{ method: "GetItem", input: { namespace: ["users", "ada"], key: "k", refreshTtl: false } }]);
  });

  it("returns a stored item", async () => {
    const { app } = await start((router) =>
      router.service(StoreService, {
        getItem: (req) => ({
          item: { namespace: req.namespace, key: req.key, valueJson: jsonBytes({ v: 1 }), createTime: ts, updateTime: ts },
        }),
      }),
    );
    const res = await app.inject({ method: "GET", url: "/store/items?key=k&namespace=a&namespace=b" });
    expect(res.json()).toEqual({
      namespace: ["a", "b"],
      key: "k",
      value: { v: 1 },
      created_at: "2024-06-25T17:10:33.000000+00:00",
      updated_at: "2024-06-25T17:10:33.000000+00:00",
    });
  });

  it("passes graph JSON through untouched", async () => {
    const { app } = await start((router) =>
      router.service(AssistantService, { getAssistantGraph: () => ({ graphJson: jsonBytes({ nodes: [], edges: [] }) }) }),
    );
    const res = await app.inject({ method: "GET", url: "/assistants/agent/graph?xray=true" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ nodes: [], edges: [] });
  });
});

describe("system", () => {
  it("answers /ok without asking the api-server", async () => {
    const { app, calls } = await start();
    const res = await app.inject({ method: "GET", url: "/ok" });
    expect(res.json()).toEqual({ ok: true });
    expect(calls).toEqual([]);
  });

  it("checks the api-server's health with check_db", async () => {
    let status = HealthCheckResponse_ServingStatus.SERVING;
    const { app } = await start((router) => router.service(Health, { check: () => ({ status }), watch: async function* () {} }));
    expect((await app.inject({ method: "GET", url: "/ok?check_db=1" })).statusCode).toBe(200);
    status = HealthCheckResponse_ServingStatus.NOT_SERVING;
    const down = await app.inject({ method: "GET", url: "/ok?check_db=1" });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toEqual({ detail: "api-server is not serving (health status NOT_SERVING)" });
  });

  it("describes the server on /info", async () => {
    const { app } = await start();
    const res = await app.inject({ method: "GET", url: "/info" });
    expect(res.json()).toEqual({
      version: "1.2.3",
      context: "js",
      flags: { assistants: true, crons: true, langsmith: false, langsmith_tracing_replicas: false },
      metadata: {},
    });
  });

  it("exposes the pagination and location headers to browsers", async () => {
    const { app } = await start();
    const res = await app.inject({ method: "GET", url: "/ok", headers: { origin: "http://localhost:3000" } });
    expect(res.headers["access-control-expose-headers"]).toBe(
      "X-Pagination-Total, X-Pagination-Next, Content-Location, Location, X-Request-Id",
    );
  });
});
