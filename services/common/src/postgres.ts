import { runner } from "node-pg-migrate";
import type pg from "pg";
import type { Logger } from "pino";

// The pool itself is the data plane's (@langopen/data-plane createPool): it translates Postgres's
// errors for callers. Here are only the types its users share and the migration runner.
export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/**
 * Applies the SQL migrations of a directory (node-pg-migrate, numbered .sql files). Several
 * processes may start at once: the advisory lock makes the others wait, then find nothing to do.
 */
export async function migrate(connectionString: string, dir: string, logger: Logger): Promise<void> {
  const applied = await runner({
    databaseUrl: connectionString,
    dir,
    direction: "up",
    migrationsTable: "langopen_migrations",
    count: Number.POSITIVE_INFINITY,
    checkOrder: true,
    advisoryLockMode: "wait",
    log: () => {},
    verbose: false,
  });
  if (applied.length > 0) logger.info({ migrations: applied.map((m) => m.name) }, "Applied migrations");
}
