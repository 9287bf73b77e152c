import { createRouterTransport, type Transport } from "@connectrpc/connect";
import { createLogger } from "@langopen/common";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { buildApp } from "../../app.js";

/** The RPC methods the gateway called. */
function recording(inner: Transport): { transport: Transport; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    transport: {
      unary(method, ...rest) {
        calls.push(method.name);
        return inner.unary(method, ...rest);
      },
      stream(method, ...rest) {
        calls.push(method.name);
        return inner.stream(method, ...rest);
      },
    },
  };
}

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function start() {
  const { transport, calls } = recording(createRouterTransport(() => {}));
  app = await buildApp({ logger: createLogger({ service: "mcp-test", level: "silent" }), transport });
  return { app, calls };
}

const post = (instance: FastifyInstance, url: string, payload: string, headers: Record<string, string> = {}) =>
  instance.inject({ method: "POST", url, payload, headers: { "content-type": "application/json", ...headers } });

describe("/mcp", () => {
  it("refuses invalid JSON, other methods and a session end without calling anything", async () => {
    const { app, calls } = await start();
    const invalid = await post(app, "/mcp", "{oops", { accept: "application/json, text/event-stream" });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700 } });
    expect((await app.inject({ method: "GET", url: "/mcp/" })).statusCode).toBe(405);
    expect((await app.inject({ method: "DELETE", url: "/mcp" })).statusCode).toBe(404);
    const notAcceptable = await post(app, "/mcp", '{"jsonrpc":"2.0","id":1,"method":"tools/list"}', {
      accept: "application/json",
    });
    expect(notAcceptable.statusCode).toBe(406);
    expect(calls).toEqual([]);
  });
});
