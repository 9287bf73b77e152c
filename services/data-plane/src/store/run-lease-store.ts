import type { Pool, PoolClient } from "@langopen/common";
import { decodeSpec } from "../domain/run-spec.js";
import { sqlState } from "./pg-errors.js";
import {
  type CancelActionName,
  type ClaimedRun,
  RUN_COLUMNS_BUT_SPEC,
  type RunRow,
  type RunStatusName,
  SETTLED_STATUS,
  settleThread,
} from "./run-rows.js";
import { inTransaction, lockThread, type Queryable } from "./sql.js";
import { ENDED_RUN_COLUMNS, type EndedRun, enqueueEndedRunWebhook, enqueueRunWebhook } from "./webhook-store.js";

/** How a run attempt ended, for RunLeaseStore.finish. */
export type RunEnd =
  | { kind: "rollback" }
  | {
      kind: "done";
      status: Exclude<RunStatusName, "pending" | "running">;
      /** JSON, as text or as the bytes the runtime sent (stored as they are: no decoding). */
      resultJson?: string | Uint8Array;
      error?: { error: string; message: string };
      thread: { status: "idle" | "interrupted" | "error"; valuesJson?: string | Uint8Array; interruptsJson?: string };
    };

const decoder = new TextDecoder();
/** A JSON parameter: bytes go as a binary parameter (a json column reads them as its text), not decoded. */
const jsonParam = (json: string | Uint8Array) =>
  typeof json === "string" ? json : Buffer.from(json.buffer, json.byteOffset, json.byteLength);
/** JSON text, for a jsonb parameter (whose binary form is not the bare text). */
const jsonTextOf = (json: string | Uint8Array) => (typeof json === "string" ? json : decoder.decode(json));

/** The run attempt a worker ends, for RunLeaseStore.finish. */
export interface LeasedRun {
  runId: string;
  threadId: string;
  epoch: string;
  /**
   * The claimed row's spec and delete_thread_on_end (both fixed when the run is created):
   * a run without a webhook that deletes its thread then ends in one statement.
   */
  claimed?: { spec: Uint8Array; deleteThreadOnEnd: boolean };
}

/**
 * The run queue as the workers see it: claims with a lease (owner, expiry, epoch), heartbeats,
 * hand-backs and retries, the fenced end of an attempt, and the reaper of expired leases. Every
 * write is fenced by the attempt's epoch.
 */
export interface RunLeaseStore {
  /**
   * Claims up to `limit` of the oldest runnable runs (the oldest pending run of each thread
   * with none running) with a fresh lease and epoch, in one statement. A spec larger than
   * INLINE_SPEC_BYTES comes from `knownSpec` when it has it (the run was created in this process),
   * else from a second statement. With `maxSpecBytes`, only runs whose spec (input, config,
   * metadata) is at most that many bytes are claimed.
   */
  claim(
    owner: string,
    leaseMs: number,
    limit?: number,
    knownSpec?: (runId: string) => Uint8Array | undefined,
    maxSpecBytes?: number,
  ): Promise<ClaimedRun[]>;
  /**
   * Extends the lease and reads any cancel asked for meanwhile (so a cancel whose signal was
   * lost still arrives). `owned` is false when the run is no longer ours (fenced off or gone).
   */
  heartbeat(runId: string, epoch: string, leaseMs: number): Promise<{ owned: boolean; cancel: CancelActionName | null }>;
  /**
   * After an infrastructure failure (no outcome from the graph): back to the queue while
   * attempts remain, else ended as an error with the reason. Fenced by the epoch.
   */
  retryLater(
    runId: string,
    epoch: string,
    maxAttempts: number,
    error: { error: string; message: string },
  ): Promise<"requeued" | "gave-up" | "fenced">;
  /**
   * Returns a run this worker is giving up (shutdown) to the queue without counting the
   * attempt; the epoch moves on, so anything the old attempt still writes is refused.
   */
  handBack(runId: string, epoch: string): Promise<boolean>;
  /** The cancel asked for a run, if any. */
  cancelAction(runId: string): Promise<CancelActionName | null>;
  /**
   * Records the end of a run, fenced by its epoch, and settles its thread. Rollback deletes the
   * run and what it wrote. `fenced` when a newer attempt owns the run; `webhookQueued` when the
   * end queued a webhook delivery (the dispatchers are worth waking).
   */
  finish(
    run: LeasedRun,
    end: RunEnd,
  ): Promise<{ fenced: boolean; deleteThread: boolean; threadBusy?: boolean; webhookQueued?: boolean }>;
  /** Sets a thread's values after a rolled-back run (the state its runtime reports). */
  setThreadState(
    threadId: string,
    state: { status: "idle" | "interrupted" | "error"; valuesJson: string; interruptsJson: string },
  ): Promise<void>;
  /** Returns runs whose lease expired to the queue (bounded attempts) or ends them as errors. */
  reap(maxAttempts: number): Promise<{ requeued: string[]; failed: Array<{ runId: string; threadId: string }> }>;
}

/** The largest spec a claim reads with the run; a larger one the claimer has already, or reads apart. */
export const INLINE_SPEC_BYTES = 65_536;

/**
 * The columns of a claimed run, its spec as base64 when it is at most INLINE_SPEC_BYTES (Buffer.from
 * decodes it; Postgres's line breaks are skipped). A spec holds the run's input, which may be
 * megabytes: bytea would come as hex, twice its size, and decoding that in `pg` (as a string, then
 * from hex) took a second for a 9 MB input, base64 a fifth of that, and none when the claiming
 * process created the run (claim's knownSpec).
 */
const CLAIMED_COLUMNS = `${RUN_COLUMNS_BUT_SPEC.split(",")
  .map((column) => `runs.${column.trim()}`)
  .join(", ")},
  CASE WHEN octet_length(runs.spec) <= ${INLINE_SPEC_BYTES} THEN encode(runs.spec, 'base64') END AS spec_base64`;

/*
 * The end of a run, for the statements of RunStore.finish ($1 run, $2 epoch, $3 status, $4 result,
 * $5 error, $6 thread): the thread's lock (`t`), the end's columns, and the fence, which reaches
 * the run's row only once the thread's lock is held (thread, then run, as everywhere).
 */
const LOCK_THREAD = "t AS (SELECT thread_id FROM threads WHERE thread_id = $6 FOR NO KEY UPDATE)";
const END_RUN = `status = $3, result = $4::json, error = $5::jsonb, ended_at = now(), updated_at = now(),
  lease_owner = NULL, lease_expires_at = NULL`;
const FENCED_RUN = "run_id = $1 AND epoch = $2 AND status = 'running' AND EXISTS (SELECT 1 FROM t)";

export function createRunLeaseStore(pool: Pool): RunLeaseStore {
  return {
    /**
     * Claims up to `limit` of the oldest runnable runs (the oldest pending run of each thread
     * with none running) with a fresh lease and epoch, in one statement.
     */
    async claim(
      owner: string,
      leaseMs: number,
      limit = 1,
      knownSpec?: (runId: string) => Uint8Array | undefined,
      maxSpecBytes?: number,
    ): Promise<ClaimedRun[]> {
      let claimed: Array<Omit<ClaimedRun, "spec"> & { spec_base64: string | null }>;
      try {
        ({ rows: claimed } = await pool.query<Omit<ClaimedRun, "spec"> & { spec_base64: string | null }>(
          `WITH candidate AS (
             SELECT r.run_id FROM runs r
             WHERE r.status = 'pending' AND r.run_after <= now()
               AND NOT EXISTS (SELECT 1 FROM runs x WHERE x.thread_id = r.thread_id AND x.status = 'running')
               AND NOT EXISTS (SELECT 1 FROM runs y WHERE y.thread_id = r.thread_id AND y.status = 'pending'
                                 AND (y.created_at, y.run_id) < (r.created_at, r.run_id))
               -- octet_length reads a stored value's size from its header, without reading the value.
               AND ($4::bigint IS NULL OR octet_length(r.spec) <= $4::bigint)
             ORDER BY r.run_after, r.created_at
             FOR UPDATE SKIP LOCKED
             LIMIT $3)
           UPDATE runs SET status = 'running', epoch = epoch + 1, attempt = attempt + 1, lease_owner = $1,
             lease_expires_at = now() + make_interval(secs => $2::float8 / 1000), started_at = coalesce(started_at, now()),
             updated_at = now()
           FROM candidate WHERE runs.run_id = candidate.run_id
           RETURNING ${CLAIMED_COLUMNS}`,
          [owner, leaseMs, Math.max(1, Math.floor(limit)), maxSpecBytes === undefined ? null : Math.floor(maxSpecBytes)],
        ));
      } catch (err) {
        // Another worker claimed a run of the same thread first: the unique index said no.
        if (sqlState(err) === "23505") return [];
        throw err;
      }
      const specs = new Map<string, Uint8Array>();
      const missing: string[] = [];
      for (const row of claimed) {
        // Asked for every run, so that what this process kept for one goes once it is claimed.
        const known = knownSpec?.(row.run_id);
        if (row.spec_base64 !== null) specs.set(row.run_id, Buffer.from(row.spec_base64, "base64"));
        else if (known !== undefined) specs.set(row.run_id, known);
        else missing.push(row.run_id);
      }
      if (missing.length > 0) {
        const { rows } = await pool.query<{ run_id: string; spec_base64: string }>(
          "SELECT run_id, encode(spec, 'base64') AS spec_base64 FROM runs WHERE run_id = ANY($1::uuid[])",
          [missing],
        );
        for (const row of rows) specs.set(row.run_id, Buffer.from(row.spec_base64, "base64"));
      }
      // A run whose spec is not there any more was deleted with its thread meanwhile: nothing to run.
      return claimed.flatMap(({ spec_base64: _inline, ...row }) => {
        const spec = specs.get(row.run_id);
        return spec ? [{ ...row, spec: Buffer.from(spec.buffer, spec.byteOffset, spec.byteLength) }] : [];
      });
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
    async finish(run, end) {
      const endParams = (done: Extract<RunEnd, { kind: "done" }>) => [
        run.runId,
        run.epoch,
        done.status,
        done.resultJson === undefined ? null : jsonParam(done.resultJson),
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
        // The thread's values are most often the run's result itself ($10): then they are sent once.
        const valuesAreResult = end.thread.valuesJson !== undefined && end.thread.valuesJson === end.resultJson;
        const { rows } = await pool.query<{ busy: boolean }>(
          `WITH ${LOCK_THREAD},
             r AS (UPDATE runs SET ${END_RUN} WHERE ${FENCED_RUN} AND NOT delete_thread_on_end RETURNING run_id)
           UPDATE threads SET status = ${SETTLED_STATUS("$6", "$7", "$1")}, updated_at = now(),
             "values" = CASE WHEN $10::boolean THEN $4::json::jsonb WHEN $8::jsonb IS NULL THEN "values" ELSE $8::jsonb END,
             interrupts = CASE WHEN $10::boolean OR $8::jsonb IS NOT NULL THEN coalesce($9::jsonb, '{}'::jsonb) ELSE interrupts END,
             state_updated_at = CASE WHEN $10::boolean OR $8::jsonb IS NOT NULL THEN now() ELSE state_updated_at END
           WHERE thread_id = $6 AND EXISTS (SELECT 1 FROM r)
           RETURNING status = 'busy' AS busy`,
          [
            ...endParams(end),
            end.thread.status,
            valuesAreResult || end.thread.valuesJson === undefined ? null : jsonTextOf(end.thread.valuesJson),
            end.thread.interruptsJson ?? null,
            valuesAreResult,
          ],
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
        const { valuesJson } = end.thread;
        const { busy } = await settleThread(db, run.threadId, {
          ...end.thread,
          valuesJson: valuesJson === undefined ? undefined : jsonTextOf(valuesJson),
        });
        const webhookQueued = await enqueueEndedRunWebhook(db, row);
        return { fenced: false, deleteThread: false, threadBusy: busy, webhookQueued };
      });
    },

    async setThreadState(threadId, state) {
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

async function deleteRunWrites(db: Queryable, threadId: string, runId: string): Promise<void> {
  await db.query(
    `DELETE FROM checkpoint_writes w USING checkpoints c
     WHERE c.thread_id = $1 AND c.run_id = $2 AND w.thread_id = c.thread_id
       AND w.checkpoint_ns = c.checkpoint_ns AND w.checkpoint_id = c.checkpoint_id`,
    [threadId, runId],
  );
  await db.query("DELETE FROM checkpoints WHERE thread_id = $1 AND run_id = $2", [threadId, runId]);
}
