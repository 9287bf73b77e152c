import type { JsonObject } from "@bufbuild/protobuf";
import { failedPrecondition, notFound, Reason, type Pool, type PoolClient } from "@langopen/common";
import { decodeSpec } from "../domain/run-spec.js";
import { inTransaction, LIVE_THREAD, lockThread, type Queryable } from "./sql.js";
import { ENDED_RUN_COLUMNS, type EndedRun, enqueueEndedRunWebhook, enqueueRunWebhook } from "./webhook-store.js";

export type RunStatusName = "pending" | "running" | "success" | "error" | "timeout" | "interrupted";
export type MultitaskName = "reject" | "interrupt" | "rollback" | "enqueue";
export type CancelActionName = "interrupt" | "rollback";

export interface RunRow {
  run_id: string;
  /** Null once a stateless run's temporary thread is deleted. */
  thread_id: string | null;
  assistant_id: string;
  graph_id: string;
  status: RunStatusName;
  metadata: JsonObject;
  spec: Buffer;
  multitask_strategy: MultitaskName;
  delete_thread_on_end: boolean;
  run_after: Date;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  ended_at: Date | null;
  attempt: number;
  epoch: string;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  cancel_action: CancelActionName | null;
  result: unknown;
  error: { error: string; message: string } | null;
}

/** A claimed run: pending and running runs always have their thread. */
export type ClaimedRun = RunRow & { thread_id: string };

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
}

/** Runs that a create pre-empted and that are still running: the caller signals their cancel. */
export interface CreatedRun {
  run: RunRow;
  cancelRunning: Array<{ runId: string; action: CancelActionName }>;
  /** Runs that were pending and were ended at once (interrupted or rolled back). */
  endedPending: string[];
}

const ACTIVE = "('pending', 'running')";

/**
 * Inserts a run from the parameters $1..$10 of NewRun (see create); the caller appends the
 * FROM clause or wraps it. $11 (the thread's link metadata) is for the caller's other clauses.
 */
const INSERT_RUN = `INSERT INTO runs (run_id, thread_id, assistant_id, graph_id, metadata, spec, multitask_strategy,
    delete_thread_on_end, run_after, request_id)
  SELECT $1::uuid, $2::uuid, $3::uuid, $4::text, $5::jsonb, $6::bytea, $7::text, $8::boolean,
    now() + make_interval(secs => $9::float8), $10::text`;

/*
 * The end of a run, for the statements of RunStore.finish ($1 run, $2 epoch, $3 status, $4 result,
 * $5 error, $6 thread): the thread's lock (`t`), the end's columns, and the fence, which reaches
 * the run's row only once the thread's lock is held (thread, then run, as everywhere).
 */
const LOCK_THREAD = "t AS (SELECT thread_id FROM threads WHERE thread_id = $6 FOR NO KEY UPDATE)";
const END_RUN = `status = $3, result = $4::jsonb, error = $5::jsonb, ended_at = now(), updated_at = now(),
  lease_owner = NULL, lease_expires_at = NULL`;
const FENCED_RUN = "run_id = $1 AND epoch = $2 AND status = 'running' AND EXISTS (SELECT 1 FROM t)";

/**
 * The thread's status once nothing is running on it (`thread` the thread's parameter, `state` the
 * outcome's, `ending` a run still counted active in the statement's snapshot): busy while other
 * runs wait, else the outcome of its latest state.
 */
const SETTLED_STATUS = (thread: string, state: string, ending?: string) =>
  `CASE WHEN EXISTS (SELECT 1 FROM runs WHERE thread_id = ${thread} AND status IN ${ACTIVE}${ending ? ` AND run_id <> ${ending}` : ""})
     THEN 'busy' ELSE coalesce(${state}, CASE WHEN status = 'busy' THEN 'idle' ELSE status END) END`;

/**
 * The thread's status once nothing is running on it, from the outcome of its latest state.
 * Queued runs keep it busy.
 */
async function settleThread(
  db: Queryable,
  threadId: string,
  state: { status: "idle" | "interrupted" | "error"; valuesJson?: string; interruptsJson?: string } | undefined,
): Promise<{ busy: boolean }> {
  const sets = [`status = ${SETTLED_STATUS("$1", "$2")}`, "updated_at = now()"];
  const params: unknown[] = [threadId, state?.status ?? null];
  if (state?.valuesJson !== undefined) {
    params.push(state.valuesJson, state.interruptsJson ?? "{}");
    sets.push(`"values" = $3::jsonb`, "interrupts = $4::jsonb", "state_updated_at = now()");
  }
  const { rows } = await db.query<{ busy: boolean }>(
    `UPDATE threads SET ${sets.join(", ")} WHERE thread_id = $1 RETURNING status = 'busy' AS busy`,
    params,
  );
  return { busy: rows[0]?.busy ?? false };
}

export function createRunStore(pool: Pool) {
  return {
    /**
     * Creates a run in one transaction: locks the thread, applies the multitask strategy,
     * inserts the run as pending and marks the thread busy.
     */
    async create(input: NewRun): Promise<CreatedRun> {
      const link = JSON.stringify({ graph_id: input.graphId, assistant_id: input.assistantId });
      const runValues = [
        input.runId,
        input.threadId,
        input.assistantId,
        input.graphId,
        input.metadata,
        Buffer.from(input.spec),
        input.multitask,
        input.deleteThreadOnEnd,
        input.afterSeconds,
        input.requestId,
        link,
      ];
      if (input.createThread && !input.requestId) {
        // A thread that does not exist yet (always so for a stateless run) has no runs and no other
        // writer: it and its run are inserted in one statement, already busy, with no transaction.
        // When the thread exists, nothing is inserted and the general path below decides.
        const { rows } = await pool.query<RunRow>(
          `WITH t AS (
             INSERT INTO threads (thread_id, metadata, status) VALUES ($2, $11::jsonb, 'busy')
             ON CONFLICT (thread_id) DO NOTHING
             RETURNING thread_id)
           ${INSERT_RUN} FROM t RETURNING *`,
          runValues,
        );
        if (rows[0]) return { run: rows[0], cancelRunning: [], endedPending: [] };
      }
      if (input.multitask === "enqueue" && !input.createThread && !input.requestId) {
        // Enqueued on an existing thread (the default): the active runs stay as they are, so the
        // thread's lock, the run and the busy mark go in one statement, with no transaction. No row
        // back: the thread is missing or expired.
        const { rows } = await pool.query<RunRow>(
          `WITH t AS (SELECT thread_id FROM threads WHERE thread_id = $2 AND ${LIVE_THREAD} FOR NO KEY UPDATE),
             r AS (${INSERT_RUN} FROM t RETURNING *),
             u AS (UPDATE threads SET status = 'busy', updated_at = now(), metadata = metadata || $11::jsonb
                   WHERE thread_id = (SELECT thread_id FROM r))
           SELECT * FROM r`,
          runValues,
        );
        if (!rows[0]) throw notFound("Thread", input.threadId);
        return { run: rows[0], cancelRunning: [], endedPending: [] };
      }
      return inTransaction(pool, async (db) => {
        if (input.requestId) {
          const prior = await db.query<RunRow>("SELECT * FROM runs WHERE request_id = $1", [input.requestId]);
          if (prior.rows[0]) return { run: prior.rows[0], cancelRunning: [], endedPending: [] };
        }
        if (input.createThread) {
          await db.query(`INSERT INTO threads (thread_id, metadata) VALUES ($1, $2::jsonb) ON CONFLICT (thread_id) DO NOTHING`, [
            input.threadId,
            link,
          ]);
        }
        if (!(await lockThread(db, input.threadId, { liveOnly: true }))) throw notFound("Thread", input.threadId);

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
        // The run, and the thread marked busy (its lock is held already), in one statement.
        const { rows } = await db.query<RunRow>(
          `WITH r AS (${INSERT_RUN} RETURNING *),
             t AS (UPDATE threads SET status = 'busy', updated_at = now(), metadata = metadata || $11::jsonb WHERE thread_id = $2)
           SELECT * FROM r`,
          runValues,
        );
        return { run: rows[0] as RunRow, cancelRunning, endedPending };
      });
    },

    async get(runId: string, threadId?: string): Promise<RunRow | undefined> {
      // A stateless run whose temporary thread is gone has no thread any more.
      const { rows } = threadId
        ? await pool.query<RunRow>("SELECT * FROM runs WHERE run_id = $1 AND (thread_id = $2 OR thread_id IS NULL)", [
            runId,
            threadId,
          ])
        : await pool.query<RunRow>("SELECT * FROM runs WHERE run_id = $1", [runId]);
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

    /** Deletes a run that is not active; false when there is no such run. */
    async delete(threadId: string, runId: string): Promise<"deleted" | "missing" | "active"> {
      const { rows } = await pool.query<{ status: RunStatusName }>(
        `DELETE FROM runs WHERE run_id = $1 AND thread_id = $2 AND status NOT IN ${ACTIVE}
         RETURNING status`,
        [runId, threadId],
      );
      if (rows[0]) return "deleted";
      return (await this.get(runId, threadId)) ? "active" : "missing";
    },

    /**
     * Requests a cancel. A pending run ends at once; a running one is marked and its worker is
     * signalled by the caller. Answers what happened, or undefined when the run does not exist.
     */
    async cancel(
      runId: string,
      threadId: string | undefined,
      action: CancelActionName,
    ): Promise<{ outcome: "ended" | "signal" | "already-done"; threadId: string } | undefined> {
      const found = await this.get(runId, threadId);
      if (!found) return undefined;
      return inTransaction(pool, async (db) => {
        if (found.thread_id) await lockThread(db, found.thread_id);
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

    /** Ids of active runs matching a bulk cancel. */
    async activeRuns(filter: { threadId?: string; runIds?: string[]; statuses?: RunStatusName[] }): Promise<RunRow[]> {
      const params: unknown[] = [];
      const clauses = [`status IN ${ACTIVE}`];
      if (filter.threadId) {
        params.push(filter.threadId);
        clauses.push(`thread_id = $${params.length}`);
      }
      if (filter.runIds && filter.runIds.length > 0) {
        params.push(filter.runIds);
        clauses.push(`run_id = ANY($${params.length}::uuid[])`);
      }
      if (filter.statuses && filter.statuses.length > 0) {
        params.push(filter.statuses);
        clauses.push(`status = ANY($${params.length}::text[])`);
      }
      const { rows } = await pool.query<RunRow>(`SELECT * FROM runs WHERE ${clauses.join(" AND ")}`, params);
      return rows;
    },

    // ---- worker side ----

    /**
     * Claims up to `limit` of the oldest runnable runs (the oldest pending run of each thread
     * with none running) with a fresh lease and epoch, in one statement.
     */
    async claim(owner: string, leaseMs: number, limit = 1): Promise<ClaimedRun[]> {
      try {
        const { rows } = await pool.query<ClaimedRun>(
          `WITH candidate AS (
             SELECT r.run_id FROM runs r
             WHERE r.status = 'pending' AND r.run_after <= now()
               AND NOT EXISTS (SELECT 1 FROM runs x WHERE x.thread_id = r.thread_id AND x.status = 'running')
               AND NOT EXISTS (SELECT 1 FROM runs y WHERE y.thread_id = r.thread_id AND y.status = 'pending'
                                 AND (y.created_at, y.run_id) < (r.created_at, r.run_id))
             ORDER BY r.run_after, r.created_at
             FOR UPDATE SKIP LOCKED
             LIMIT $3)
           UPDATE runs SET status = 'running', epoch = epoch + 1, attempt = attempt + 1, lease_owner = $1,
             lease_expires_at = now() + make_interval(secs => $2::float8 / 1000), started_at = coalesce(started_at, now()),
             updated_at = now()
           FROM candidate WHERE runs.run_id = candidate.run_id
           RETURNING runs.*`,
          [owner, leaseMs, Math.max(1, Math.floor(limit))],
        );
        return rows;
      } catch (err) {
        // Another worker claimed a run of the same thread first: the unique index said no.
        if ((err as { code?: string }).code === "23505") return [];
        throw err;
      }
    },

    /**
     * Extends the lease and reads any cancel asked for meanwhile (so a cancel whose signal was
     * lost still arrives). `owned` is false when the run is no longer ours (fenced off or gone).
     */
    async heartbeat(runId: string, epoch: string, leaseMs: number): Promise<{ owned: boolean; cancel: CancelActionName | null }> {
      const { rows } = await pool.query<{ cancel_action: CancelActionName | null }>(
        `UPDATE runs SET lease_expires_at = now() + make_interval(secs => $3::float8 / 1000)
         WHERE run_id = $1 AND epoch = $2 AND status = 'running'
         RETURNING cancel_action`,
        [runId, epoch, leaseMs],
      );
      return { owned: rows.length > 0, cancel: rows[0]?.cancel_action ?? null };
    },

    /**
     * After an infrastructure failure (no outcome from the graph): back to the queue while
     * attempts remain, else ended as an error with the reason. Fenced by the epoch.
     */
    async retryLater(
      runId: string,
      epoch: string,
      maxAttempts: number,
      error: { error: string; message: string },
    ): Promise<"requeued" | "gave-up" | "fenced"> {
      return inTransaction(pool, async (db) => {
        const { rows } = await db.query<RunRow>("SELECT * FROM runs WHERE run_id = $1", [runId]);
        const row = rows[0];
        if (!row?.thread_id || row.epoch !== epoch || row.status !== "running") return "fenced";
        await lockThread(db, row.thread_id);
        const locked = await db.query<RunRow>("SELECT * FROM runs WHERE run_id = $1 FOR UPDATE", [runId]);
        const current = locked.rows[0];
        if (!current || current.epoch !== epoch || current.status !== "running") return "fenced";
        if (current.attempt < maxAttempts) {
          await db.query(
            `UPDATE runs SET status = 'pending', epoch = epoch + 1, lease_owner = NULL, lease_expires_at = NULL,
               updated_at = now() WHERE run_id = $1`,
            [runId],
          );
          return "requeued";
        }
        const given = { error: error.error, message: `gave up after ${current.attempt} attempts: ${error.message}` };
        await db.query(
          `UPDATE runs SET status = 'error', error = $2::jsonb, ended_at = now(), updated_at = now(),
             lease_owner = NULL, lease_expires_at = NULL WHERE run_id = $1`,
          [runId, JSON.stringify(given)],
        );
        await settleThread(db, current.thread_id as string, { status: "error" });
        await enqueueRunWebhook(db, runId);
        return "gave-up";
      });
    },

    /**
     * Returns a run this worker is giving up (shutdown) to the queue without counting the
     * attempt; the epoch moves on, so anything the old attempt still writes is refused.
     */
    async handBack(runId: string, epoch: string): Promise<boolean> {
      const { rowCount } = await pool.query(
        `UPDATE runs SET status = 'pending', attempt = greatest(attempt - 1, 0), epoch = epoch + 1,
           lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
         WHERE run_id = $1 AND epoch = $2 AND status = 'running'`,
        [runId, epoch],
      );
      return (rowCount ?? 0) > 0;
    },

    async cancelAction(runId: string): Promise<CancelActionName | null> {
      const { rows } = await pool.query<{ cancel_action: CancelActionName | null }>(
        "SELECT cancel_action FROM runs WHERE run_id = $1",
        [runId],
      );
      return rows[0]?.cancel_action ?? null;
    },

    /**
     * Records the end of a run, fenced by its epoch, and settles its thread. Rollback deletes the
     * run and what it wrote. `fenced` when a newer attempt owns the run; `webhookQueued` when the
     * end queued a webhook delivery (the dispatchers are worth waking).
     */
    async finish(
      run: {
        runId: string;
        threadId: string;
        epoch: string;
        /**
         * The claimed row's spec and delete_thread_on_end (both fixed when the run is created):
         * a run without a webhook that deletes its thread then ends in one statement.
         */
        claimed?: { spec: Uint8Array; deleteThreadOnEnd: boolean };
      },
      end:
        | { kind: "rollback" }
        | {
            kind: "done";
            status: Exclude<RunStatusName, "pending" | "running">;
            resultJson?: string;
            error?: { error: string; message: string };
            thread: { status: "idle" | "interrupted" | "error"; valuesJson?: string; interruptsJson?: string };
          },
    ): Promise<{ fenced: boolean; deleteThread: boolean; threadBusy?: boolean; webhookQueued?: boolean }> {
      const endParams = (done: Extract<typeof end, { kind: "done" }>) => [
        run.runId,
        run.epoch,
        done.status,
        done.resultJson ?? null,
        done.error ? JSON.stringify(done.error) : null,
        run.threadId,
      ];
      // A claimed run's spec (so its webhook) is fixed at its creation: no webhook, nothing to queue at its end.
      const noWebhook = run.claimed !== undefined && decodeSpec(run.claimed.spec).webhook === "";
      if (end.kind === "done" && noWebhook && run.claimed?.deleteThreadOnEnd) {
        // No webhook to queue: the end and its temporary thread's deletion in one statement, no
        // transaction. Lock order as everywhere, thread then run: the UPDATE reaches the run's row
        // only once the EXISTS over `t` holds, i.e. once the thread's row is locked. The fence
        // (epoch, status) is rechecked on the newest row version; the DELETE needs the UPDATE's
        // output, so only an ended run's thread goes. The run outlives it: its thread_id is NULL
        // before the deletion's cascade runs (at the end of the statement).
        const { rows } = await pool.query(
          `WITH ${LOCK_THREAD},
             r AS (UPDATE runs SET ${END_RUN}, thread_id = NULL WHERE ${FENCED_RUN} AND delete_thread_on_end RETURNING run_id),
             d AS (DELETE FROM threads WHERE thread_id = $6 AND EXISTS (SELECT 1 FROM r))
           SELECT run_id FROM r`,
          endParams(end),
        );
        if (rows.length > 0) return { fenced: false, deleteThread: true, webhookQueued: false };
        // Nothing changed: fenced, most likely; the general path below says so for certain.
      }
      if (end.kind === "done" && noWebhook && !run.claimed?.deleteThreadOnEnd) {
        // A run that keeps its thread, without a webhook: the end and the thread's new state in one
        // statement, no transaction; thread, then run, as above. The statement's snapshot still
        // shows this run active, so the thread's status leaves it out by id; the other runs of the
        // thread cannot change meanwhile (whoever changes them holds the thread's lock first).
        const { rows } = await pool.query<{ busy: boolean }>(
          `WITH ${LOCK_THREAD},
             r AS (UPDATE runs SET ${END_RUN} WHERE ${FENCED_RUN} AND NOT delete_thread_on_end RETURNING run_id)
           UPDATE threads SET status = ${SETTLED_STATUS("$6", "$7", "$1")}, updated_at = now(),
             "values" = CASE WHEN $8::jsonb IS NULL THEN "values" ELSE $8::jsonb END,
             interrupts = CASE WHEN $8::jsonb IS NULL THEN interrupts ELSE coalesce($9::jsonb, '{}'::jsonb) END,
             state_updated_at = CASE WHEN $8::jsonb IS NULL THEN state_updated_at ELSE now() END
           WHERE thread_id = $6 AND EXISTS (SELECT 1 FROM r)
           RETURNING status = 'busy' AS busy`,
          [...endParams(end), end.thread.status, end.thread.valuesJson ?? null, end.thread.interruptsJson ?? null],
        );
        if (rows[0]) return { fenced: false, deleteThread: false, threadBusy: rows[0].busy, webhookQueued: false };
        // Nothing changed: fenced, most likely; the general path below says so for certain.
      }
      return inTransaction(pool, async (db) => {
        if (end.kind === "rollback") {
          await lockThread(db, run.threadId);
          const { rows } = await db.query<RunRow>("SELECT * FROM runs WHERE run_id = $1 FOR UPDATE", [run.runId]);
          const row = rows[0];
          if (!row || row.epoch !== run.epoch || row.status !== "running") return { fenced: true, deleteThread: false };
          await deleteRunWrites(db, run.threadId, run.runId);
          await db.query("DELETE FROM runs WHERE run_id = $1", [run.runId]);
          if (row.delete_thread_on_end) {
            await db.query("DELETE FROM threads WHERE thread_id = $1", [run.threadId]);
            return { fenced: false, deleteThread: true };
          }
          await settleThread(db, run.threadId, undefined);
          return { fenced: false, deleteThread: false };
        }
        // The thread's lock and the fenced update in one statement: the thread's lock first, then
        // the run's, as everywhere (the UPDATE locks the run's row only once the EXISTS over `t`
        // holds, that is, once the thread's row is locked; a running run's thread always exists).
        // A run that outlives its temporary thread lets go of it here, and what the end's webhook
        // needs comes back with the update instead of being read again.
        const { rows } = await db.query<EndedRun>(
          `WITH ${LOCK_THREAD}
           UPDATE runs SET ${END_RUN}, thread_id = CASE WHEN delete_thread_on_end THEN NULL ELSE thread_id END
           WHERE ${FENCED_RUN}
           RETURNING ${ENDED_RUN_COLUMNS}`,
          endParams(end),
        );
        const row = rows[0];
        if (!row) return { fenced: true, deleteThread: false };
        if (row.delete_thread_on_end) {
          // The run outlives its temporary thread, so it can still be fetched and joined.
          const webhookQueued = await enqueueEndedRunWebhook(db, row);
          await db.query("DELETE FROM threads WHERE thread_id = $1", [run.threadId]);
          return { fenced: false, deleteThread: true, webhookQueued };
        }
        // Still busy: another run of the thread waits in the queue, and a worker must be woken for it.
        const { busy } = await settleThread(db, run.threadId, end.thread);
        const webhookQueued = await enqueueEndedRunWebhook(db, row);
        return { fenced: false, deleteThread: false, threadBusy: busy, webhookQueued };
      });
    },

    /** Sets a thread's values after its state changed outside a run (rollback, update_state). */
    async setThreadState(
      threadId: string,
      state: { status: "idle" | "interrupted" | "error"; valuesJson: string; interruptsJson: string },
    ): Promise<void> {
      await settleThread(pool, threadId, state);
    },

    /** Returns runs whose lease expired to the queue (bounded attempts) or ends them as errors. */
    async reap(maxAttempts: number): Promise<{ requeued: string[]; failed: Array<{ runId: string; threadId: string }> }> {
      return inTransaction(pool, async (db: PoolClient) => {
        // A run given up settles its thread: those threads are locked first, as everywhere (thread,
        // then run), so that the reaper cannot deadlock with a transaction that locks them the other way.
        const { rows: locked } = await db.query<{ thread_id: string }>(
          `SELECT thread_id FROM threads WHERE thread_id IN (
             SELECT thread_id FROM runs WHERE status = 'running' AND lease_expires_at < now() AND attempt >= $1)
           ORDER BY thread_id FOR NO KEY UPDATE`,
          [maxAttempts],
        );
        const lockedThreads = new Set(locked.map((r) => r.thread_id));
        const expired = await db.query<RunRow>(
          `SELECT * FROM runs WHERE status = 'running' AND lease_expires_at < now() FOR UPDATE SKIP LOCKED`,
        );
        const requeued: string[] = [];
        const failed: Array<{ runId: string; threadId: string }> = [];
        for (const run of expired.rows) {
          // Its lease ran out after the threads were locked: the next pass gives it up.
          if (run.attempt >= maxAttempts && run.thread_id && !lockedThreads.has(run.thread_id)) continue;
          if (run.attempt < maxAttempts) {
            await db.query(
              `UPDATE runs SET status = 'pending', epoch = epoch + 1, lease_owner = NULL, lease_expires_at = NULL,
                 updated_at = now() WHERE run_id = $1`,
              [run.run_id],
            );
            requeued.push(run.run_id);
          } else {
            await db.query(
              `UPDATE runs SET status = 'error', epoch = epoch + 1, ended_at = now(), updated_at = now(),
                 lease_owner = NULL, lease_expires_at = NULL, error = $2::jsonb WHERE run_id = $1`,
              [
                run.run_id,
                JSON.stringify({
                  error: "RunLeaseExpired",
                  message: `run lost its worker ${run.attempt} times and was given up`,
                }),
              ],
            );
            if (run.thread_id) await settleThread(db, run.thread_id, { status: "error" });
            await enqueueRunWebhook(db, run.run_id);
            failed.push({ runId: run.run_id, threadId: run.thread_id ?? "" });
          }
        }
        return { requeued, failed };
      });
    },
  };
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

async function deleteRunWrites(db: Queryable, threadId: string, runId: string): Promise<void> {
  await db.query(
    `DELETE FROM checkpoint_writes w USING checkpoints c
     WHERE c.thread_id = $1 AND c.run_id = $2 AND w.thread_id = c.thread_id
       AND w.checkpoint_ns = c.checkpoint_ns AND w.checkpoint_id = c.checkpoint_id`,
    [threadId, runId],
  );
  await db.query("DELETE FROM checkpoints WHERE thread_id = $1 AND run_id = $2", [threadId, runId]);
}

export type RunStore = ReturnType<typeof createRunStore>;
