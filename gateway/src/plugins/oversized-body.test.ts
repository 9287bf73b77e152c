import net, { type AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import { Worker } from "node:worker_threads";
import { createRouterTransport } from "@connectrpc/connect";
import { createLogger } from "@langopen/common";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { buildApp } from "../app.js";
import { DEFAULT_OVERSIZED_BODY_DRAIN, drainRequestBody, type OversizedBodyDrain } from "./oversized-body.js";

const MiB = 1024 * 1024;
const ts = { seconds: 1719335433n, nanos: 0 };

let app: FastifyInstance | undefined;
let worker: Worker | undefined;
afterEach(async () => {
  await worker?.terminate();
  worker = undefined;
  await app?.close();
  app = undefined;
});

/** The gateway on a real loopback port, in front of a stand-in api-server that creates assistants. */
async function listen(bodyLimitBytes: number, oversizedBodyDrain?: Partial<OversizedBodyDrain>) {
  const transport = createRouterTransport((router) =>
    router.service(AssistantService, {
      createAssistant: (req) => ({
        assistant: {
          assistantId: "0190b3c2-8c4f-7000-8000-00000000000a",
          graphId: req.graphId,
          version: 1,
          createTime: ts,
          updateTime: ts,
        },
      }),
    }),
  );
  app = await buildApp({
    logger: createLogger({ service: "oversized-body-test", level: "silent" }),
    transport,
    bodyLimitBytes,
    oversizedBodyDrain,
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { port, apiUrl: `http://127.0.0.1:${port}` };
}

interface ThreadError {
  name?: string;
  message: string;
  status?: number;
  text?: string;
  cause?: string;
}

type ThreadAnswer<T> = { ok: true; value: T } | { ok: false; error: ThreadError };

interface FetchAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** The official SDK client (and fetch) on a thread of its own: see test-fixtures/sdk-client-worker.mjs. */
function clientThread(apiUrl: string) {
  worker = new Worker(new URL("../test-fixtures/sdk-client-worker.mjs", import.meta.url), { workerData: { apiUrl } });
  const thread = worker;
  let next = 0;
  const ask = <T>(message: object) =>
    new Promise<ThreadAnswer<T>>((resolve, reject) => {
      const id = next++;
      const onMessage = ({ id: answered, ...answer }: { id: number } & ThreadAnswer<T>) => {
        if (answered !== id) return;
        thread.off("message", onMessage);
        thread.off("error", reject);
        resolve(answer as ThreadAnswer<T>);
      };
      thread.on("message", onMessage);
      thread.once("error", reject);
      thread.postMessage({ id, ...message });
    });
  return {
    sdk: <T = unknown>(call: string, ...args: unknown[]) => ask<T>({ sdk: call, args }),
    fetch: (path: string, init: { method?: string; bodyBytes?: number } = {}) => ask<FetchAnswer>({ fetch: { path, ...init } }),
  };
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Reads one HTTP/1.1 response (with a Content-Length) from a socket. */
function readResponse(socket: net.Socket): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const done = (result: RawResponse | Error) => {
      socket.off("data", onData);
      socket.off("close", onClose);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [statusLine = "", ...lines] = buffered.subarray(0, end).toString("latin1").split("\r\n");
      const headers = Object.fromEntries(
        lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]),
      );
      const length = Number(headers["content-length"] ?? 0);
      if (buffered.length < end + 4 + length) return;
      const body = buffered.subarray(end + 4, end + 4 + length).toString("utf8");
      done({ status: Number(statusLine.split(" ")[1]), headers, body });
    };
    const onClose = () => done(new Error("connection closed before a whole response"));
    socket.on("data", onData);
    socket.once("close", onClose);
  });
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  return socket;
}

const closed = (socket: net.Socket) =>
  new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once("close", () => resolve())));

const tooLarge = (limit: number) => ({ detail: `Request body is too large: the limit is ${limit} bytes` });

describe("a body over the limit, on a real connection", () => {
  it("reaches the official SDK as an HTTP 413 with the detail, and the gateway serves on", async () => {
    const { apiUrl } = await listen(1 * MiB);
    const client = clientThread(apiUrl);
    // Sent while the gateway already refused it: a client still uploading used to see its
    // connection closed (EPIPE) and the SDK reported "Unable to connect to LangGraph server".
    for (let attempt = 0; attempt < 3; attempt++) {
      const answer = await client.sdk("assistants.create", { graphId: "agent", metadata: { pad: "x".repeat(8 * MiB) } });
      expect(answer.ok, `attempt ${attempt}`).toBe(false);
      if (answer.ok) continue;
      expect(answer.error, `attempt ${attempt}`).toMatchObject({ status: 413, message: expect.stringMatching(/^HTTP 413: /) });
      expect(JSON.parse(answer.error.text ?? "")).toEqual(tooLarge(1 * MiB));
    }
    const after = await client.sdk<{ assistant_id: string; graph_id: string }>("assistants.create", { graphId: "agent" });
    expect(after).toEqual({ ok: true, value: expect.objectContaining({ graph_id: "agent" }) });
    expect(await client.fetch("/ok", { method: "GET" })).toMatchObject({ ok: true, value: { status: 200 } });
  }, 60_000);

  it("answers a plain fetch of 8 times the limit 413 with the JSON detail, on a connection kept open", async () => {
    const { apiUrl } = await listen(1 * MiB);
    const client = clientThread(apiUrl);
    for (let attempt = 0; attempt < 3; attempt++) {
      const answer = await client.fetch("/assistants", { bodyBytes: 8 * MiB });
      if (!answer.ok) throw new Error(`attempt ${attempt}: ${JSON.stringify(answer.error)}`);
      expect(answer.value.status).toBe(413);
      expect(answer.value.headers["content-type"]).toMatch(/^application\/json/);
      expect(answer.value.headers.connection).not.toBe("close");
      expect(JSON.parse(answer.value.text)).toEqual(tooLarge(1 * MiB));
    }
    expect(await client.fetch("/ok", { method: "GET" })).toMatchObject({ ok: true, value: { status: 200, text: '{"ok":true}' } });
  }, 60_000);

  it("reads the rest of a chunked body over the limit, then serves the next request on the same connection", async () => {
    const { port } = await listen(1024);
    const socket = await connect(port);
    const chunk = "x".repeat(1000);
    socket.write(
      "POST /assistants HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    socket.write(`6\r\n{"a":"\r\n`);
    for (let i = 0; i < 8; i++) socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    socket.write(`2\r\n"}\r\n0\r\n\r\n`);
    const refused = await readResponse(socket);
    expect(refused.status).toBe(413);
    expect(refused.headers.connection).not.toBe("close");
    expect(JSON.parse(refused.body)).toEqual(tooLarge(1024));
    socket.write("GET /ok HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const next = await readResponse(socket);
    expect(next.status).toBe(200);
    expect(JSON.parse(next.body)).toEqual({ ok: true });
    socket.destroy();
  });

  it("answers at once and closes the connection when the declared length is beyond what it drains", async () => {
    const { port } = await listen(1024, { maxBytes: 64 * 1024 });
    const socket = await connect(port);
    socket.write(
      "POST /assistants HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n",
    );
    const refused = await readResponse(socket);
    expect(refused.status).toBe(413);
    expect(refused.headers.connection).toBe("close");
    expect(JSON.parse(refused.body)).toEqual(tooLarge(1024));
    await closed(socket);
  });

  it("stops waiting for a body that does not come", async () => {
    const { port } = await listen(1024, { timeoutMs: 200 });
    const socket = await connect(port);
    const started = Date.now();
    socket.write(
      "POST /assistants HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{",
    );
    const refused = await readResponse(socket);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(refused.status).toBe(413);
    expect(refused.headers.connection).toBe("close");
    await closed(socket);
  });
});

describe("drainRequestBody", () => {
  const limits = { maxBytes: 100, timeoutMs: 1000 };

  it("reads a body to its end and keeps nothing", async () => {
    const body = new PassThrough();
    const drained = drainRequestBody(body, limits);
    body.write("x".repeat(60));
    body.end("y".repeat(30));
    expect(await drained).toEqual({ complete: true, bytes: 90 });
    expect(body.readableLength).toBe(0);
  });

  it("gives up past the byte bound, and at once on a declared length past it", async () => {
    const body = new PassThrough();
    const drained = drainRequestBody(body, limits);
    body.write("x".repeat(101));
    expect(await drained).toEqual({ complete: false, bytes: 101, reason: "too-large" });
    const declared = Object.assign(new PassThrough(), { headers: { "content-length": "101" } });
    expect(await drainRequestBody(declared, limits)).toEqual({ complete: false, bytes: 0, reason: "too-large" });
  });

  it("gives up past the time bound, and when the client goes away", async () => {
    expect(await drainRequestBody(new PassThrough(), { ...limits, timeoutMs: 20 })).toEqual({
      complete: false,
      bytes: 0,
      reason: "timeout",
    });
    const body = new PassThrough();
    const drained = drainRequestBody(body, limits);
    body.write("xy");
    setImmediate(() => body.destroy());
    expect(await drained).toEqual({ complete: false, bytes: 2, reason: "aborted" });
  });

  it("has bounds that let a body of several times the default limit through", () => {
    expect(DEFAULT_OVERSIZED_BODY_DRAIN.maxBytes).toBeGreaterThanOrEqual(64 * MiB);
    expect(DEFAULT_OVERSIZED_BODY_DRAIN.timeoutMs).toBeGreaterThan(0);
  });
});
