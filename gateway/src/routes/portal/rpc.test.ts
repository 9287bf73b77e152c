import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createLogger } from "@langopen/common";
import { RunSchema } from "@langopen/gen/langopen/data/v1/run_pb";
import type { CreateRunRequest } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { type PutItemRequest, StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { buildApp, type GatewayDeps } from "../../app.js";

// What the portal's forwarder hands the api-server (a stand-in that records it, as the route
// tests' stand-in does): the fields the public API cannot set are cleared, switched-off parts
// of the API are not reachable.

const logger = createLogger({ service: "portal-rpc-test", level: "silent" });
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function start(http: GatewayDeps["http"] = {}) {
  const runs: CreateRunRequest[] = [];
  const puts: PutItemRequest[] = [];
  const transport = createRouterTransport((router) => {
    router.service(RunService, {
      createRun(req) {
        runs.push(req);
        return { run: create(RunSchema, { runId: "r", threadId: req.threadId }) };
      },
    });
    router.service(StoreService, {
      putItem(req) {
        puts.push(req);
        return {};
      },
    });
  });
  app = await buildApp({ logger, transport, http });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  const browser = createConnectTransport({ baseUrl: `${url}/portal/rpc`, httpVersion: "1.1" });
  return { url, runs, puts, runsClient: createClient(RunService, browser), store: createClient(StoreService, browser) };
}

describe("the portal's forwarder", () => {
  it("clears what only the server sets: a run's trace parent, a store write's fence", async () => {
    const { runs, puts, runsClient, store } = await start();
    await runsClient.createRun({
      threadId: "t",
      spec: { assistantId: "a", traceParent: "00-forged-01", webhook: "https://example.com/hook" },
    });
    expect(runs[0]?.spec?.traceParent).toBe("");
    expect(runs[0]?.spec?.webhook).toBe("https://example.com/hook");
    await store.putItem({
      namespace: ["n"],
      key: "k",
      valueJson: new TextEncoder().encode("{}"),
      fence: { runId: "r", epoch: 1n },
    });
    expect(puts[0]?.fence).toBeUndefined();
  });

  it("drops webhooks when http.disable_webhooks is set, and serves no switched-off part of the API", async () => {
    const { runs, runsClient, store } = await start({ disable_webhooks: true, disable_store: true });
    await runsClient.createRun({ threadId: "t", spec: { assistantId: "a", webhook: "https://example.com/hook" } });
    expect(runs[0]?.spec?.webhook).toBe("");
    const err = await store.putItem({ namespace: ["n"], key: "k" }).catch((e) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.Unimplemented);
  });
});

describe("the portal's RPCs and other origins", () => {
  const createRun = (url: string) => `${url}/portal/rpc/${RunService.typeName}/${RunService.method.createRun.name}`;
  const body = JSON.stringify({ threadId: "t", spec: { assistantId: "a" } });

  it("refuses a page of another origin before anything is forwarded, preflight or not", async () => {
    const { url, runs } = await start();
    const preflight = await fetch(createRun(url), {
      method: "OPTIONS",
      headers: {
        origin: "https://evil.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    // A "simple" request runs in a browser even when its answer is hidden: it must not reach the api-server.
    const simple = await fetch(createRun(url), {
      method: "POST",
      headers: { origin: "https://evil.example", "content-type": "application/json" },
      body,
    });
    expect(simple.status).toBe(403);
    expect(simple.headers.get("access-control-allow-origin")).toBeNull();
    expect(runs).toEqual([]);
  });

  it("serves the portal's own origin, and origins langgraph.json allows", async () => {
    const { url, runs } = await start({ cors: { allow_origins: ["https://studio.example"] } });
    for (const origin of [url, "https://studio.example"]) {
      const answer = await fetch(createRun(url), {
        method: "POST",
        headers: { origin, "content-type": "application/json" },
        body,
      });
      expect(answer.status, origin).toBe(200);
      expect(answer.headers.get("access-control-allow-origin")).toBe(origin);
    }
    expect(runs).toHaveLength(2);
  });
});
