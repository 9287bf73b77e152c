import http from "node:http";
import { type ConnectRouter, createRouterTransport, type HandlerContext } from "@connectrpc/connect";
import { createLogger, jsonBytes, notFound } from "@langopen/common";
import { type StreamThreadRequest, ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { buildApp } from "../../app.js";

// GET /threads/{thread_id}/stream over a real socket, against a stand-in ThreadService.

const logger = createLogger({ service: "gateway-test", level: "silent" });
const THREAD = "0190b3c2-8c4f-7000-8000-000000000001";

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function serve(streamThread: (req: StreamThreadRequest, ctx: HandlerContext) => AsyncIterable<object>): Promise<string> {
  const routes = (router: ConnectRouter) => router.service(ThreadService, { streamThread });
  app = await buildApp({ logger, transport: createRouterTransport(routes) });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return `http://127.0.0.1:${address.port}`;
}

const event = (id: string, name: string, data: unknown) => ({ event: { id, event: name, dataJson: jsonBytes(data) } });

async function readUntil(res: Response, until: (body: string) => boolean): Promise<string> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let body = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return body;
    body += decoder.decode(value, { stream: true });
    if (until(body)) {
      await reader.cancel();
      return body;
    }
  }
}

describe("GET /threads/{thread_id}/stream", () => {
  it("relays the events of every run, past each run's end, with Location and the asked modes", async () => {
    const asked: StreamThreadRequest[] = [];
    const url = await serve(async function* (req) {
      asked.push(req);
      yield {};
      yield event("1-0", "metadata", { run_id: "a" });
      yield event("1-1", "end", { run_id: "a", status: "success" });
      yield event("2-0", "metadata", { run_id: "b" });
      yield event("2-1", "end", { run_id: "b", status: "success" });
    });
    const path = `/threads/${THREAD}/stream?stream_mode=lifecycle&stream_modes=${encodeURIComponent('["state_update","lifecycle"]')}`;
    const res = await fetch(`${url}${path}`, { headers: { "last-event-id": "1-0" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    expect(res.headers.get("location")).toBe(path);
    const body = await readUntil(res, (b) => b.includes("id: 2-1"));
    expect(body).toBe(
      [
        'event: metadata\ndata: {"run_id":"a"}\nid: 1-0\n\n',
        'event: end\ndata: {"run_id":"a","status":"success"}\nid: 1-1\n\n',
        'event: metadata\ndata: {"run_id":"b"}\nid: 2-0\n\n',
        'event: end\ndata: {"run_id":"b","status":"success"}\nid: 2-1\n\n',
      ].join(""),
    );
    expect(asked[0]).toMatchObject({ threadId: THREAD, lastEventId: "1-0", streamModes: ["lifecycle", "state_update"] });
  });

  it("takes comma-joined and repeated modes, and none", async () => {
    const asked: string[][] = [];
    const url = await serve(async function* (req) {
      asked.push(req.streamModes);
      yield {};
    });
    for (const query of ["stream_modes=run_modes,lifecycle", "stream_mode=state_update&stream_mode=run_modes", ""]) {
      const res = await fetch(`${url}/threads/${THREAD}/stream?${query}`);
      expect(res.status).toBe(200);
      await res.body?.cancel();
    }
    expect(asked).toEqual([["run_modes", "lifecycle"], ["state_update", "run_modes"], []]);
  });

  it("answers a failure before the first message as a plain JSON error, not as an event", async () => {
    const url = await serve(async function* (req) {
      if (req.threadId !== "") throw notFound("Thread", req.threadId);
      yield {};
    });
    const res = await fetch(`${url}/threads/${THREAD}/stream`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ detail: `Thread ${THREAD} not found` });
  });

  it("refuses unknown modes and bad ids with 422 without calling the api-server", async () => {
    let calls = 0;
    const url = await serve(async function* () {
      calls++;
      yield {};
    });
    for (const path of [
      `/threads/${THREAD}/stream?stream_mode=values`,
      `/threads/${THREAD}/stream?stream_modes=lifecycle&stream_modes=bogus`,
      `/threads/${THREAD}/stream?stream_modes=${encodeURIComponent('["run_modes",1]')}`,
      "/threads/nope/stream",
    ]) {
      const res = await fetch(`${url}${path}`);
      expect(res.status, path).toBe(422);
      expect(((await res.json()) as { detail: string }).detail).toMatch(/^Invalid (query|path) parameter/);
    }
    expect(calls).toBe(0);
  });

  it("ends the api-server call when the client leaves", async () => {
    let aborted: () => void = () => {};
    const gone = new Promise<void>((resolve) => (aborted = resolve));
    const url = await serve(async function* (_req, ctx) {
      ctx.signal.addEventListener("abort", () => aborted(), { once: true });
      yield {};
      yield event("1-0", "metadata", { run_id: "a" });
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
    });
    // A plain socket: fetch would keep a spare keep-alive connection that delays the close.
    const request = http.get(`${url}/threads/${THREAD}/stream`);
    const res = await new Promise<http.IncomingMessage>((resolve) => request.once("response", resolve));
    await new Promise<void>((resolve) => res.on("data", (chunk: Buffer) => chunk.toString().includes("id: 1-0") && resolve()));
    request.destroy();
    await gone;
  });
});
