import type { AddressInfo, Server } from "node:net";
import type { ConnectRouter } from "@connectrpc/connect";
import { failedPrecondition, jsonBytes, notFound, parseJsonBytes, Reason } from "@langopen/common";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";
import {
  CancelAction,
  type CancelRunRequest,
  type CreateOrResumeRunRequest,
  type CreateRunRequest,
  IfNotExists,
  InterruptedWhen,
  RunService,
} from "@langopen/gen/langopen/data/v1/run_service_pb";
import type { FastifyInstance } from "fastify";
import { describe, expect, it } from "vitest";
import { standInGateway, standInRun } from "../../test-fixtures/stand-in.js";
import { ownBaseUrl } from "./index.js";

const ASSISTANT = "0190b3c2-8c4f-7000-8000-0000000000a1";
const THREAD = "0190b3c2-8c4f-7000-8000-000000000001";
const RUN = "0190b3c2-8c4f-7000-8000-0000000000f1";

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

  it("serves the card with this gateway's own address, not the Host the request names", async () => {
    const { app } = await start(knownAssistant);
    const res = await app.inject({
      method: "GET",
      url: `/.well-known/agent-card.json?assistant_id=${ASSISTANT}`,
      headers: { host: "attacker.localhost:8080" },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().url).toBe(`http://127.0.0.1/a2a/${ASSISTANT}`);
  });
});

describe("the agent card's base URL", () => {
  const listening = (address: AddressInfo | null) => ({ address: () => address }) as unknown as Server;

  it("is the configured public URL, without a trailing slash", () => {
    expect(ownBaseUrl(listening(null), "https://agents.example.com/langopen/")).toBe("https://agents.example.com/langopen");
  });

  it("is the bound address otherwise, loopback for a wildcard", () => {
    expect(ownBaseUrl(listening({ address: "192.0.2.7", family: "IPv4", port: 8123 }), undefined)).toBe("http://192.0.2.7:8123");
    expect(ownBaseUrl(listening({ address: "0.0.0.0", family: "IPv4", port: 8123 }), undefined)).toBe("http://127.0.0.1:8123");
    expect(ownBaseUrl(listening({ address: "::", family: "IPv6", port: 8123 }), undefined)).toBe("http://[::1]:8123");
    expect(ownBaseUrl(listening({ address: "fd00::7", family: "IPv6", port: 80 }), undefined)).toBe("http://[fd00::7]:80");
  });
});

/** An assistant whose input has no `messages` field: text parts can only answer an interrupt. */
const dataOnlyAssistant = (router: ConnectRouter) =>
  router.service(AssistantService, {
    getAssistant: () => ({ assistant: { assistantId: ASSISTANT, graphId: "form", name: "form", version: 1 } }),
    getAssistantSchemas: () => ({ schemasJson: jsonBytes({ input_schema: { type: "object", properties: { name: {} } } }) }),
  });

const send = (message: Record<string, unknown>) =>
  JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "message/send",
    params: { message: { role: "user", messageId: "m1", ...message }, configuration: { blocking: false } },
  });

describe("message/send decides nothing itself", () => {
  it("answers a task's message with one CreateOrResumeRun: resume, or (text the input cannot take) refuse", async () => {
    const { app, calls, methods } = await start((router) => {
      dataOnlyAssistant(router);
      router.service(RunService, { createOrResumeRun: () => ({ run: standInRun(THREAD), resumed: true }) });
    });
    const res = await post(
      app,
      `/a2a/${ASSISTANT}`,
      send({ contextId: THREAD, taskId: RUN, parts: [{ kind: "text", text: "Ada" }] }),
    );
    expect(res.statusCode).toBe(200);
    expect(res.json().result).toMatchObject({ kind: "task", id: RUN, contextId: THREAD, status: { state: "submitted" } });
    expect(methods).toEqual(["GetAssistant", "GetAssistantSchemas", "CreateOrResumeRun"]);
    const req = calls[2]?.input as CreateOrResumeRunRequest;
    expect(req).toMatchObject({ interruptedWhen: InterruptedWhen.STATUS, resumeOnly: true });
    expect(req.run).toMatchObject({ threadId: THREAD, ifNotExists: IfNotExists.CREATE });
    expect(parseJsonBytes(req.resumeCommandJson, null)).toEqual({ resume: "Ada" });
    expect(parseJsonBytes(req.run?.spec?.inputJson ?? new Uint8Array(), null)).toEqual({
      messages: [{ role: "user", content: "Ada" }],
    });
  });

  it("answers the api-server's refusal to start afresh as the text refusal", async () => {
    for (const refusal of [failedPrecondition(Reason.ThreadNotInterrupted, "no interrupt"), notFound("Thread", THREAD)]) {
      const { app } = await start((router) => {
        dataOnlyAssistant(router);
        router.service(RunService, {
          createOrResumeRun: () => {
            throw refusal;
          },
        });
      });
      const res = await post(
        app,
        `/a2a/${ASSISTANT}`,
        send({ contextId: THREAD, taskId: RUN, parts: [{ kind: "text", text: "x" }] }),
      );
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toMatchObject({ code: -32602, message: expect.stringContaining("'messages'") });
      await app.close();
    }
  });

  it("starts a message without a task with one CreateRun, reading no thread", async () => {
    const { app, calls, methods } = await start((router) => {
      knownAssistant(router);
      router.service(RunService, { createRun: () => ({ run: standInRun(THREAD) }) });
    });
    const res = await post(app, `/a2a/${ASSISTANT}`, send({ contextId: THREAD, parts: [{ kind: "data", data: { x: 1 } }] }));
    expect(res.statusCode).toBe(200);
    expect(methods).toEqual(["GetAssistant", "CreateRun"]);
    const req = calls[1]?.input as CreateRunRequest;
    expect(parseJsonBytes(req.spec?.inputJson ?? new Uint8Array(), null)).toEqual({ x: 1 });
  });
});

describe("tasks/cancel decides nothing itself", () => {
  const cancel = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tasks/cancel", params: { id: RUN, contextId: THREAD } });

  it("cancels with one CancelRun, limited to this assistant's runs", async () => {
    const { app, calls, methods } = await start((router) => {
      knownAssistant(router);
      router.service(RunService, { cancelRun: () => ({ run: standInRun(THREAD, { status: RunStatus.INTERRUPTED }) }) });
    });
    const res = await post(app, `/a2a/${ASSISTANT}`, cancel);
    expect(res.json().result).toMatchObject({ kind: "task", id: RUN, status: { state: "canceled" } });
    expect(methods).toEqual(["GetAssistant", "CancelRun"]);
    expect(calls[1]?.input as CancelRunRequest).toMatchObject({
      threadId: THREAD,
      runId: RUN,
      wait: true,
      action: CancelAction.INTERRUPT,
      assistantId: ASSISTANT,
    });
  });

  it("refuses a task whose run had already ended, as the api-server says, and one of another assistant", async () => {
    const { app } = await start((router) => {
      knownAssistant(router);
      router.service(RunService, {
        cancelRun: (req) => {
          if (req.runId !== RUN) throw notFound("Run", req.runId);
          return { run: standInRun(THREAD, { status: RunStatus.SUCCESS }), alreadyEnded: true };
        },
      });
    });
    const ended = await post(app, `/a2a/${ASSISTANT}`, cancel);
    expect(ended.json().error).toEqual({ code: -32002, message: `Task cannot be canceled: task ${RUN} is already completed` });
    const other = "0190b3c2-8c4f-7000-8000-0000000000f2";
    const missing = await post(app, `/a2a/${ASSISTANT}`, cancel.replace(RUN, other));
    expect(missing.json().error).toEqual({ code: -32001, message: `Task not found: ${other}` });
  });
});
