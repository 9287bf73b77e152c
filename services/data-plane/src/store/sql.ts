import type { Pool, PoolClient } from "@langopen/common";

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
      const code = (err as { code?: string }).code;
      if (!(code && RETRYABLE.has(code)) || attempt >= ATTEMPTS) throw err;
    } finally {
      client.off("error", onError);
      client.release();
    }
    await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 10));
  }
}

/**
 * Locks a thread against changes of its status and values (not of its key, so foreign-key
 * checks of checkpoint writes pass). Transactions that touch a thread and its runs take this
 * lock first, so they always lock in the same order: thread, then run.
 */
export async function lockThread(db: Queryable, threadId: string, options: { liveOnly?: boolean } = {}): Promise<boolean> {
  const live = options.liveOnly ? ` AND ${LIVE_THREAD}` : "";
  const { rows } = await db.query(`SELECT thread_id FROM threads WHERE thread_id = $1${live} FOR NO KEY UPDATE`, [threadId]);
  return rows.length > 0;
}

/** Builds a parameter list and WHERE clauses side by side. */
export class Conditions {
  readonly params: unknown[] = [];
  private readonly clauses: string[] = [];

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
