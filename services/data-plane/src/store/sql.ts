import { type Logger, type Pool, type PoolClient, unavailable } from "@langopen/common";
import pg from "pg";
import { type AuthFilter, authFilterSql } from "./auth-filter.js";
import { sqlState, translatePgError } from "./pg-errors.js";

export interface PoolOptions {
  connectionString: string;
  max?: number;
  applicationName: string;
}

type QueryCallback = (err: Error | null | undefined, res?: unknown) => void;
type ConnectCallback = (err: Error | undefined, client: PoolClient | undefined, done: (release?: unknown) => void) => void;

// Looked up at each call, not kept: tracing (telemetry.ts) may wrap pg's methods after this module loaded.
const clientQuery = {
  apply: (self: pg.Client, args: unknown[]) =>
    (pg.Client.prototype.query as (this: pg.Client, ...a: unknown[]) => unknown).apply(self, args),
  call: (self: pg.Client, ...args: unknown[]) =>
    (pg.Client.prototype.query as (this: pg.Client, ...a: unknown[]) => unknown).apply(self, args),
};
const poolConnect = {
  call: (self: pg.Pool, callback?: ConnectCallback) =>
    (pg.Pool.prototype.connect as (this: pg.Pool, callback?: ConnectCallback) => unknown).call(self, callback),
};

const translating =
  (callback: QueryCallback): QueryCallback =>
  (err, res) =>
    callback(err ? (translatePgError(err) as Error) : err, res);

const rethrowTranslated = (err: unknown): never => {
  throw translatePgError(err);
};

/**
 * The connections of the stores' pool: every query of every store (on the pool, or on a client
 * of a transaction) fails with its error translated (pg-errors.ts) the moment Postgres answers,
 * so no store, and nothing above the stores, sees Postgres's own wording. Code that branches on
 * a SQLSTATE reads it with sqlState.
 */
class StoreClient extends pg.Client {}
StoreClient.prototype.query = function query(this: pg.Client, ...args: unknown[]): unknown {
  const [config, values, callback] = args;
  // A Submittable (a cursor, a query stream) reports its own errors.
  if (config !== null && typeof config === "object" && typeof (config as { submit?: unknown }).submit === "function") {
    return clientQuery.apply(this, args);
  }
  // pool.query calls the client with a callback.
  if (typeof values === "function") return clientQuery.call(this, config, translating(values as QueryCallback));
  if (typeof callback === "function") return clientQuery.call(this, config, values, translating(callback as QueryCallback));
  return (clientQuery.apply(this, args) as Promise<unknown>).catch(rethrowTranslated);
} as unknown as pg.Client["query"];

/** The stores' pool: a connection it cannot hand out (Postgres down, the pool ended, timeout) means UNAVAILABLE. */
class StorePool extends pg.Pool {}
StorePool.prototype.connect = function connect(this: pg.Pool, callback?: ConnectCallback): unknown {
  // pool.query takes its client with a callback.
  if (callback)
    return poolConnect.call(this, (err, client, done) => callback(err ? unavailable("postgres", err) : err, client, done));
  return (poolConnect.call(this) as Promise<PoolClient>).catch((err: unknown) => {
    throw unavailable("postgres", err);
  });
} as unknown as pg.Pool["connect"];

/**
 * The data plane's pool, one per process, created in the composition root: its errors come out
 * translated for callers (see StoreClient).
 */
export function createPool(options: PoolOptions, logger: Logger): Pool {
  const pool = new StorePool({
    Client: StoreClient,
    connectionString: options.connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection (Postgres restarted) must not crash the process. While
  // the pool is ending (this process stops) a client still closing may hear Postgres stop too:
  // that is the shutdown, not a loss.
  pool.on("error", (err) => {
    if (pool.ending) logger.debug({ err }, "Postgres closed a connection while the pool was ending");
    else logger.warn({ err }, "Lost idle Postgres connection");
  });
  return pool;
}

/**
 * Not expired with strategy delete. Such a thread is gone for every reader at once, before the
 * sweeper deletes it; keep_latest threads stay visible (expiry only prunes their checkpoints).
 */
export const LIVE_THREAD = "(ttl_strategy IS DISTINCT FROM 'delete' OR expires_at IS NULL OR expires_at > now())";

/** Something that runs queries: the pool, or a client inside a transaction. */
export type Queryable = Pick<Pool, "query"> | PoolClient;

/** Deadlock and serialization failure: the transaction may simply be tried again. */
const RETRYABLE = new Set(["40P01", "40001"]);
const ATTEMPTS = 4;

/** Runs fn in a transaction on one client of the pool, again when Postgres says to retry. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    // While a client is checked out the pool does not listen for its errors: a connection
    // that Postgres ends between two queries must fail this transaction, not the process.
    const onError = () => {};
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      const code = sqlState(err);
      if (!(code && RETRYABLE.has(code)) || attempt >= ATTEMPTS) throw err;
    } finally {
      client.off("error", onError);
      client.release();
    }
    await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 10));
  }
}

/**
 * Runs one statement (outside a transaction), again when Postgres broke a deadlock or a
 * serialization failure by failing it: what inTransaction does for a transaction. Only for
 * statements that change nothing when they fail (each is atomic on its own).
 */
export async function retryingConflicts<T>(statement: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await statement();
    } catch (err) {
      const code = sqlState(err);
      if (!(code && RETRYABLE.has(code)) || attempt >= ATTEMPTS) throw err;
    }
    await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 10));
  }
}

/**
 * Locks a thread against changes of its status and values (not of its key, so foreign-key
 * checks of checkpoint writes pass). Transactions that touch a thread and its runs take this
 * lock first, so they always lock in the same order: thread, then run. False when there is no
 * such thread (live, and matching the auth filter, when asked): then nothing is locked.
 */
export async function lockThread(
  db: Queryable,
  threadId: string,
  options: { liveOnly?: boolean; auth?: AuthFilter } = {},
): Promise<boolean> {
  const c = new Conditions([threadId]);
  const live = options.liveOnly ? ` AND ${LIVE_THREAD}` : "";
  const match = authFilterSql(options.auth, "metadata", c);
  const { rows } = await db.query(
    `SELECT thread_id FROM threads WHERE thread_id = $1${live}${match ? ` AND ${match}` : ""} FOR NO KEY UPDATE`,
    c.params,
  );
  return rows.length > 0;
}

/** Builds a parameter list and WHERE clauses side by side. */
export class Conditions {
  readonly params: unknown[];
  private readonly clauses: string[] = [];

  /** `initial`: the values of placeholders the statement writes itself ($1..$n); added ones follow. */
  constructor(initial: readonly unknown[] = []) {
    this.params = [...initial];
  }

  /** Adds a parameter and returns its placeholder ($n). */
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  /** Adds a clause; `?` marks where the value's placeholder goes. */
  add(clause: string, value: unknown): this {
    this.clauses.push(clause.replace("?", this.param(value)));
    return this;
  }

  raw(clause: string): this {
    this.clauses.push(clause);
    return this;
  }

  where(): string {
    return this.clauses.length > 0 ? `WHERE ${this.clauses.join(" AND ")}` : "";
  }
}

/** An ORDER BY from a public sort key, through a whitelist of column expressions. */
export function orderBy(columns: Record<string, string>, sortBy: string, fallback: string, desc: boolean): string {
  const column = columns[sortBy] ?? columns[fallback];
  return `ORDER BY ${column} ${desc ? "DESC" : "ASC"}`;
}
