import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { createLogger, errorInfo, migrate, type Pool, type PoolClient, Reason } from "@langopen/common";
import { createTestDatabase, freePort } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { MIGRATIONS_DIR } from "../migrations.js";
import { sqlState, translatePgError } from "./pg-errors.js";
import { createRunLeaseStore } from "./run-lease-store.js";
import { createPool, inTransaction } from "./sql.js";

/**
 * Postgres errors provoked by real queries through the stores' pool, as the stores' callers get
 * them: a ConnectError with a code and reason of the table, a message written for users, and the
 * SQLSTATE still there for store code (sqlState).
 */
const logger = createLogger({ service: "test", level: "silent" });
/** Postgres's own wording, which must not reach a message. */
const POSTGRES_WORDING =
  /Key \(|violates|constraint|type bigint|for type|encoding|relation|column|syntax|UTF8|0x00|escape sequence|timestamp|SQLSTATE/i;

let pool: Pool;
let drop: () => Promise<void>;
const ASSISTANT = randomUUID();

beforeAll(async () => {
  const database = await createTestDatabase(inject("databaseUrl"));
  drop = database.drop;
  await migrate(database.url, MIGRATIONS_DIR, logger);
  pool = createPool({ connectionString: database.url, max: 4, applicationName: "pg-errors-test" }, logger);
  await pool.query("INSERT INTO assistants (assistant_id, graph_id, version, name) VALUES ($1, 'echo', 1, 'echo')", [ASSISTANT]);
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await drop?.();
});

/** What a query failed with. */
async function failure(run: () => Promise<unknown>): Promise<ConnectError> {
  try {
    await run();
  } catch (err) {
    if (err instanceof ConnectError) return err;
    throw new Error(`expected a ConnectError, got ${String(err)}`, { cause: err });
  }
  throw new Error("expected the query to fail");
}

interface Case {
  name: string;
  sqlState: string;
  code: Code;
  reason: Reason;
  message: string;
  provoke: (db: Pick<Pool, "query">) => Promise<unknown>;
}

const THREAD = randomUUID();

const CASES: Case[] = [
  {
    name: "duplicate key",
    sqlState: "23505",
    code: Code.AlreadyExists,
    reason: Reason.AlreadyExists,
    message: "the thread already exists",
    provoke: async (db) => {
      await db.query("INSERT INTO threads (thread_id) VALUES ($1) ON CONFLICT DO NOTHING", [THREAD]);
      return db.query("INSERT INTO threads (thread_id) VALUES ($1)", [THREAD]);
    },
  },
  {
    name: "duplicate key of the one running run of a thread",
    sqlState: "23505",
    code: Code.FailedPrecondition,
    reason: Reason.ThreadBusy,
    message: "the thread is busy with another run",
    provoke: async (db) => {
      const thread = randomUUID();
      await db.query("INSERT INTO threads (thread_id) VALUES ($1)", [thread]);
      const run =
        "INSERT INTO runs (run_id, thread_id, assistant_id, graph_id, spec, status) VALUES ($1, $2, $3, 'echo', '', 'running')";
      await db.query(run, [randomUUID(), thread, ASSISTANT]);
      return db.query(run, [randomUUID(), thread, ASSISTANT]);
    },
  },
  {
    name: "foreign key to a missing parent",
    sqlState: "23503",
    code: Code.FailedPrecondition,
    reason: Reason.MissingParent,
    message: "the thread does not exist",
    provoke: (db) =>
      db.query("INSERT INTO checkpoints (thread_id, checkpoint_id, type, checkpoint) VALUES ($1, 'c1', 'json', '')", [
        randomUUID(),
      ]),
  },
  {
    name: "foreign key to a missing assistant",
    sqlState: "23503",
    code: Code.FailedPrecondition,
    reason: Reason.MissingParent,
    message: "the assistant does not exist",
    provoke: (db) =>
      db.query("INSERT INTO crons (cron_id, assistant_id, schedule, payload) VALUES ($1, $2, '@daily', '')", [
        randomUUID(),
        randomUUID(),
      ]),
  },
  {
    name: "out-of-range bigint",
    sqlState: "22003",
    code: Code.InvalidArgument,
    reason: Reason.InvalidArgument,
    message: "a value is out of range",
    provoke: (db) => db.query("SELECT thread_id FROM threads OFFSET $1", ["10000000000000000000"]),
  },
  {
    name: "NUL byte in text",
    sqlState: "22021",
    code: Code.InvalidArgument,
    reason: Reason.InvalidArgument,
    message: "text must not contain the NUL character",
    provoke: (db) =>
      db.query("INSERT INTO store_items (ns_path, namespace, key, value) VALUES ('a', ARRAY['a'], $1, '{}')", ["k\u0000"]),
  },
  {
    name: "NUL character in jsonb",
    sqlState: "22P05",
    code: Code.InvalidArgument,
    reason: Reason.InvalidArgument,
    message: "text must not contain the NUL character",
    provoke: (db) =>
      db.query("INSERT INTO threads (thread_id, metadata) VALUES ($1, $2::jsonb)", [
        randomUUID(),
        JSON.stringify({ a: "\u0000" }),
      ]),
  },
  {
    name: "invalid input syntax for a uuid",
    sqlState: "22P02",
    code: Code.InvalidArgument,
    reason: Reason.InvalidArgument,
    message: "an id is not a valid UUID",
    provoke: (db) => db.query("SELECT 1 FROM threads WHERE thread_id = $1", ["not-a-uuid"]),
  },
  {
    name: "invalid input syntax for an integer",
    sqlState: "22P02",
    code: Code.InvalidArgument,
    reason: Reason.InvalidArgument,
    message: "a value is not in a valid format",
    provoke: (db) => db.query("SELECT $1::integer", ["twelve"]),
  },
  {
    name: "invalid input syntax for JSON",
    sqlState: "22P02",
    code: Code.InvalidArgument,
    reason: Reason.InvalidArgument,
    message: "a value is not valid JSON",
    provoke: (db) => db.query("SELECT $1::jsonb", ['{"a":']),
  },
  {
    name: "timestamp out of range",
    sqlState: "22008",
    code: Code.InvalidArgument,
    reason: Reason.InvalidArgument,
    message: "a date or time is out of range",
    provoke: (db) => db.query("SELECT now() + make_interval(secs => $1::float8)", [1e300]),
  },
];

describe("Postgres errors through the stores' pool", () => {
  for (const c of CASES) {
    it(`${c.name} (${c.sqlState}): pool.query and a transaction's client.query`, async () => {
      // pool.query (pg-pool calls its client with a callback) and client.query (a promise) both translate.
      const viaPool = await failure(() => c.provoke(pool));
      const viaClient = await failure(() => inTransaction(pool, (db) => c.provoke(db)));
      for (const err of [viaPool, viaClient]) {
        expect(err.code, err.rawMessage).toBe(c.code);
        expect(errorInfo(err)?.reason).toBe(c.reason);
        expect(err.rawMessage).toBe(c.message);
        expect(err.rawMessage).not.toMatch(POSTGRES_WORDING);
        expect(JSON.stringify(errorInfo(err)?.metadata ?? {})).not.toMatch(POSTGRES_WORDING);
        // The SQLSTATE stays with the error, for store code that branches on it.
        expect(sqlState(err)).toBe(c.sqlState);
      }
    });
  }

  it("retries a deadlocked transaction (40P01) and answers ABORTED when a single statement loses one", async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await pool.query("INSERT INTO threads (thread_id) VALUES ($1), ($2)", [a, b]);
    // Each transaction locks one row, waits for the other to lock its own, then wants the other's.
    let attempts = 0;
    let locked = 0;
    let bothLocked: () => void = () => {};
    const barrier = new Promise<void>((resolve) => {
      bothLocked = resolve;
    });
    const crossing = (first: string, second: string) =>
      inTransaction(pool, async (db: PoolClient) => {
        attempts++;
        await db.query("UPDATE threads SET updated_at = now() WHERE thread_id = $1", [first]);
        if (++locked === 2) bothLocked();
        await Promise.race([barrier, new Promise((resolve) => setTimeout(resolve, 2_000))]);
        await db.query("UPDATE threads SET updated_at = now() WHERE thread_id = $1", [second]);
        return "done";
      });
    // Postgres breaks the deadlock by failing one of them (40P01); inTransaction runs that one again.
    expect(await Promise.all([crossing(a, b), crossing(b, a)])).toEqual(["done", "done"]);
    expect(attempts).toBe(3);

    // Without inTransaction, the loser gets ABORTED with the reason to try again.
    const [one, two] = [await pool.connect(), await pool.connect()];
    try {
      await one.query("BEGIN");
      await two.query("BEGIN");
      await one.query("UPDATE threads SET updated_at = now() WHERE thread_id = $1", [a]);
      await two.query("UPDATE threads SET updated_at = now() WHERE thread_id = $1", [b]);
      const outcomes = await Promise.allSettled([
        one.query("UPDATE threads SET updated_at = now() WHERE thread_id = $1", [b]),
        two.query("UPDATE threads SET updated_at = now() WHERE thread_id = $1", [a]),
      ]);
      const lost = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as unknown] : []));
      expect(lost).toHaveLength(1);
      const err = lost[0] as ConnectError;
      expect(err).toBeInstanceOf(ConnectError);
      expect(err.code).toBe(Code.Aborted);
      expect(errorInfo(err)?.reason).toBe(Reason.Conflict);
      expect(err.rawMessage).toBe("the operation collided with a concurrent one; try again");
      expect(sqlState(err)).toBe("40P01");
    } finally {
      await one.query("ROLLBACK").catch(() => {});
      await two.query("ROLLBACK").catch(() => {});
      one.release();
      two.release();
    }
  }, 20_000);

  it("keeps RunLeaseStore.claim's own decision on 23505: a claim that loses the thread's one running run claims nothing", async () => {
    const thread = randomUUID();
    await pool.query("INSERT INTO threads (thread_id) VALUES ($1)", [thread]);
    await pool.query("INSERT INTO runs (run_id, thread_id, assistant_id, graph_id, spec) VALUES ($1, $2, $3, 'echo', '')", [
      randomUUID(),
      thread,
      ASSISTANT,
    ]);
    // Another worker's claim, not committed yet: the claim below cannot see it, and the unique
    // index makes it wait for it, then refuse (23505).
    const other = await pool.connect();
    try {
      await other.query("BEGIN");
      await other.query(
        "INSERT INTO runs (run_id, thread_id, assistant_id, graph_id, spec, status) VALUES ($1, $2, $3, 'echo', '', 'running')",
        [randomUUID(), thread, ASSISTANT],
      );
      const claim = createRunLeaseStore(pool).claim("worker-test", 10_000, 10);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await other.query("COMMIT");
      expect((await claim).filter((r) => r.thread_id === thread)).toEqual([]);
    } finally {
      await other.query("ROLLBACK").catch(() => {});
      other.release();
    }
  });

  it("answers a statement timeout (57014) with DEADLINE_EXCEEDED", async () => {
    const err = await failure(() =>
      inTransaction(pool, async (db) => {
        await db.query("SET LOCAL statement_timeout = 50");
        return db.query("SELECT pg_sleep(2)");
      }),
    );
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(errorInfo(err)?.reason).toBe(Reason.Timeout);
    expect(err.rawMessage).toBe("the operation took too long");
    expect(sqlState(err)).toBe("57014");
  });

  it("answers UNAVAILABLE naming postgres for a lost connection and for one that cannot be made", async () => {
    // A connection Postgres ends under a checked-out client (57P01, then a closed socket).
    const client = await pool.connect();
    client.on("error", () => {});
    try {
      const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      await pool.query("SELECT pg_terminate_backend($1::int, 5000)", [rows[0]?.pid]);
      const lost = await failure(() => client.query("SELECT 1"));
      expect(lost.code).toBe(Code.Unavailable);
      expect(lost.rawMessage).toBe("postgres is unavailable");
      expect(errorInfo(lost)?.reason).toBe(Reason.Unavailable);
    } finally {
      client.release(true);
    }
    // Nothing listens: the pool cannot hand out a client (pool.query and pool.connect).
    const nowhere = createPool(
      { connectionString: `postgres://u:p@127.0.0.1:${await freePort()}/db`, applicationName: "t" },
      logger,
    );
    try {
      for (const err of [await failure(() => nowhere.query("SELECT 1")), await failure(() => nowhere.connect())]) {
        expect(err.code).toBe(Code.Unavailable);
        expect(err.rawMessage).toBe("postgres is unavailable");
        expect(errorInfo(err)?.metadata.dependency).toBe("postgres");
        expect(sqlState(err)).toBe("ECONNREFUSED");
      }
    } finally {
      await nowhere.end();
    }
  });

  it("leaves errors that are no caller's fault as they are (INTERNAL at the RPC edge)", async () => {
    const err = await pool.query("SELECT no_such_column FROM threads").catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(ConnectError);
    expect(sqlState(err)).toBe("42703");
    // Translating twice changes nothing.
    const once = translatePgError(
      Object.assign(new Error("duplicate key value violates unique constraint"), { code: "23505", table: "runs" }),
    );
    expect(translatePgError(once)).toBe(once);
    expect((once as ConnectError).rawMessage).toBe("the run already exists");
  });
});
