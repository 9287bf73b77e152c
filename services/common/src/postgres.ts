import pg from "pg";
import { runner } from "node-pg-migrate";
import type { Logger } from "pino";
import type { ConnectError } from "@connectrpc/connect";
import { alreadyExists, failedPrecondition, invalidArgument } from "./errors.js";

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export interface PoolOptions {
  connectionString: string;
  max?: number;
  applicationName: string;
}

/** One pool per process, created in the composition root. */
export function createPool(options: PoolOptions, logger: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection (Postgres restarted) must not crash the process.
  pool.on("error", (err) => logger.warn({ err }, "Lost idle Postgres connection"));
  return pool;
}

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

const PG_UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EPIPE",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
]);

/** True when an error means Postgres cannot be reached, rather than that a query was wrong. */
export function isPgUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && (PG_UNAVAILABLE_CODES.has(code) || code.startsWith("08"))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    err.message,
  );
}

/** The SQLSTATE of a Postgres error, if it is one. */
export function pgCode(err: unknown): string | undefined {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : undefined;
}

/**
 * The ConnectError a Postgres error stands for when it is the caller's fault (a duplicate, a bad
 * value, a missing parent); undefined for the rest, which are internal.
 */
export function pgErrorToConnect(err: unknown): ConnectError | undefined {
  const code = pgCode(err);
  if (code === undefined) return undefined;
  const detail = (err as { detail?: string }).detail ?? (err as Error).message;
  if (code === "23505") return alreadyExists("Resource", detail);
  if (code === "23503") return failedPrecondition("MISSING_PARENT", `a referenced resource does not exist: ${detail}`);
  // invalid text, parameter, datetime or number; invalid JSON; too long; bad encoding; a \u0000 in JSON
  if (["22P02", "22023", "22008", "22003", "22007", "22032", "22001", "22021", "22P05"].includes(code)) {
    return invalidArgument(`invalid value: ${(err as Error).message}`);
  }
  return undefined;
}
