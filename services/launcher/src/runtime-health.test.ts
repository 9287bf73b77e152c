import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { type ApiServer, startApiServer } from "@langopen/api-server";
import { createLogger, createRpcTransport, freePort } from "@langopen/common";
import { createLocalSignals } from "@langopen/data-plane";
import { buildApp } from "@langopen/gateway";
import { Health } from "@langopen/gen/health/v1/health_pb";
import { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { type Runtime, startRuntime } from "@langopen/runtime-runner";
import { createTestDatabase, until } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

/**
 * Split mode: a runtime-runner whose project has a graph that fails to load serves the rest but
 * says NOT_SERVING on its health service; the api-server reports it as a dependency, and the
 * gateway's /health answers 503 naming the runtime.
 */
const ECHO = fileURLToPath(new URL("../../runtime-runner/test-graphs/echo.mjs", import.meta.url));
const logger = createLogger({ service: "test", level: "silent" });

type FastifyInstance = Awaited<ReturnType<typeof buildApp>>;

interface Split {
  runtime: Runtime;
  api: ApiServer;
  gateway: FastifyInstance;
  stop(): Promise<void>;
}

async function startSplit(configPath: string, databaseUrl: string): Promise<Split> {
  const runtimePort = await freePort();
  const runtimeTransport = createRpcTransport(`http://127.0.0.1:${runtimePort}`);
  const signals = createLocalSignals();
  const api = await startApiServer(
    {
      databaseUrl,
      host: "127.0.0.1",
      port: 0,
      graphIds: ["echo"],
      signals,
      runtime: createClient(RuntimeService, runtimeTransport),
      runtimeHealth: createClient(Health, runtimeTransport),
    },
    logger,
  );
  const runtime = await startRuntime(
    { configPath, host: "127.0.0.1", port: runtimePort, apiServerUrl: api.rpc.url, graphLoadTimeoutMs: 2_000 },
    logger,
  );
  const gateway = await buildApp({ logger, transport: api.rpc.inProcessTransport });
  return {
    runtime,
    api,
    gateway,
    async stop() {
      await gateway.close();
      await runtime.stop();
      await api.stop(500);
      await signals.close();
    },
  };
}

const health = async (gateway: FastifyInstance) => {
  const res = await gateway.inject({ method: "GET", url: "/health" });
  return { status: res.statusCode, body: res.json() as Record<string, string> };
};

let dir: string;
let database: { url: string; drop(): Promise<void> };
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "langopen-runtime-health-"));
  await writeFile(path.join(dir, "broken.mjs"), "export const graph = {\n  oops oops\n};\n");
  await writeFile(path.join(dir, "good.json"), JSON.stringify({ graphs: { echo: `${ECHO}:graph` } }));
  await writeFile(
    path.join(dir, "broken.json"),
    JSON.stringify({ graphs: { echo: `${ECHO}:graph`, broken: "./broken.mjs:graph" } }),
  );
  database = await createTestDatabase(inject("databaseUrl"));
}, 60_000);
afterAll(async () => {
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe("the runtime in /health (split mode)", () => {
  it("is ok when every graph loaded", async () => {
    const split = await startSplit(path.join(dir, "good.json"), database.url);
    try {
      const seen = await until(async () => {
        const h = await health(split.gateway);
        return h.body.runtime === "ok" ? h : undefined;
      }, "the runtime to be reported");
      expect(seen.status).toBe(200);
      expect(seen.body).toMatchObject({ gateway: "ok", "api-server": "ok", postgres: "ok", runtime: "ok" });
    } finally {
      await split.stop();
    }
  }, 60_000);

  it("is down, with a 503 naming it, when a graph failed to load", async () => {
    const split = await startSplit(path.join(dir, "broken.json"), database.url);
    try {
      const seen = await until(async () => {
        const h = await health(split.gateway);
        return h.body.runtime === "down" ? h : undefined;
      }, "the runtime to be reported down");
      expect(seen.status).toBe(503);
      expect(seen.body.detail).toMatch(/runtime/);
      expect(seen.body.postgres).toBe("ok");
    } finally {
      await split.stop();
    }
  }, 60_000);
});
