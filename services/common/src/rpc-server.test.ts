import { Writable } from "node:stream";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { WebhookService } from "@langopen/gen/langopen/data/v1/webhook_service_pb";
import { type Logger, pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createInProcessTransport, recordRoutes } from "./in-process-transport.js";
import { createRpcTransport } from "./rpc-client.js";
import {
  type RpcServer,
  requestContext,
  requestLogger,
  requestScopeKey,
  serverInterceptors,
  startRpcServer,
} from "./rpc-server.js";

type Line = Record<string, unknown>;

/** A debug logger whose JSON lines land in `lines` (pino's output, through a destination stream). */
function capture(service: string): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const text of String(chunk).split("\n")) if (text) lines.push(JSON.parse(text) as Line);
      done();
    },
  });
  return { logger: pino({ level: "debug", base: { service } }, destination), lines };
}

const servers: RpcServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close(100);
});

/**
 * Two services as the api-server and the runtime are: "front" logs through its request's logger
 * and calls "back" with its context values; "back" logs through its own.
 */
async function twoServices() {
  const back = capture("back");
  const front = capture("front");
  const backServer = await startRpcServer({
    host: "127.0.0.1",
    port: 0,
    logger: back.logger,
    services: [WebhookService],
    routes: (router) =>
      router.service(WebhookService, {
        async listWebhookDeliveries(req, ctx) {
          if (req.runId === "boom") throw new Error("secret detail");
          requestLogger(ctx.values, back.logger).info({ run_id: req.runId }, "Listed webhook deliveries");
          return {};
        },
      }),
  });
  servers.push(backServer);
  const backClient = createClient(WebhookService, createRpcTransport(backServer.url));
  const frontServer = await startRpcServer({
    host: "127.0.0.1",
    port: 0,
    logger: front.logger,
    services: [WebhookService],
    routes: (router) =>
      router.service(WebhookService, {
        async listWebhookDeliveries(req, ctx) {
          requestLogger(ctx.values, front.logger).info({ run_id: req.runId }, "Asked the back for deliveries");
          return backClient.listWebhookDeliveries(req, { contextValues: ctx.values, signal: ctx.signal });
        },
      }),
  });
  servers.push(frontServer);
  return { front, back, client: createClient(WebhookService, createRpcTransport(frontServer.url)) };
}

const byMessage = (lines: Line[], msg: string) => lines.filter((l) => l.msg === msg);

describe("request ids", () => {
  it("reads x-request-id, logs it on every line of the request and forwards it on outbound calls", async () => {
    const { front, back, client } = await twoServices();
    await client.listWebhookDeliveries({ runId: "r1" }, { headers: { "x-request-id": "abc" } });

    const scope = { request_id: "abc", rpc_service: "langopen.data.v1.WebhookService", rpc_method: "ListWebhookDeliveries" };
    // The handler's own lines and the edge's line per answered RPC, on both sides.
    expect(byMessage(front.lines, "Asked the back for deliveries")).toEqual([
      expect.objectContaining({ ...scope, run_id: "r1" }),
    ]);
    expect(byMessage(front.lines, "Answered RPC")).toEqual([expect.objectContaining(scope)]);
    expect(byMessage(back.lines, "Listed webhook deliveries")).toEqual([expect.objectContaining({ ...scope, run_id: "r1" })]);
    expect(byMessage(back.lines, "Answered RPC")).toEqual([expect.objectContaining(scope)]);
  });

  it("makes an id for a request that comes without one (or with one unfit to log), the same on both sides", async () => {
    const { front, back, client } = await twoServices();
    await client.listWebhookDeliveries({ runId: "r2" });
    await client.listWebhookDeliveries({ runId: "r3" }, { headers: { "x-request-id": "x".repeat(300) } });
    for (const runId of ["r2", "r3"]) {
      const [asked] = front.lines.filter((l) => l.run_id === runId);
      const [listed] = back.lines.filter((l) => l.run_id === runId);
      expect(asked?.request_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(listed?.request_id).toBe(asked?.request_id);
    }
  });

  it("logs an unexpected error with the request id and answers INTERNAL without its detail", async () => {
    const { front, back, client } = await twoServices();
    const err = await client
      .listWebhookDeliveries({ runId: "boom" }, { headers: { "x-request-id": "abc" } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Internal);
    expect((err as ConnectError).rawMessage).toBe("internal error");
    expect(byMessage(back.lines, "Failed RPC with unexpected error")).toEqual([
      expect.objectContaining({
        request_id: "abc",
        rpc_method: "ListWebhookDeliveries",
        err: expect.objectContaining({ message: "secret detail" }),
      }),
    ]);
    // The front passed the back's INTERNAL on: logged there too, with the same id.
    expect(byMessage(front.lines, "Failed RPC")).toEqual([expect.objectContaining({ request_id: "abc" })]);
  });

  it("in process: takes the caller's id from its context values and leaves the caller's values as they were", async () => {
    const { logger, lines } = capture("in-process");
    const routes = recordRoutes((router) =>
      router.service(WebhookService, {
        async listWebhookDeliveries(_req, ctx) {
          requestLogger(ctx.values, logger).info("Handled in process");
          return {};
        },
      }),
    );
    const client = createClient(WebhookService, createInProcessTransport({ routes, interceptors: serverInterceptors(logger) }));
    const values = requestContext("run-7", logger);
    const callerScope = values.get(requestScopeKey);
    await client.listWebhookDeliveries({}, { contextValues: values });
    expect(byMessage(lines, "Handled in process")).toEqual([
      expect.objectContaining({ request_id: "run-7", rpc_method: "ListWebhookDeliveries" }),
    ]);
    expect(values.get(requestScopeKey)).toBe(callerScope);
  });
});

describe("nesting", () => {
  it("carries JSON in Structs as deep as the public API accepts, both ways, over HTTP/2", async () => {
    const { ThreadService } = await import("@langopen/gen/langopen/data/v1/thread_service_pb");
    const { MAX_JSON_DEPTH } = await import("./rpc-server.js");
    const server = await startRpcServer({
      host: "127.0.0.1",
      port: 0,
      logger: pino({ level: "silent" }),
      services: [ThreadService],
      routes: (router) =>
        router.service(ThreadService, {
          updateThread: (req) => ({ thread: { threadId: req.threadId, metadata: req.metadata } }),
        }),
    });
    servers.push(server);
    const client = createClient(ThreadService, createRpcTransport(server.url));
    let deep: Record<string, unknown> = { leaf: true };
    // The object holding `leaf` is level 1; the metadata itself is the outermost level.
    for (let i = 1; i < MAX_JSON_DEPTH - 1; i++) deep = { d: deep };
    const res = await client.updateThread({ threadId: "t", metadata: { d: deep } as never });
    expect(JSON.stringify(res.thread?.metadata)).toBe(JSON.stringify({ d: deep }));
  });
});

describe("a call whose HTTP/2 stream the peer refuses", () => {
  it("fails Unavailable (retry-safe, a 503 to the caller's client), never Internal", async () => {
    const http2 = await import("node:http2");
    // A peer that is stopping: it refuses every new stream (RST_STREAM REFUSED_STREAM) unread.
    const peer = http2.createServer();
    const sessions = new Set<import("node:http2").ServerHttp2Session>();
    peer.on("session", (session) => sessions.add(session));
    peer.on("stream", (stream) => {
      stream.on("error", () => {});
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    });
    await new Promise<void>((resolve) => peer.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = peer.address() as { port: number };
      const client = createClient(WebhookService, createRpcTransport(`http://127.0.0.1:${port}`));
      for (let i = 0; i < 5; i++) {
        const err = await client.listWebhookDeliveries({}, { timeoutMs: 5_000 }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(ConnectError);
        expect((err as ConnectError).code).toBe(Code.Unavailable);
      }
    } finally {
      // close() waits for open sessions: the client's stays open for its idle timeout.
      const closed = new Promise((resolve) => peer.close(resolve));
      for (const session of sessions) session.destroy();
      await closed;
    }
  });
});
