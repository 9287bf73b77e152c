import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { createClient } from "@connectrpc/connect";
import {
  createLogger,
  createReplicatedTransport,
  HealthState,
  type Pool,
  type RpcServer,
  ServingStatus,
  startRpcServer,
} from "@langopen/common";
import { createLocalSignals, createPool } from "@langopen/data-plane";
import { Health } from "@langopen/gen/health/v1/health_pb";
import { createTestDatabase, type TestDatabase, until } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { DEPENDENCY_SERVICES, watchDependencies } from "./dependency-health.js";

/**
 * In split mode the api-server reaches several runtime-runners through one round-robin client.
 * One of them busy (a graph computing without yielding: its connection accepted, nothing
 * answered) is not the runtime being down while another serves; all of them silent is.
 */
const logger = createLogger({ service: "api-server", level: "silent" });
let database: TestDatabase;
let pool: Pool;
let serving: RpcServer;
let silent: http2.Http2Server;
let silentUrl: string;

beforeAll(async () => {
  database = await createTestDatabase(inject("databaseUrl"));
  pool = createPool({ connectionString: database.url, max: 2, applicationName: "dependency-health-test" }, logger);
  serving = await startRpcServer({ host: "127.0.0.1", port: 0, logger, services: [], routes: () => {} });
  serving.health.set("", ServingStatus.SERVING);
  // A real HTTP/2 peer that accepts every call and never answers, as a runtime whose event loop is busy would.
  silent = http2.createServer();
  // The client resets each stream at its deadline: nothing to do with that here.
  silent.on("stream", (stream) => stream.on("error", () => {}));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await serving?.close(100);
  silent?.close();
  await pool?.end();
  await database?.drop();
});

/** The runtime's status as the api-server's health service reports it once probes ran over `urls`. */
async function runtimeStatus(urls: string[]): Promise<ServingStatus> {
  const health = new HealthState();
  const stop = watchDependencies({
    health,
    pool,
    signals: createLocalSignals(),
    runtime: createClient(Health, createReplicatedTransport(urls, { peerMayBlock: true })),
    runtimeReplicas: urls.length,
    logger,
    intervalMs: 300,
  });
  try {
    // Several probes, so the round robin has started on each replica at least once.
    const seen: ServingStatus[] = [];
    await until(
      async () => {
        const status = health.get(DEPENDENCY_SERVICES.runtime);
        if (status !== undefined) seen.push(status);
        return seen.length >= 8;
      },
      "eight probes",
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    return seen.includes(ServingStatus.NOT_SERVING) ? ServingStatus.NOT_SERVING : ServingStatus.SERVING;
  } finally {
    stop();
  }
}

describe("the runtime's health across replicas", () => {
  it("is up while one of two runtime-runners is busy and the other serves", async () => {
    expect(await runtimeStatus([silentUrl, serving.url])).toBe(ServingStatus.SERVING);
  });

  it("is down when the only runtime-runner does not answer", async () => {
    expect(await runtimeStatus([silentUrl])).toBe(ServingStatus.NOT_SERVING);
  });
});
