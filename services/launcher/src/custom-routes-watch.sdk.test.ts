// Custom routes under `npm start -- --watch`: the reload proxy forwards HttpAppService calls, body
// streamed up and answer streamed down, as the runtime serves them directly.
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./test-fixtures/stack.js";

const PROJECT = fileURLToPath(new URL("./test-fixtures/custom-routes/langgraph.json", import.meta.url));

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack(PROJECT, { launcher: { watch: true, runtimeProcesses: 1 } });
}, 120_000);
afterAll(() => stack?.stop());

describe("custom routes through the reload proxy", () => {
  it("answers JSON, a streamed request body and a live event stream", async () => {
    const got = await fetch(`${stack.url}/custom/my-route`, { headers: { "x-custom-input": "via proxy" } });
    expect(got.status).toBe(200);
    expect(got.headers.get("x-custom-output")).toBe("via proxy");

    const body = Buffer.alloc(1024 * 1024, 3);
    const sized = await fetch(`${stack.url}/custom/size`, { method: "PUT", body });
    expect(await sized.json()).toEqual({ bytes: body.byteLength, sha256: createHash("sha256").update(body).digest("hex") });

    const id = crypto.randomUUID();
    const res = await fetch(`${stack.url}/custom/streaming/${id}`, { signal: AbortSignal.timeout(15_000) });
    const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    for (let i = 0; i < 50 && !text.includes("data: 1"); i++) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    expect(text).toContain("event: first");
    expect(await (await fetch(`${stack.url}/custom/release/${id}`, { method: "POST" })).json()).toEqual({ released: true });
    for (let i = 0; i < 50; i++) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    expect(text).toContain("event: second");
  });
});
