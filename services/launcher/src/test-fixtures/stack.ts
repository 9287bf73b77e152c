import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger } from "@langopen/common";
import { createTestDatabase } from "@langopen/testkit";
import { inject } from "vitest";
import { type LangOpen, type LangOpenOptions, startLangOpen } from "../compose.js";

export const FIXTURE_CONFIG = fileURLToPath(new URL("./langgraph.json", import.meta.url));
/** The graphs kept for run tests: echo, steps, slow, interrupt, parent, chat, blocking. */
export const TEST_GRAPHS = fileURLToPath(new URL("../../../runtime-runner/test-graphs/langgraph.json", import.meta.url));

export interface TestStack extends LangOpen {
  databaseUrl: string;
}

/** LangOpen on its own fresh database of the harness's real Postgres, on free ports. */
export async function startTestStack(
  configPath = FIXTURE_CONFIG,
  options: { redis?: boolean; postgresUrl?: string; redisUrl?: string; launcher?: Partial<LangOpenOptions> } = {},
): Promise<TestStack> {
  const db = await createTestDatabase(options.postgresUrl ?? inject("databaseUrl"));
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "langopen-test-"));
  const langopen = await startLangOpen(
    {
      host: "127.0.0.1",
      port: 0,
      databaseUrl: db.url,
      redisUrl: options.redis === false ? undefined : (options.redisUrl ?? inject("redisUrl")),
      // The harness's Redis is shared by every test file at once: keys of its own, so that one
      // stack's event logs never count in another's byte budgets.
      redisPrefix: options.redisUrl === undefined ? `langopen-test-${randomUUID()}` : undefined,
      configPath,
      dataDir,
      shutdownGraceMs: 1_000,
      logLevel: "warn",
      // The TypeScript compiler over the test graphs in every stack would cost each test file seconds
      // of CPU; the tests of typed schemas ask for it.
      sandbox: { mode: "node", typedSchemas: false },
      ...options.launcher,
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
