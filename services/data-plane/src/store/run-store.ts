import type { JsonObject } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { failedPrecondition, notFound, type Pool, RETRY_AFTER_METADATA, Reason, reasoned } from "@langopen/common";
import { type AuthFilter, authFilterSql, runThreadMatchSql } from "./auth-filter.js";
import {
  ACTIVE,
  type CancelActionName,
  type MultitaskName,
  RUN_COLUMNS_BUT_SPEC,
  type RunOutcomeRow,
  type RunRow,
  type RunStatusName,
  settleThread,
  withSpec,
} from "./run-rows.js";
import { Conditions, inTransaction, LIVE_THREAD, lockThread, type Queryable, retryingConflicts } from "./sql.js";
import type { ThreadStatusName } from "./thread-store.js";
import { enqueueRunWebhook } from "./webhook-store.js";

export interface NewRun {
  runId: string;
  /** Empty: a stateless run on a new temporary thread. */
  threadId: string;
  /** Create the thread when it is missing (if_not_exists=create) or stateless. */
  createThread: boolean;
  deleteThreadOnEnd: boolean;
  assistantId: string;
  graphId: string;
  metadata: JsonObject;
  spec: Uint8Array;
  multitask: MultitaskName;
  afterSeconds: number;
  requestId: string | null;
  /**
   * The run's config (its assistant's merged in), which its thread keeps, key by key over what
   * it kept, as upstream does: state reads and updates build a graph factory's graph with it.
   */
  config?: JsonObject;
  /**
   * The caller's auth filter: a thread that exists must match it (else NOT_FOUND, as if it did
   * not exist); a thread the create makes need not.
   */
  auth?: AuthFilter;
}

/** What a create may not exceed. */
export interface RunStoreLimits {
  /**
   * The most runs that may wait (pending) on one thread; a create beyond it fails with
   * RESOURCE_EXHAUSTED (reason RUN_QUEUE_FULL). Counted under the thread's lock, so concurrent
   * creates cannot overshoot it. 0 or absent: no limit.
   */
  maxQueuedPerThread?: number;
}

/** How long a create refused for a full thread queue suggests waiting: runs commonly take seconds. */
const QUEUE_FULL_RETRY_AFTER_SECONDS = 5;

/** Runs that a create pre-empted and that are still running: the caller signals their cancel. */
export interface CreatedRun {
  run: RunRow;
  cancelRunning: Array<{ runId: string; action: CancelActionName }>;
  /** Runs that were pending and were ended at once (interrupted or rolled back). */
  endedPending: string[];
}

/** What a run created from a thread's state is decided from: the thread as it is (under its lock, in createFromThread). */
export interface ThreadForRun {
  status: ThreadStatusName;
  metadata: JsonObject;
  /** The interrupts its last run stopped at, by task id: JSON text as stored ("{}" for none). */
  interrupts_text: string;
  /** The assistant of its latest run; null when it has had none. */
  latest_assistant_id: string | null;
}

/**
 * The runs as the api-server's callers see them: created (with the thread's multitask strategy),
 * read, listed, deleted and cancelled. The worker's side (claims, leases, ends) is RunLeaseStore.
 */
export interface RunStore {
  /**
   * Creates a run: locks the thread, applies the multitask strategy, inserts the run as pending
   * and marks the thread busy, in one transaction (or one statement where nothing else can change).
   */
  create(input: NewRun): Promise<CreatedRun>;
  /**
   * Creates the run that `decide` makes from the thread as it is, in one transaction: creates the
   * thread when asked (and missing), locks it, reads it (undefined when it is missing or expired),
   * and creates the run `decide` answers as create does (multitask strategy, busy mark) before the
   * lock is released. `decide` refuses by throwing: then nothing is written. It runs inside the
   * transaction, so it must not wait on anything else (no other query).
   */
  createFromThread(
    threadId: string,
    options: { createThread: boolean; auth?: AuthFilter },
    decide: (thread: ThreadForRun | undefined) => NewRun,
  ): Promise<CreatedRun>;
  /**
   * How many runs are runnable now (pending and due), counting at most `atMost` of them: the work
   * is bounded by `atMost` whatever the backlog (admission control compares it with its budget).
   */
  countRunnable(atMost: number): Promise<number>;
  /** Runs waiting (pending, due or not) and running now, each counted up to `atMost` (for the metrics). */
  countActive(atMost: number): Promise<{ pending: number; running: number; runnable: number }>;
  /** The thread as createFromThread's decide sees it, read without a lock (a guess to confirm there). */
  threadForRun(threadId: string, auth?: AuthFilter): Promise<ThreadForRun | undefined>;
  /**
   * A run, on the given thread when one is given (a stateless run's, whose thread is gone, too).
   * With an auth filter, only a run whose thread matches it (so never a run whose thread is gone).
   */
  get(runId: string, threadId?: string, auth?: AuthFilter): Promise<RunRow | undefined>;
  /**
   * As get, but only how the run stands: its status, and once it has ended its error and its
   * result as the JSON text stored (null when it has none), without its spec. What a join waits on.
   */
  outcome(runId: string, threadId?: string, auth?: AuthFilter): Promise<RunOutcomeRow | undefined>;
  /** A thread's runs, newest first. */
  list(threadId: string, limit: number, offset: number, status?: RunStatusName): Promise<RunRow[]>;
  /** Deletes a run that is not active ("missing" also when its thread does not match the auth filter). */
  delete(threadId: string, runId: string, auth?: AuthFilter): Promise<"deleted" | "missing" | "active">;
  /**
   * Requests a cancel. A pending run ends at once; a running one is marked and its worker is
   * signalled by the caller. Answers what happened, or undefined when the run does not exist (or
   * its thread does not match the auth filter).
   */
  cancel(
    runId: string,
    threadId: string | undefined,
    action: CancelActionName,
    auth?: AuthFilter,
  ): Promise<{ outcome: "ended" | "signal" | "already-done"; threadId: string } | undefined>;
  /** Active runs matching a bulk cancel (and whose thread matches the auth filter). */
  activeRuns(filter: { threadId?: string; runIds?: string[]; statuses?: RunStatusName[]; auth?: AuthFilter }): Promise<RunRow[]>;
  /** Sets a thread's values after its state changed outside a run (rollback, update_state). */
  setThreadState(
    threadId: string,
    state: { status: "idle" | "interrupted" | "error"; valuesJson: string; interruptsJson: string },
  ): Promise<void>;
}

/**
 * Inserts a run from the parameters $1..$10 of NewRun (see create); the caller appends the
 * FROM clause or wraps it. $11 (the thread's link metadata) is for the caller's other clauses.
 * A thread the create makes gets the run's metadata ($5) with the link metadata over it, so
 * what the project's auth stamped on the run (an owner) is on its new thread too.
 */
const INSERT_RUN = `INSERT INTO runs (run_id, thread_id, assistant_id, graph_id, metadata, spec, multitask_strategy,
    delete_thread_on_end, run_after, request_id)
  SELECT $1::uuid, $2::uuid, $3::uuid, $4::text, $5::jsonb, $6::bytea, $7::text, $8::boolean,
    now() + make_interval(secs => $9::float8), $10::text`;

/** The parameters of INSERT_RUN for a run, $11: the thread's link metadata, $12: the run's config for its thread. */
function insertRunParams(input: NewRun): unknown[] {
  return [
    input.runId,
    input.threadId,
    input.assistantId,
    input.graphId,
    input.metadata,
    // A view, not a copy: the spec may be megabytes.
    Buffer.from(input.spec.buffer, input.spec.byteOffset, input.spec.byteLength),
    input.multitask,
    input.deleteThreadOnEnd,
    input.afterSeconds,
    input.requestId,
    JSON.stringify({ graph_id: input.graphId, assistant_id: input.assistantId }),
    JSON.stringify(input.config ?? {}),
  ];
}

/** A thread's config with a run's ($12) over it: top-level keys replaced, `configurable` merged key by key. */
const THREAD_CONFIG = `config || $12::jsonb || jsonb_build_object('configurable',
    coalesce(config->'configurable', '{}'::jsonb) || coalesce($12::jsonb->'configurable', '{}'::jsonb))`;

/** The columns of ThreadForRun, from `threads` (live threads only). */
const THREAD_FOR_RUN = `SELECT status, metadata, interrupts::text AS interrupts_text,
    (SELECT assistant_id FROM runs WHERE runs.thread_id = threads.thread_id ORDER BY created_at DESC LIMIT 1)
      AS latest_assistant_id
  FROM threads WHERE thread_id = $1 AND ${LIVE_THREAD}`;

/** `AND <the run's thread matches the auth filter>`, or nothing when it restricts nothing. */
function andRunMatches(auth: AuthFilter | undefined, c: Conditions, runAlias = "runs"): string {
  const match = runThreadMatchSql(auth, runAlias, c);
  return match ? ` AND ${match}` : "";
}

export function createRunStore(pool: Pool, limits: RunStoreLimits = {}): RunStore {
  const maxQueued = limits.maxQueuedPerThread ?? 0;
  return {
    /**
     * Creates a run in one transaction: locks the thread, applies the multitask strategy,
     * inserts the run as pending and marks the thread busy.
     */
    async create(input: NewRun): Promise<CreatedRun> {
      const runValues = insertRunParams(input);
      if (input.createThread && !input.requestId) {
        // A thread that does not exist yet (always so for a stateless run) has no runs and no other
        // writer: it and its run are inserted in one statement, already busy, with no transaction.
        // When the thread exists, nothing is inserted and the general path below decides.
        const { rows } = await retryingConflicts(() =>
          pool.query<RunRow>(
            `WITH t AS (
             INSERT INTO threads (thread_id, metadata, config, status) VALUES ($2, $5::jsonb || $11::jsonb, $12::jsonb, 'busy')
             ON CONFLICT (thread_id) DO NOTHING
             RETURNING thread_id)
           ${INSERT_RUN} FROM t RETURNING ${RUN_COLUMNS_BUT_SPEC}`,
            runValues,
          ),
        );
        if (rows[0]) return { run: withSpec(rows[0], input.spec), cancelRunning: [], endedPending: [] };
      }
      if (input.multitask === "enqueue" && !input.createThread && !input.requestId && maxQueued === 0) {
        // Enqueued on an existing thread (the default) with no limit to its queue: the active runs
        // stay as they are, so the thread's lock, the run and the busy mark go in one statement,
        // with no transaction. (A limit needs the count read after the lock is taken, which one
        // statement's snapshot cannot.) No row back: the thread is missing or expired (or does not
        // match the caller's auth filter).
        const c = new Conditions(runValues);
        const match = authFilterSql(input.auth, "metadata", c);
        const { rows } = await retryingConflicts(() =>
          pool.query<RunRow>(
            `WITH t AS (SELECT thread_id FROM threads WHERE thread_id = $2 AND ${LIVE_THREAD}${match ? ` AND ${match}` : ""}
                      FOR NO KEY UPDATE),
             r AS (${INSERT_RUN} FROM t RETURNING ${RUN_COLUMNS_BUT_SPEC}),
             u AS (UPDATE threads SET status = 'busy', updated_at = now(), metadata = metadata || $11::jsonb,
                   config = ${THREAD_CONFIG}
                   WHERE thread_id = (SELECT thread_id FROM r))
           SELECT * FROM r`,
            c.params,
          ),
        );
        if (!rows[0]) throw notFound("Thread", input.threadId);
        return { run: withSpec(rows[0], input.spec), cancelRunning: [], endedPending: [] };
      }
      return inTransaction(pool, (db) => createInTransaction(db, input, maxQueued));
    },

    async countRunnable(atMost: number): Promise<number> {
      // Through the partial index of pending runs, and never past `atMost` of them.
      const { rows } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM (
           SELECT 1 FROM runs WHERE status = 'pending' AND run_after <= now() LIMIT $1) AS runnable`,
        [Math.max(0, Math.floor(atMost))],
      );
      return rows[0]?.n ?? 0;
    },

    async countActive(atMost: number): Promise<{ pending: number; running: number; runnable: number }> {
      // runnable: what a worker could claim now (the claim's own predicate): due, the oldest pending
      // run of its thread, and no run of that thread running. Runs queued behind a busy thread are not.
      const { rows } = await pool.query<{ pending: number; running: number; runnable: number }>(
        `SELECT (SELECT count(*)::int FROM (SELECT 1 FROM runs WHERE status = 'pending' LIMIT $1) AS p) AS pending,
                (SELECT count(*)::int FROM (SELECT 1 FROM runs WHERE status = 'running' LIMIT $1) AS r) AS running,
                (SELECT count(*)::int FROM (
                   SELECT 1 FROM runs r WHERE r.status = 'pending' AND r.run_after <= now()
                     AND NOT EXISTS (SELECT 1 FROM runs x WHERE x.thread_id = r.thread_id AND x.status = 'running')
                     AND NOT EXISTS (SELECT 1 FROM runs y WHERE y.thread_id = r.thread_id AND y.status = 'pending'
                                       AND (y.created_at, y.run_id) < (r.created_at, r.run_id))
                   LIMIT $1) AS n) AS runnable`,
        [Math.max(0, Math.floor(atMost))],
      );
      return { pending: rows[0]?.pending ?? 0, running: rows[0]?.running ?? 0, runnable: rows[0]?.runnable ?? 0 };
    },

    async createFromThread(
      threadId: string,
      options: { createThread: boolean; auth?: AuthFilter },
      decide: (thread: ThreadForRun | undefined) => NewRun,
    ): Promise<CreatedRun> {
      return inTransaction(pool, async (db) => {
        let inserted = false;
        if (options.createThread) {
          // Inserted bare; the run's metadata goes on it once decided, and the run's insert adds
          // its link metadata, as create does.
          const created = await db.query(
            "INSERT INTO threads (thread_id) VALUES ($1) ON CONFLICT (thread_id) DO NOTHING RETURNING thread_id",
            [threadId],
          );
          inserted = created.rows.length > 0;
        }
        // A thread made just now is the caller's; one that existed must match their auth filter.
        const locked = await lockThread(db, threadId, { liveOnly: true, auth: inserted ? undefined : options.auth });
        const thread = locked ? (await db.query<ThreadForRun>(THREAD_FOR_RUN, [threadId])).rows[0] : undefined;
        const input = decide(thread);
        if (input.threadId !== threadId) throw new Error("createFromThread: the run must be on the locked thread");
        if (inserted) {
          await db.query("UPDATE threads SET metadata = $2::jsonb || metadata WHERE thread_id = $1", [threadId, input.metadata]);
        }
        // The thread is locked and checked: the create need not check it again.
        return createInTransaction(db, { ...input, auth: undefined }, maxQueued);
      });
    },

    async threadForRun(threadId: string, auth?: AuthFilter): Promise<ThreadForRun | undefined> {
      const c = new Conditions([threadId]);
      const match = authFilterSql(auth, "metadata", c);
      const { rows } = await pool.query<ThreadForRun>(match ? `${THREAD_FOR_RUN} AND ${match}` : THREAD_FOR_RUN, c.params);
      return rows[0];
    },

    async outcome(runId: string, threadId?: string, auth?: AuthFilter): Promise<RunOutcomeRow | undefined> {
      // As get: a stateless run whose temporary thread is gone has no thread any more.
      const c = new Conditions([runId]);
      const onThread = threadId ? ` AND (thread_id = ${c.param(threadId)} OR thread_id IS NULL)` : "";
      const { rows } = await pool.query<RunOutcomeRow>(
        `SELECT status, error, result::text AS result_text FROM runs
         WHERE run_id = $1${onThread}${andRunMatches(auth, c)}`,
        c.params,
      );
      return rows[0];
    },

    async get(runId: string, threadId?: string, auth?: AuthFilter): Promise<RunRow | undefined> {
      // A stateless run whose temporary thread is gone has no thread any more.
      const c = new Conditions([runId]);
      const onThread = threadId ? ` AND (thread_id = ${c.param(threadId)} OR thread_id IS NULL)` : "";
      const { rows } = await pool.query<RunRow>(
        `SELECT * FROM runs WHERE run_id = $1${onThread}${andRunMatches(auth, c)}`,
        c.params,
      );
      return rows[0];
    },

    async list(threadId: string, limit: number, offset: number, status?: RunStatusName): Promise<RunRow[]> {
      const params: unknown[] = [threadId, limit, offset];
      if (status) params.push(status);
      const { rows } = await pool.query<RunRow>(
        `SELECT * FROM runs WHERE thread_id = $1 ${status ? "AND status = $4" : ""}
         ORDER BY created_at DESC LIMIT $2 OFFSET $3`,
        params,
      );
      return rows;
    },

    async delete(threadId: string, runId: string, auth?: AuthFilter): Promise<"deleted" | "missing" | "active"> {
      const c = new Conditions([runId, threadId]);
      const { rows } = await pool.query<{ status: RunStatusName }>(
        `DELETE FROM runs WHERE run_id = $1 AND thread_id = $2 AND status NOT IN ${ACTIVE}${andRunMatches(auth, c)}
         RETURNING status`,
        c.params,
      );
      if (rows[0]) return "deleted";
      return (await this.get(runId, threadId, auth)) ? "active" : "missing";
    },

    /**
     * Requests a cancel. A pending run ends at once; a running one is marked and its worker is
     * signalled by the caller. Answers what happened, or undefined when the run does not exist.
     */
    async cancel(
      runId: string,
      threadId: string | undefined,
      action: CancelActionName,
      auth?: AuthFilter,
    ): Promise<{ outcome: "ended" | "signal" | "already-done"; threadId: string } | undefined> {
      const found = await this.get(runId, threadId, auth);
      if (!found) return undefined;
      return inTransaction(pool, async (db) => {
        // The auth filter is checked again with the thread's lock, so the cancel acts on what it checked.
        if (found.thread_id && !(await lockThread(db, found.thread_id, { auth })) && auth) return undefined;
        const { rows } = await db.query<RunRow>("SELECT * FROM runs WHERE run_id = $1 FOR UPDATE", [runId]);
        const run = rows[0];
        if (!run) return undefined;
        const thread = run.thread_id ?? "";
        if (run.status === "pending") {
          await endPending(db, runId, action);
          await settleThread(db, thread, undefined);
          return { outcome: "ended", threadId: thread };
        }
        if (run.status === "running") {
          await db.query("UPDATE runs SET cancel_action = $2, updated_at = now() WHERE run_id = $1", [runId, action]);
          return { outcome: "signal", threadId: thread };
        }
        return { outcome: "already-done", threadId: thread };
      });
    },

    async activeRuns(filter: {
      threadId?: string;
      runIds?: string[];
      statuses?: RunStatusName[];
      auth?: AuthFilter;
    }): Promise<RunRow[]> {
      const c = new Conditions().raw(`status IN ${ACTIVE}`);
      if (filter.threadId) c.add("thread_id = ?", filter.threadId);
      if (filter.runIds && filter.runIds.length > 0) c.add("run_id = ANY(?::uuid[])", filter.runIds);
      if (filter.statuses && filter.statuses.length > 0) c.add("status = ANY(?::text[])", filter.statuses);
      const match = runThreadMatchSql(filter.auth, "runs", c);
      if (match) c.raw(match);
      const { rows } = await pool.query<RunRow>(`SELECT * FROM runs ${c.where()}`, c.params);
      return rows;
    },

    /** Sets a thread's values after its state changed outside a run (rollback, update_state). */
    async setThreadState(
      threadId: string,
      state: { status: "idle" | "interrupted" | "error"; valuesJson: string; interruptsJson: string },
    ): Promise<void> {
      await settleThread(pool, threadId, state);
    },
  };
}

/**
 * The general path of a create, inside a transaction: creates the thread when asked, locks it
 * (lock order: thread, then its runs), applies the multitask strategy, inserts the run as pending
 * and marks the thread busy.
 */
async function createInTransaction(db: Queryable, input: NewRun, maxQueued: number): Promise<CreatedRun> {
  const runValues = insertRunParams(input);
  if (input.requestId) {
    const prior = await db.query<RunRow>("SELECT * FROM runs WHERE request_id = $1", [input.requestId]);
    if (prior.rows[0]) return { run: prior.rows[0], cancelRunning: [], endedPending: [] };
  }
  let inserted = false;
  if (input.createThread) {
    const created = await db.query(
      `INSERT INTO threads (thread_id, metadata) VALUES ($1, $2::jsonb || $3::jsonb) ON CONFLICT (thread_id) DO NOTHING
       RETURNING thread_id`,
      [input.threadId, runValues[4], runValues[10]],
    );
    inserted = created.rows.length > 0;
  }
  // A thread made just now is the caller's; one that existed must match their auth filter.
  if (!(await lockThread(db, input.threadId, { liveOnly: true, auth: inserted ? undefined : input.auth }))) {
    throw notFound("Thread", input.threadId);
  }

  if (input.multitask === "enqueue") {
    // The active runs stay as they are (none is locked); only how many wait matters, counted by
    // the insert itself, a statement after the thread's lock was taken: creates that committed
    // while this one waited for it count too, and later ones wait for this one.
    const created = await insertRun(db, input, runValues, [], [], maxQueued);
    if (!created) throw queueFull(input.threadId, maxQueued);
    return created;
  }
  const active = await db.query<{ run_id: string; status: RunStatusName }>(
    `SELECT run_id, status FROM runs WHERE thread_id = $1 AND status IN ${ACTIVE} ORDER BY created_at FOR UPDATE`,
    [input.threadId],
  );
  const cancelRunning: CreatedRun["cancelRunning"] = [];
  const endedPending: string[] = [];
  if (active.rows.length > 0) {
    if (input.multitask === "reject") {
      throw failedPrecondition(Reason.ThreadBusy, `Thread ${input.threadId} is busy with run ${active.rows[0]?.run_id}`, {
        thread_id: input.threadId,
      });
    }
    if (input.multitask === "interrupt" || input.multitask === "rollback") {
      for (const run of active.rows) {
        if (run.status === "running") {
          await db.query("UPDATE runs SET cancel_action = $2, updated_at = now() WHERE run_id = $1", [
            run.run_id,
            input.multitask,
          ]);
          cancelRunning.push({ runId: run.run_id, action: input.multitask });
        } else {
          await endPending(db, run.run_id, input.multitask);
          endedPending.push(run.run_id);
        }
      }
    }
  }
  const created = await insertRun(db, input, runValues, cancelRunning, endedPending);
  if (!created) throw new Error("createInTransaction: the run was not inserted");
  return created;
}

/** RESOURCE_EXHAUSTED: the thread has `maxQueued` runs waiting already. */
function queueFull(threadId: string, maxQueued: number) {
  return reasoned(
    Code.ResourceExhausted,
    Reason.RunQueueFull,
    `Thread ${threadId} already has ${maxQueued} runs waiting, the most it may queue; try again once some have run`,
    { metadata: { thread_id: threadId, [RETRY_AFTER_METADATA]: String(QUEUE_FULL_RETRY_AFTER_SECONDS) } },
  );
}

/**
 * The run, and the thread marked busy (its lock is held already), in one statement. With
 * `maxQueued` (> 0), only while the thread has fewer runs waiting: undefined when it has that many.
 */
async function insertRun(
  db: Queryable,
  input: NewRun,
  runValues: unknown[],
  cancelRunning: CreatedRun["cancelRunning"],
  endedPending: string[],
  maxQueued = 0,
): Promise<CreatedRun | undefined> {
  const room =
    maxQueued > 0
      ? `WHERE (SELECT count(*) FROM (SELECT 1 FROM runs WHERE thread_id = $2 AND status = 'pending' LIMIT $13) AS waiting) < $13`
      : "";
  const { rows } = await db.query<RunRow>(
    `WITH r AS (${INSERT_RUN} ${room} RETURNING ${RUN_COLUMNS_BUT_SPEC}),
         t AS (UPDATE threads SET status = 'busy', updated_at = now(), metadata = metadata || $11::jsonb,
               config = ${THREAD_CONFIG}
               WHERE thread_id = (SELECT thread_id FROM r))
       SELECT * FROM r`,
    maxQueued > 0 ? [...runValues, maxQueued] : runValues,
  );
  return rows[0] && { run: withSpec(rows[0], input.spec), cancelRunning, endedPending };
}

async function endPending(db: Queryable, runId: string, action: CancelActionName): Promise<void> {
  if (action === "rollback") await db.query("DELETE FROM runs WHERE run_id = $1", [runId]);
  else {
    await db.query(
      "UPDATE runs SET status = 'interrupted', ended_at = now(), updated_at = now(), cancel_action = $2 WHERE run_id = $1",
      [runId, action],
    );
    await enqueueRunWebhook(db, runId);
  }
}
