// Custom routes as LangGraph users write them: a Hono app named by `http.app` of langgraph.json.
import { createHash } from "node:crypto";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { streamSSE } from "hono/streaming";

/** Streams held open until the test releases them, by id: proves events reach the client live. */
const gates = new Map();
/** Webhook bodies received (a run's webhook given as the path "/custom/webhook"), by run id. */
const hooks = new Map();

export const app = new Hono()
  .get("/custom/my-route", (c) =>
    c.json({ foo: "bar", host: c.req.header("host") }, { headers: { "x-custom-output": c.req.header("x-custom-input") ?? "" } }),
  )
  .post("/custom/echo", async (c) => c.json({ received: await c.req.json(), method: c.req.method }, 201))
  .put("/custom/size", async (c) => {
    const hash = createHash("sha256");
    let bytes = 0;
    for await (const chunk of c.req.raw.body ?? []) {
      bytes += chunk.byteLength;
      hash.update(chunk);
    }
    return c.json({ bytes, sha256: hash.digest("hex") });
  })
  .get("/custom/headers", (c) => c.body("ok", 200, { "x-kept": "yes", "x-hop": "1", connection: "x-hop", "set-cookie": "a=1" }))
  .get("/custom/cookies", (c) => {
    c.header("set-cookie", "a=1; Path=/", { append: true });
    c.header("set-cookie", "b=2; Path=/", { append: true });
    return c.text("two cookies");
  })
  .get("/custom/streaming/:id", (c) =>
    streamSSE(c, async (stream) => {
      await stream.writeSSE({ event: "first", data: "1" });
      await new Promise((resolve) => {
        gates.set(c.req.param("id"), resolve);
        setTimeout(resolve, 20_000);
      });
      await stream.writeSSE({ event: "second", data: "2" });
    }),
  )
  .post("/custom/release/:id", (c) => {
    const release = gates.get(c.req.param("id"));
    gates.delete(c.req.param("id"));
    release?.();
    return c.json({ released: release !== undefined });
  })
  .post("/custom/webhook", async (c) => {
    const body = await c.req.json();
    hooks.set(body.run_id, { body, signature: c.req.header("x-langopen-signature") ?? null });
    return c.json({ status: "success" });
  })
  .get("/custom/webhook/:runId", (c) => c.json(hooks.get(c.req.param("runId")) ?? null))
  .get("/custom/http-error", () => {
    throw new HTTPException(400, { message: "Bad request" });
  })
  .get("/custom/slow", async (c) => {
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    return c.text("late");
  })
  .notFound((c) => c.json({ status: "not-found" }, 404))
  // Hono's default prints the error; a client that went away mid-body is expected in these tests.
  .onError((err, c) => (err instanceof HTTPException ? err.getResponse() : c.json({ detail: "app failed" }, 500)));

/** Not a Hono app: a plain object with fetch, which throws for one path. */
export const plain = {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/custom/throw") throw new Error("secret internal detail");
    return new Response(JSON.stringify({ plain: true, path: url.pathname }), {
      headers: { "content-type": "application/json" },
    });
  },
};
