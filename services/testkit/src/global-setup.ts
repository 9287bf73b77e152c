import { fileURLToPath } from "node:url";
import { allowTraversal } from "@langopen/common";
import type { TestProject } from "vitest/node";
import { startPostgres } from "./postgres.js";
import "./provided.js";
import { startRedis } from "./redis.js";

/**
 * Vitest global setup: one PostgreSQL and one Redis server for the whole run, handed to test files
 * as `inject("databaseUrl")` and `inject("redisUrl")`. The returned teardown stops both.
 */
export default async function setup({ provide }: TestProject): Promise<() => Promise<void>> {
  // Graph code runs as the sandbox user (uid 65534) when the tests run as root, and must reach the
  // checkout's packages: a `mktemp -d` clone is private to its owner. What `npm start` would ask of a
  // user (its warning says so), done up front rather than by whichever test happens to start an
  // embedded Postgres (which adds the same search bit) first.
  await allowTraversal(fileURLToPath(new URL("../../..", import.meta.url)));
  const [postgres, redis] = await Promise.allSettled([startPostgres(), startRedis()]);
  if (postgres.status === "rejected" || redis.status === "rejected") {
    const started = [postgres, redis].flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
    await Promise.allSettled(started.map((server) => server.stop()));
    const reasons = [postgres, redis].flatMap((result) => (result.status === "rejected" ? [result.reason] : []));
    throw new Error(reasons.map((err) => (err instanceof Error ? err.message : String(err))).join("\n\n"));
  }
  provide("databaseUrl", postgres.value.url);
  provide("redisUrl", redis.value.url);
  return async () => {
    await Promise.all([postgres.value.stop(), redis.value.stop()]);
  };
}
