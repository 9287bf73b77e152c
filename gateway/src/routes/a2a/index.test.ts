import type { ConnectRouter } from "@connectrpc/connect";
import { notFound } from "@langopen/common";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import type { FastifyInstance } from "fastify";
import { describe, expect, it } from "vitest";
import { standInGateway } from "../../test-fixtures/stand-in.js";

const ASSISTANT = "0190b3c2-8c4f-7000-8000-0000000000a1";

/** The RPC methods the gateway called. */
const start = standInGateway("a2a-route-test");

const knownAssistant = (router: ConnectRouter) =>
  router.service(AssistantService, {
    getAssistant: (req) => {
      if (req.assistantId !== ASSISTANT) throw notFound("Assistant", req.assistantId);
      return { assistant: { assistantId: ASSISTANT, graphId: "agent", name: "agent", version: 1 } };
    },
  });

const post = (instance: FastifyInstance, url: string, payload: string, headers: Record<string, string> = {}) =>
  instance.inject({ method: "POST", url, payload, headers: { "content-type": "application/json", ...headers } });

describe("POST /a2a/{assistant_id}", () => {
  it.each([
    ["", 400, -32700],
    ["{oops", 400, -32700],
    ["[]", 400, -32600],
    ['{"jsonrpc":"1.0","id":1,"method":"message/send"}', 400, -32600],
    ['{"jsonrpc":"2.0","id":{},"method":"message/send"}', 400, -32600],
    ['{"jsonrpc":"2.0","id":1,"method":"agent/getAuthenticatedExtendedCard"}', 400, -32601],
    [
      '{"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"role":"user","messageId":"m","parts":[]}}}',
      400,
      -32602,
    ],
    ['{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"id":"not-a-run"}}', 200, -32001],
  ])("answers %s with a JSON-RPC error and calls nothing", async (payload, status, code) => {
    const { app, methods: calls } = await start(knownAssistant);
    const res = await post(app, `/a2a/${ASSISTANT}`, payload);
    expect(res.statusCode).toBe(status);
    expect(res.json()).toMatchObject({ jsonrpc: "2.0", error: { code } });
    expect(calls).toEqual([]);
  });

  it("reads the assistant, and nothing else, before refusing an unknown one", async () => {
    const { app, methods: calls } = await start(knownAssistant);
    const body = {
      jsonrpc: "2.0",
      id: "x",
      method: "message/send",
      params: { message: { role: "user", messageId: "m", parts: [{ kind: "text", text: "hi" }] } },
    };
    const res = await post(app, "/a2a/other", JSON.stringify(body));
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ jsonrpc: "2.0", id: "x", error: { code: -32602, message: "Assistant not found: other" } });
    expect(calls).toEqual(["GetAssistant"]);
  });

  it("serves the card with this gateway's address", async () => {
    const { app } = await start(knownAssistant);
    const res = await app.inject({
      method: "GET",
      url: `/.well-known/agent-card.json?assistant_id=${ASSISTANT}`,
      headers: { host: "agents.example:8080" },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().url).toBe(`http://agents.example:8080/a2a/${ASSISTANT}`);
  });
});
