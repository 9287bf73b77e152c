import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@langopen/common";
import { createTestDatabase } from "@langopen/testkit";
import { inject } from "vitest";
import { type LangOpenOptions, startLangOpen } from "../compose.js";
import type { TestStack } from "./stack.js";

/** What a test may tune on top of the stack's defaults (cron poll, webhook delivery...). */
export type StackTuning = Partial<Pick<LangOpenOptions, "cronPollMs" | "webhooks" | "workerConcurrency">>;

/**
 * Like startTestStack, with worker settings of the test's choosing: LangOpen on a fresh database
 * of the harness's Postgres, the harness's Redis, free ports.
 */
export async function startTunedStack(configPath: string, tuning: StackTuning): Promise<TestStack> {
  const db = await createTestDatabase(inject("databaseUrl"));
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "langopen-test-"));
  const langopen = await startLangOpen(
    {
      host: "127.0.0.1",
      port: 0,
      databaseUrl: db.url,
      redisUrl: inject("redisUrl"),
      configPath,
      dataDir,
      shutdownGraceMs: 1_000,
      logLevel: "warn",
      ...tuning,
    },
    createLogger({ service: "test", level: "error" }),
  );
  return {
    ...langopen,
    databaseUrl: db.url,
    async stop() {
      await langopen.stop();
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
