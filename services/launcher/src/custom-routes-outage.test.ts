// The gateway's custom routes when the runtime serving them is down or slow: an honest 503 naming
// it, and 504 when the app does not start its answer in time. A real runtime, the gateway alone.
import { fileURLToPath } from "node:url";
import { createLogger, createRpcTransport, freePort } from "@langopen/common";
import { buildApp } from "@langopen/gateway";
import { type Runtime, startRuntime } from "@langopen/runtime-runner";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";

const PROJECT = fileURLToPath(new URL("./test-fixtures/custom-routes/langgraph.json", import.meta.url));
const logger = createLogger({ service: "test", level: "silent" });

let app: FastifyInstance | undefined;
let runtime: Runtime | undefined;
afterEach(async () => {
  await app?.close();
  await runtime?.stop(0);
  app = undefined;
  runtime = undefined;
});

async function gateway(runtimeUrl: string, headTimeoutMs?: number): Promise<FastifyInstance> {
  const transport = createRpcTransport(runtimeUrl);
  return buildApp({
    logger,
    // No API call is made here: the api-server's transport may point anywhere.
    transport,
    http: { app: "./app.mjs:app" },
    httpAppTransport: transport,
    customRouteHeadTimeoutMs: headTimeoutMs,
  });
}

describe("custom routes without their runtime", () => {
  it("answers 503 naming the runtime when it cannot be reached, and still answers built-in routes", async () => {
    app = await gateway(`http://127.0.0.1:${await freePort()}`);
    const res = await app.inject({ method: "GET", url: "/custom/my-route" });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ detail: "runtime (custom routes) is unavailable" });
    const posted = await app.inject({ method: "POST", url: "/custom/echo", payload: { a: 1 } });
    expect(posted.statusCode).toBe(503);
    expect((await app.inject({ method: "GET", url: "/ok" })).statusCode).toBe(200);
  });

  it("answers 504 when the app does not start its answer within the head timeout", async () => {
    const port = await freePort();
    runtime = await startRuntime(
      { configPath: PROJECT, host: "127.0.0.1", port, apiServerUrl: `http://127.0.0.1:${await freePort()}` },
      logger,
    );
    app = await gateway(runtime.rpc.url, 300);
    const res = await app.inject({ method: "GET", url: "/custom/slow" });
    expect(res.statusCode).toBe(504);
    expect(res.json()).toEqual({ detail: expect.stringMatching(/did not answer/) });
    // The runtime itself is fine: a quick route answers.
    expect((await app.inject({ method: "GET", url: "/custom/my-route" })).statusCode).toBe(200);
  });
});
