import http from "node:http";
import { Code, ConnectError, type ConnectRouter, createRouterTransport } from "@connectrpc/connect";
import { createIdleCollector, createLogger, internal, jsonBytes, notFound, unavailable } from "@langopen/common";
import { RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { buildApp } from "../app.js";
import { dataLine, encodeEvent, errorEvent, errorName, HEARTBEAT_FRAME } from "./sse.js";

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");
const utf8 = (s: string) => new TextEncoder().encode(s);

describe("encodeEvent", () => {
  it("writes event, data and id lines and a blank line", () => {
    expect(text(encodeEvent({ id: "1719-0", event: "values", dataJson: jsonBytes({ a: 1 }) }))).toBe(
      'event: values\ndata: {"a":1}\nid: 1719-0\n\n',
    );
  });

  it("leaves the id out when the event has none", () => {
    expect(text(encodeEvent({ id: "", event: "end", dataJson: utf8("null") }))).toBe("event: end\ndata: null\n\n");
  });

  it("keeps subgraph and legacy message event names as they are", () => {
    expect(text(encodeEvent({ id: "", event: "updates|child:6f1c", dataJson: utf8("{}") }))).toBe(
      "event: updates|child:6f1c\ndata: {}\n\n",
    );
    expect(text(encodeEvent({ id: "", event: "messages/partial", dataJson: utf8("[]") }))).toBe(
      "event: messages/partial\ndata: []\n\n",
    );
  });

  it("keeps every field on its line", () => {
    const frame = text(encodeEvent({ id: "7\r\n", event: "val\nues", dataJson: utf8('{\r\n  "a": "x\\ny"\n}') }));
    expect(frame).toBe('event: values\ndata: {    "a": "x\\ny" }\nid: 7\n\n');
    expect(JSON.parse(frame.split("\n")[1]?.slice("data: ".length) ?? "")).toEqual({ a: "x\ny" });
  });

  it("sends non-ASCII JSON untouched", () => {
    const data = utf8('{"text":"héllo ✓ \\u2028"}');
    expect(text(encodeEvent({ id: "", event: "custom", dataJson: data }))).toBe(
      'event: custom\ndata: {"text":"héllo ✓ \\u2028"}\n\n',
    );
  });
});

describe("dataLine", () => {
  it("passes clean bytes through without copying", () => {
    const bytes = jsonBytes({ ok: true });
    const line = dataLine(bytes);
    expect(line.buffer).toBe(bytes.buffer);
  });

  it("writes null for empty data", () => {
    expect(text(dataLine(new Uint8Array()))).toBe("null");
  });
});

describe("errorEvent", () => {
  it("names the error class-like and passes 4xx messages led by their status", () => {
    const frame = errorEvent(notFound("Run", "r1"));
    expect(frame?.event).toBe("error");
    expect(JSON.parse(text(frame?.dataJson ?? new Uint8Array()))).toEqual({
      error: "NotFoundError",
      message: "404: Run r1 not found",
    });
  });

  it("keeps internal details out", () => {
    const frame = errorEvent(new ConnectError('relation "runs" does not exist', Code.Internal));
    expect(JSON.parse(text(frame?.dataJson ?? new Uint8Array()))).toEqual({
      error: "InternalError",
      message: "Internal Server Error",
    });
    expect(JSON.parse(text(errorEvent(new TypeError("x is undefined"))?.dataJson ?? new Uint8Array()))).toEqual({
      error: "InternalError",
      message: "Internal Server Error",
    });
  });

  it("sends nothing for a stream the api-server refused (HTTP/2 REFUSED_STREAM, as Node raises it): the client reconnects", () => {
    const nodeError = Object.assign(new Error("Stream closed with error code NGHTTP2_REFUSED_STREAM"), {
      code: "ERR_HTTP2_STREAM_ERROR",
    });
    // As the Connect client wraps it: Internal, with Node's error as its cause.
    expect(errorEvent(new ConnectError(nodeError.message, Code.Internal, undefined, undefined, nodeError))).toBeUndefined();
    expect(errorEvent(nodeError)).toBeUndefined();
    // Another stream error of Node stays an internal failure.
    const other = Object.assign(new Error("Stream closed with error code NGHTTP2_INTERNAL_ERROR"), {
      code: "ERR_HTTP2_STREAM_ERROR",
    });
    expect(errorEvent(new ConnectError(other.message, Code.Internal, undefined, undefined, other))?.event).toBe("error");
  });

  it("sends nothing for a lost upstream or an interrupted call: the client reconnects", () => {
    expect(errorEvent(new ConnectError("server is shutting down", Code.Unavailable))).toBeUndefined();
    expect(errorEvent(unavailable("redis"))).toBeUndefined();
    expect(errorEvent(new ConnectError("stream reset", Code.Canceled))).toBeUndefined();
  });

  it.each([
    [Code.InvalidArgument, "InvalidArgumentError"],
    [Code.FailedPrecondition, "FailedPreconditionError"],
    [Code.DeadlineExceeded, "DeadlineExceededError"],
  ])("names code %i %s", (code, name) => {
    expect(errorName(code)).toBe(name);
  });
});

// The streaming behaviour over a real socket: headers before the first event, heartbeats,
// errors, client disconnects and shutdown.

const logger = createLogger({ service: "gateway-test", level: "silent" });
const THREAD = "0190b3c2-8c4f-7000-8000-000000000001";
const RUN = "0190b3c2-8c4f-7000-8000-000000000002";
const STREAM_URL = `/threads/${THREAD}/runs/${RUN}/stream`;

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function serve(routes: (router: ConnectRouter) => void, sseHeartbeatMs = 5_000): Promise<string> {
  app = await buildApp({ logger, transport: createRouterTransport(routes), sseHeartbeatMs });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return `http://127.0.0.1:${address.port}`;
}

function deferred<T = void>() {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const event = (id: string, name: string, data: unknown) => ({ event: { id, event: name, dataJson: jsonBytes(data) } });

/** Reads the body until it ends, or until `until` holds for what was read so far. */
async function read(res: Response, until?: (body: string) => boolean): Promise<string> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let body = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return body;
    body += decoder.decode(value, { stream: true });
    if (until?.(body)) {
      reader.releaseLock();
      return body;
    }
  }
}

describe("event streams", () => {
  it("counts each stream in the stream collector: a stream that leaves the process grown past the pressure collects at its end", async () => {
    let rss = 100 * 2 ** 20;
    let collections = 0;
    const streamCollector = createIdleCollector({
      logger,
      pressureBytes: 64 * 2 ** 20,
      rss: () => rss,
      gc: () => {
        collections++;
      },
    });
    const release = deferred();
    const streaming = deferred();
    app = await buildApp({
      logger,
      streamCollector,
      transport: createRouterTransport((router) =>
        router.service(RunService, {
          async *createAndStreamRun(req) {
            yield { kind: { case: "run", value: { runId: RUN, threadId: req.run?.threadId } } };
            streaming.resolve();
            await release.promise;
            yield { kind: { case: "event", value: event("1", "end", null).event } };
          },
        }),
      ),
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = app.server.address() as { port: number };
    const res = await fetch(`http://127.0.0.1:${port}/threads/${THREAD}/runs/stream`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ assistant_id: "agent" }),
    });
    await streaming.promise;
    // The stream's events grew the process by 200 MiB: nothing is collected while it is open.
    rss += 200 * 2 ** 20;
    expect(collections).toBe(0);
    release.resolve();
    expect(await read(res)).toContain("event: end");
    // The stream's end runs once the response is over: a moment after the client read it all.
    for (let i = 0; i < 500 && collections === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(collections).toBe(1);
  });

  it("sends the headers before the first event, then the frames, and ends after end", async () => {
    const release = deferred();
    const base = await serve((router) =>
      router.service(RunService, {
        async *createAndStreamRun(req) {
          yield { kind: { case: "run", value: { runId: RUN, threadId: req.run?.threadId } } };
          await release.promise;
          for (const e of [event("1", "metadata", { run_id: RUN }), event("2", "values", { n: 1 }), event("3", "end", null)]) {
            yield { kind: { case: "event", value: e.event } };
          }
        },
      }),
    );
    const res = await fetch(`${base}/threads/${THREAD}/runs/stream`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://localhost:3000" },
      body: JSON.stringify({ assistant_id: "agent" }),
    });
    // fetch resolved while the RPC had not produced anything yet.
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-accel-buffering")).toBe("no");
    expect(res.headers.get("content-location")).toBe(`/threads/${THREAD}/runs/${RUN}`);
    expect(res.headers.get("location")).toBe(`/threads/${THREAD}/runs/${RUN}/stream`);
    expect(res.headers.get("access-control-expose-headers")).toContain("Location");
    expect(res.headers.get("x-request-id")).toMatch(/.+/);
    release.resolve();
    expect(await read(res)).toBe(
      `event: metadata\ndata: {"run_id":"${RUN}"}\nid: 1\n\nevent: values\ndata: {"n":1}\nid: 2\n\nevent: end\ndata: null\nid: 3\n\n`,
    );
  });

  it("writes large events without copying them into a frame, byte for byte, between small ones", async () => {
    const big = "x".repeat(3 * 1024 * 1024);
    // Raw line breaks between tokens (pretty-printed JSON) become spaces, as in a small event.
    const pretty = utf8(`{\r\n "big": "${"é".repeat(100_000)}"\n}`);
    const base = await serve((router) =>
      router.service(RunService, {
        async *createAndStreamRun(req) {
          yield { kind: { case: "run", value: { runId: RUN, threadId: req.run?.threadId } } };
          for (const e of [
            event("1", "values", { big }),
            event("", "updates", { n: 1 }),
            { event: { id: "3", event: "values", dataJson: pretty } },
            event("4", "end", null),
          ]) {
            yield { kind: { case: "event", value: e.event } };
          }
        },
      }),
    );
    const res = await fetch(`${base}/threads/${THREAD}/runs/stream`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ assistant_id: "agent" }),
    });
    expect(await read(res)).toBe(
      `event: values\ndata: {"big":"${big}"}\nid: 1\n\nevent: updates\ndata: {"n":1}\n\n` +
        `event: values\ndata: {   "big": "${"é".repeat(100_000)}" }\nid: 3\n\nevent: end\ndata: null\nid: 4\n\n`,
    );
  });

  it("writes heartbeats while the stream is idle", async () => {
    const release = deferred();
    const base = await serve(
      (router) =>
        router.service(RunService, {
          async *streamRun() {
            await release.promise;
            yield event("1", "end", null);
          },
        }),
      20,
    );
    const res = await fetch(base + STREAM_URL);
    const body = await read(res, (b) => b.split(HEARTBEAT_FRAME.toString()).length > 2);
    expect(body).toBe(": heartbeat\n\n: heartbeat\n\n");
    release.resolve();
  });

  it("ends a failed stream with an error event", async () => {
    const base = await serve((router) =>
      router.service(RunService, {
        async *streamRun(req) {
          yield event("1", "metadata", { run_id: req.runId });
          throw notFound("Run", req.runId);
        },
      }),
    );
    const body = await read(await fetch(base + STREAM_URL));
    expect(body).toBe(
      `event: metadata\ndata: {"run_id":"${RUN}"}\nid: 1\n\nevent: error\ndata: {"error":"NotFoundError","message":"404: Run ${RUN} not found"}\n\n`,
    );
  });

  it("keeps internal failures generic", async () => {
    const base = await serve((router) =>
      router.service(RunService, {
        // biome-ignore lint/correctness/useYield: fails before its first event
        async *streamRun() {
          throw internal();
        },
      }),
    );
    expect(await read(await fetch(base + STREAM_URL))).toBe(
      'event: error\ndata: {"error":"InternalError","message":"Internal Server Error"}\n\n',
    );
  });

  it("closes without end or error when the upstream is lost, so that the client reconnects", async () => {
    const base = await serve((router) =>
      router.service(RunService, {
        async *streamRun() {
          yield event("5", "custom", 1);
          throw new ConnectError("server is shutting down", Code.Unavailable);
        },
      }),
    );
    expect(await read(await fetch(base + STREAM_URL))).toBe("event: custom\ndata: 1\nid: 5\n\n");
  });

  it("just closes when the upstream stream ends before end", async () => {
    const base = await serve((router) =>
      router.service(RunService, {
        async *streamRun() {
          yield event("5", "custom", 1);
        },
      }),
    );
    expect(await read(await fetch(base + STREAM_URL))).toBe("event: custom\ndata: 1\nid: 5\n\n");
  });

  it("aborts the RPC when the client goes away", async () => {
    const aborted = deferred<unknown>();
    const base = await serve((router) =>
      router.service(RunService, {
        async *streamRun(_req, ctx) {
          ctx.signal.addEventListener("abort", () => aborted.resolve(ctx.signal.reason));
          yield event("1", "metadata", {});
          await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
        },
      }),
    );
    // A plain socket: fetch would keep a spare keep-alive connection that delays the close.
    const request = http.get(base + STREAM_URL);
    const res = await new Promise<http.IncomingMessage>((resolve) => request.once("response", resolve));
    await new Promise<void>((resolve) => res.on("data", (chunk: Buffer) => chunk.toString().includes("id: 1") && resolve()));
    request.destroy();
    expect(await aborted.promise).toBeInstanceOf(ConnectError);
  });

  it("closes open streams without end when the gateway stops", async () => {
    const aborted = deferred();
    const base = await serve((router) =>
      router.service(RunService, {
        async *streamRun(_req, ctx) {
          ctx.signal.addEventListener("abort", () => aborted.resolve());
          yield event("1", "metadata", {});
          await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
          yield event("2", "end", null);
        },
      }),
    );
    const res = await fetch(base + STREAM_URL);
    const first = await read(res, (b) => b.includes("id: 1"));
    const closing = app?.close();
    const rest = await read(res);
    await closing;
    app = undefined;
    await aborted.promise;
    expect(first + rest).toBe("event: metadata\ndata: {}\nid: 1\n\n");
  });
});
