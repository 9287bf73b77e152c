import type { FastifyInstance } from "fastify";
import { describe, expect, it } from "vitest";
import { standInGateway } from "../../test-fixtures/stand-in.js";

/** The RPC methods the gateway called. */
const start = standInGateway("mcp-route-test");

const post = (instance: FastifyInstance, url: string, payload: string, headers: Record<string, string> = {}) =>
  instance.inject({ method: "POST", url, payload, headers: { "content-type": "application/json", ...headers } });

describe("/mcp", () => {
  it("refuses invalid JSON, other methods and a session end without calling anything", async () => {
    const { app, methods: calls } = await start();
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
