import type { Pool, PoolClient } from "@langopen/common";

/** Something that runs queries: the pool, or a client inside a transaction. */
export type Queryable = Pick<Pool, "query"> | PoolClient;

/** Runs fn in a transaction on one client of the pool. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
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
