// Custom routes (`http.app` of langgraph.json) as LangGraph users write them (test-fixtures/custom-routes/app.mjs,
// a Hono app), served on the public port by the runtime: JSON both ways, a live event stream, large bodies,
// the app's own 404 and errors, headers, and auth as langgraph.json asks.
import { createHash } from "node:crypto";
import { request as httpRequest } from "node:http";
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./test-fixtures/stack.js";

const PROJECT = fileURLToPath(new URL("./test-fixtures/custom-routes/langgraph.json", import.meta.url));
const AUTHED_PROJECT = fileURLToPath(new URL("./test-fixtures/custom-routes/authed/langgraph.json", import.meta.url));
const BODY_LIMIT = 2 * 1024 * 1024;

let stack: TestStack;
let authed: TestStack;

beforeAll(async () => {
  // One runtime process: the streaming test releases, by a second request, a stream that process holds.
  stack = await startTestStack(PROJECT, { launcher: { bodyLimitBytes: BODY_LIMIT, runtimeProcesses: 1 } });
  authed = await startTestStack(AUTHED_PROJECT);
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  await authed?.stop();
});

const raw = (path: string, init: RequestInit = {}) => fetch(`${stack.url}${path}`, init);

/** A request with headers fetch will not send (Host, Connection). */
function rawHttp(path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = httpRequest(new URL(path, stack.url), { headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error("timed out")));
    req.end();
  });
}

describe("custom routes", () => {
  it("answers GET and POST with the app's JSON, status and headers", async () => {
    const got = await raw("/custom/my-route", { headers: { "x-custom-input": "hello" } });
    expect(got.status).toBe(200);
    expect(got.headers.get("x-custom-output")).toBe("hello");
    expect(got.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(await got.json()).toEqual({ foo: "bar", host: new URL(stack.url).host });

    const posted = await raw("/custom/echo", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ nested: { list: [1, 2, 3] }, text: "é" }),
    });
    expect(posted.status).toBe(201);
    expect(await posted.json()).toEqual({ received: { nested: { list: [1, 2, 3] }, text: "é" }, method: "POST" });
  });

  it("streams an SSE answer to the client as the app writes it", async () => {
    const id = crypto.randomUUID();
    // The app holds its second event until released: the first can only arrive if nothing buffers.
    const res = await raw(`/custom/streaming/${id}`, { signal: AbortSignal.timeout(15_000) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    for (let i = 0; i < 50 && !text.includes("data: 1"); i++) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    expect(text).toContain("event: first");
    expect(text).not.toContain("event: second");
    expect(await (await raw(`/custom/release/${id}`, { method: "POST" })).json()).toEqual({ released: true });
    for (let i = 0; i < 50; i++) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    expect(text).toContain("event: second");
  });

  it("streams a large request body up to the app, and refuses one over the body limit with 413", async () => {
    const body = Buffer.alloc(BODY_LIMIT - 1024, 7);
    body.write("start", 0);
    const res = await raw("/custom/size", { method: "PUT", body });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ bytes: body.byteLength, sha256: createHash("sha256").update(body).digest("hex") });

    const declared = await raw("/custom/size", { method: "PUT", body: Buffer.alloc(BODY_LIMIT + 1) });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual({ detail: expect.stringMatching(/too large|exceeds|limit/i) });

    // Chunked, with no length given up front: cut off at the limit all the same.
    const chunk = Buffer.alloc(256 * 1024, 1);
    let sent = 0;
    const streamed = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= BODY_LIMIT * 2) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const chunked = await raw("/custom/size", { method: "PUT", body: streamed, duplex: "half" } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it("sends a run's webhook given as a path to the project's custom route, as upstream", async () => {
    const alice = new Client({ apiUrl: stack.url, defaultHeaders: { authorization: "Bearer token-alice" } });
    const thread = await alice.threads.create();
    const run = await alice.runs.create(thread.thread_id, "agent", { input: {}, webhook: "/custom/webhook" });
    await alice.runs.join(thread.thread_id, run.run_id);
    type Received = { body: { run_id: string; thread_id: string; status: string } } | null;
    const received = async () => (await (await raw(`/custom/webhook/${run.run_id}`)).json()) as Received;
    let got = await received();
    for (let i = 0; i < 100 && got === null; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      got = await received();
    }
    expect(got?.body).toMatchObject({ run_id: run.run_id, thread_id: thread.thread_id, status: "success" });
  });

  it("answers the app's own 404 for paths it does not know, and its HTTPException status", async () => {
    const missing = await raw("/custom/nope");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ status: "not-found" });
    const bad = await raw("/custom/http-error");
    expect(bad.status).toBe(400);
    expect(await bad.text()).toBe("Bad request");
  });

  it("drops hop-by-hop headers and passes each set-cookie", async () => {
    const res = await raw("/custom/headers");
    expect(res.headers.get("x-kept")).toBe("yes");
    expect(res.headers.get("x-hop")).toBeNull();
    const cookies = await raw("/custom/cookies");
    expect(cookies.headers.getSetCookie()).toEqual(["a=1; Path=/", "b=2; Path=/"]);
  });

  it("applies the Host and Origin checks to custom routes", async () => {
    expect((await rawHttp("/custom/my-route", { host: "evil.example" })).status).toBe(403);
    const cross = await raw("/custom/my-route", { headers: { origin: "https://evil.example" } });
    expect(cross.status).toBe(403);
  });

  it("does not pass a request header that Connection names to the app", async () => {
    const seen = await rawHttp("/custom/my-route", { connection: "keep-alive, x-custom-input", "x-custom-input": "hop" });
    expect(seen.status).toBe(200);
    expect(JSON.parse(seen.body)).toMatchObject({ foo: "bar" });
    expect(seen.headers["x-custom-output"]).toBe("");
  });

  it("leaves custom routes open when enable_custom_route_auth is not set, and the API's routes authenticated", async () => {
    expect((await raw("/custom/my-route")).status).toBe(200);
    const search = await raw("/threads/search", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(search.status).toBe(401);
    // Built-in routes still answer as before.
    expect((await raw("/ok")).status).toBe(200);
    const alice = new Client({ apiUrl: stack.url, defaultHeaders: { Authorization: "Bearer token-alice" } });
    const thread = await alice.threads.create();
    expect((await alice.threads.get(thread.thread_id)).thread_id).toBe(thread.thread_id);
  });
});

describe("custom routes with enable_custom_route_auth, from a plain fetch app", () => {
  const at = (path: string, init: RequestInit = {}) => fetch(`${authed.url}${path}`, init);

  it("authenticates custom routes as every other route", async () => {
    const anonymous = await at("/custom/anything");
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ detail: "Invalid token" });
    const res = await at("/custom/anything", { headers: { Authorization: "Bearer token-alice" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ plain: true, path: "/custom/anything" });
  });

  it("answers 500 in the error shape, without the app's error, when the app throws", async () => {
    const res = await at("/custom/throw", { headers: { Authorization: "Bearer token-alice" } });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ detail: "Internal Server Error" });
    expect(text).not.toContain("secret");
  });
});
