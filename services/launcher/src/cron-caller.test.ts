import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type ApiServer, startApiServer } from "@langopen/api-server";
import { callerHeaders, createLogger, jsonBytes, type Pool, parseJsonBytes } from "@langopen/common";
import { type CronStore, createCronStore, createLocalSignals, createPool } from "@langopen/data-plane";
import { FilterOperator } from "@langopen/gen/langopen/data/v1/caller_pb";
import { CronService } from "@langopen/gen/langopen/data/v1/cron_service_pb";
import { RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { createTestDatabase, until } from "@langopen/testkit";
import { startScheduler } from "@langopen/worker";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

/*
 * A cron's runs act for the user who created it: the api-server keeps the creator (not the filter
 * of their create) with the cron, and the scheduler creates each firing's run for them through
 * the real RunService, so the graph sees them as its caller.
 */

const logger = createLogger({ service: "test", level: "silent" });

let api: ApiServer;
let pool: Pool;
let cronStore: CronStore;
let drop: () => Promise<void>;

beforeAll(async () => {
  const database = await createTestDatabase(inject("databaseUrl"));
  drop = database.drop;
  api = await startApiServer(
    { databaseUrl: database.url, host: "127.0.0.1", port: 0, graphIds: ["agent"], signals: createLocalSignals() },
    logger,
  );
  pool = createPool({ connectionString: database.url, applicationName: "cron-caller-test" }, logger);
  cronStore = createCronStore(pool);
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await api?.stop(500);
  await drop?.();
});

describe("runs of a cron", () => {
  it("carry the cron's creator in their configurable, and those of a cron made without a caller carry none", async () => {
    const transport = createGrpcTransport({ baseUrl: api.rpc.url });
    const crons = createClient(CronService, transport);
    const runs = createClient(RunService, transport);
    const threads = createClient(ThreadService, transport);
    const alice = {
      identity: "alice",
      permissions: ["crons:write"],
      userJson: jsonBytes({ identity: "alice", permissions: ["crons:write"], team: "red" }),
      filter: [{ field: "owner", operator: FilterOperator.EQ, valueJson: '"alice"' }],
    };
    const payload = {
      assistantId: "agent",
      inputJson: jsonBytes({}),
      config: { configurable: { langgraph_auth_user_id: "mallory" } },
    };
    const { cron: hers } = await crons.createCron(
      { schedule: "* * * * *", enabled: true, payload, metadata: { owner: "alice" } },
      { headers: callerHeaders(alice) },
    );
    const { cron: anonymous } = await crons.createCron({ schedule: "* * * * *", enabled: true, payload });
    await pool.query("UPDATE crons SET next_run_date = now() - interval '1 second' WHERE cron_id = ANY($1::uuid[])", [
      [hers?.cronId, anonymous?.cronId],
    ]);

    // The scheduler's own loop polls once at start, beside the test's polls: poll until both fired.
    const scheduler = startScheduler({ crons: cronStore, runs, logger, pollMs: 3_600_000 });
    try {
      await until(async () => {
        await scheduler.pollOnce();
        const fired = await Promise.all(
          [hers, anonymous].map(async (c) => (await cronStore.firings(c?.cronId as string)).length),
        );
        return fired.every((n) => n > 0);
      }, "both crons to fire");
    } finally {
      await scheduler.stop();
    }

    const configurableOf = async (cronId: string) => {
      const [firing] = await cronStore.firings(cronId);
      expect(firing?.error ?? null).toBeNull();
      const { run } = await runs.getRun({ runId: firing?.run_id as string });
      const kwargs = parseJsonBytes<{ config: { configurable: Record<string, unknown> } }>(run?.kwargsJson ?? new Uint8Array(), {
        config: { configurable: {} },
      });
      return { configurable: kwargs.config.configurable, threadId: run?.threadId as string };
    };
    const fired = await configurableOf(hers?.cronId as string);
    expect(fired.configurable).toMatchObject({
      langgraph_auth_user_id: "alice",
      langgraph_auth_user: { identity: "alice", team: "red" },
      langgraph_auth_permissions: ["crons:write"],
    });
    // The run's new thread carries the cron's metadata: it is alice's, as her filter sees it.
    const { thread } = await threads.getThread({ threadId: fired.threadId }, { headers: callerHeaders(alice) });
    expect(thread?.metadata).toMatchObject({ owner: "alice", cron_id: hers?.cronId });

    const open = await configurableOf(anonymous?.cronId as string);
    expect(open.configurable).toEqual({ langgraph_auth_user_id: "mallory" });
  });
});
