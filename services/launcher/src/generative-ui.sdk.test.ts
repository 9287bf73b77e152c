// Generative UI as LangGraph.js projects use it (test-fixtures/generative-ui): components named in `ui` of
// langgraph.json bundled at start and served as upstream serves them, what the SDK's React helpers fetch
// (`client["~ui"].getComponent`, then the files the HTML names), and the `ui` messages a graph pushes with typedUi.
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./test-fixtures/stack.js";

const PROJECT = fileURLToPath(new URL("./test-fixtures/generative-ui/langgraph.json", import.meta.url));

let stack: TestStack;
let alice: Client;

beforeAll(async () => {
  stack = await startTestStack(PROJECT);
  alice = new Client({ apiUrl: stack.url, defaultHeaders: { authorization: "Bearer token-alice" } });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${stack.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer token-alice", ...headers },
    body,
  });

describe("generative UI", () => {
  it("gives the SDK the HTML that loads a component, whose script and stylesheet it then fetches", async () => {
    const html = await alice["~ui"].getComponent("weather", "weather-component");
    const base = `http://${new URL(stack.url).host}/ui/weather`;
    expect(html).toContain(`<link rel="stylesheet" href="${base}/entrypoint.css" />`);
    expect(html).toContain(
      `<script src="${base}/entrypoint.js" onload='__LGUI_weather.render("weather-component", "{{shadowRootId}}")'></script>`,
    );

    // The page loads them with plain tags: no credentials.
    const js = await fetch(`${base}/entrypoint.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toMatch(/^text\/javascript/);
    const code = await js.text();
    // React and the SDK come from the page, through the hook the SDK's loader installs.
    expect(code).toContain(`globalThis[Symbol.for("LGUI_REQUIRE")]`);
    expect(code).toContain("Weather for");
    expect(code).toContain("__LGUI_weather");
    const css = await fetch(`${base}/entrypoint.css`);
    expect(css.headers.get("content-type")).toMatch(/^text\/css/);
    expect(await css.text()).toContain(".weather");
  });

  it("asks for a user for a component's HTML, not for its files", async () => {
    const anonymous = await fetch(`${stack.url}/ui/weather`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "weather-component" }),
    });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ detail: "Invalid token" });
    expect((await fetch(`${stack.url}/ui/weather/entrypoint.js`)).status).toBe(200);
  });

  it("answers 404 for an unknown namespace or file, and 422 for a body without a name", async () => {
    await expect(alice["~ui"].getComponent("no-such-ui", "none")).rejects.toThrow();
    const unknown = await post("/ui/no-such-ui", JSON.stringify({ name: "x" }));
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ detail: 'UI not found for "no-such-ui"' });
    const missing = await fetch(`${stack.url}/ui/weather/nothing.js`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ detail: "File not found: nothing.js" });
    expect((await fetch(`${stack.url}/ui/weather/..%2F..%2Fui.tsx`)).status).toBe(404);
    for (const body of ["{not json", "{}", JSON.stringify({ name: 3 }), "[]"]) {
      const bad = await post("/ui/weather", body);
      expect(bad.status, body).toBe(422);
      expect(await bad.json()).toEqual({ detail: 'The body must be JSON: {"name": "<component>"}' });
    }
  });

  it("keeps a component name inside its attribute, whatever it holds", async () => {
    const name = `x' onerror='alert(1)"><script>alert(2)</script>`;
    const got = await post("/ui/weather", JSON.stringify({ name }));
    expect(got.status).toBe(200);
    const html = await got.text();
    expect(html).not.toContain("' onerror='");
    expect(html).not.toContain("<script>alert");
    const onload = /onload='([^']*)'/.exec(html)?.[1] ?? "";
    const decoded = onload.replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
    expect(decoded).toBe(`__LGUI_weather.render(${JSON.stringify(name)}, "{{shadowRootId}}")`);
  });

  it("streams the UI messages a graph pushes and keeps them in its state", async () => {
    const thread = await alice.threads.create();
    const custom: unknown[] = [];
    let values: { ui?: Array<Record<string, unknown>> } = {};
    for await (const chunk of alice.runs.stream(thread.thread_id, "weather", {
      input: { city: "Lisbon" },
      streamMode: ["custom", "values"],
    })) {
      if (chunk.event === "custom") custom.push(chunk.data);
      if (chunk.event === "values") values = chunk.data as typeof values;
    }
    expect(custom).toEqual([expect.objectContaining({ type: "ui", name: "weather-component", props: { city: "Lisbon" } })]);
    const pushed = custom[0] as { id: string; metadata: { run_id: string } };
    expect(pushed.metadata.run_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(values.ui).toEqual([expect.objectContaining({ id: pushed.id, name: "weather-component" })]);
    const state = await alice.threads.getState<typeof values>(thread.thread_id);
    expect(state.values.ui?.[0]).toMatchObject({ type: "ui", id: pushed.id, props: { city: "Lisbon" } });
  });
});
