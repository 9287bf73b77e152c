import type { Pool } from "@langopen/common";
import { Conditions, inTransaction, type Queryable } from "./sql.js";

export interface CheckpointRow {
  thread_id: string;
  checkpoint_ns: string;
  checkpoint_id: string;
  parent_checkpoint_id: string | null;
  type: string;
  checkpoint: Buffer;
  metadata_text: string;
}

export interface WriteRow {
  checkpoint_ns: string;
  checkpoint_id: string;
  task_id: string;
  idx: number;
  channel: string;
  type: string;
  value: Buffer;
  task_path: string;
}

export interface CheckpointInput {
  threadId: string;
  ns: string;
  checkpointId: string;
  parentId: string | null;
  runId: string | null;
  type: string;
  checkpoint: Uint8Array;
  metadataJson: string;
}

export interface WriteInput {
  taskId: string;
  idx: number;
  channel: string;
  type: string;
  value: Uint8Array;
  taskPath: string;
}

export interface ListFilter {
  threadId: string;
  ns?: string;
  before?: string;
  checkpointId?: string;
  limit: number;
  metadataJson?: string;
}

const COLUMNS = "thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata::text AS metadata_text";

/**
 * Refuses a write made for a run whose lease epoch has moved on (a newer attempt owns it), whose
 * lease has expired (a paused owner that wakes up must not write before the reaper notices), or
 * that no longer runs. Locks the run row so the check holds until the write commits.
 */
export async function checkFence(db: Queryable, runId: string, epoch: bigint): Promise<boolean> {
  const { rows } = await db.query<{ epoch: string; status: string; live: boolean }>(
    "SELECT epoch, status, lease_expires_at > now() AS live FROM runs WHERE run_id = $1 FOR SHARE",
    [runId],
  );
  const row = rows[0];
  return row !== undefined && BigInt(row.epoch) === epoch && row.status === "running" && row.live;
}

export function createCheckpointStore(pool: Pool) {
  return {
    /** The checkpoint (latest when id is empty) with its pending writes. */
    async get(threadId: string, ns: string, checkpointId: string): Promise<{ row: CheckpointRow; writes: WriteRow[] } | undefined> {
      const c = new Conditions().add("thread_id = ?", threadId).add("checkpoint_ns = ?", ns);
      if (checkpointId) c.add("checkpoint_id = ?", checkpointId);
      const { rows } = await pool.query<CheckpointRow>(
        `SELECT ${COLUMNS} FROM checkpoints ${c.where()} ORDER BY checkpoint_id DESC LIMIT 1`,
        c.params,
      );
      const row = rows[0];
      if (!row) return undefined;
      const writes = await pool.query<WriteRow>(
        `SELECT checkpoint_ns, checkpoint_id, task_id, idx, channel, type, value, task_path FROM checkpoint_writes
         WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3 ORDER BY task_id, idx`,
        [threadId, row.checkpoint_ns, row.checkpoint_id],
      );
      return { row, writes: writes.rows };
    },

    async list(filter: ListFilter): Promise<Array<{ row: CheckpointRow; writes: WriteRow[] }>> {
      const c = new Conditions().add("thread_id = ?", filter.threadId);
      if (filter.ns !== undefined) c.add("checkpoint_ns = ?", filter.ns);
      if (filter.before) c.add("checkpoint_id < ?", filter.before);
      if (filter.checkpointId) c.add("checkpoint_id = ?", filter.checkpointId);
      if (filter.metadataJson) c.add("metadata @> ?::jsonb", filter.metadataJson);
      const limit = filter.limit > 0 ? `LIMIT ${c.param(filter.limit)}` : "";
      const { rows } = await pool.query<CheckpointRow>(
        `SELECT ${COLUMNS} FROM checkpoints ${c.where()} ORDER BY checkpoint_id DESC ${limit}`,
        c.params,
      );
      if (rows.length === 0) return [];
      const writes = await pool.query<WriteRow>(
        `SELECT checkpoint_ns, checkpoint_id, task_id, idx, channel, type, value, task_path FROM checkpoint_writes
         WHERE thread_id = $1 AND (checkpoint_ns, checkpoint_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))
         ORDER BY task_id, idx`,
        [filter.threadId, rows.map((r) => r.checkpoint_ns), rows.map((r) => r.checkpoint_id)],
      );
      const byCheckpoint = new Map<string, WriteRow[]>();
      for (const w of writes.rows) {
        const key = `${w.checkpoint_ns}\u0000${w.checkpoint_id}`;
        byCheckpoint.set(key, [...(byCheckpoint.get(key) ?? []), w]);
      }
      return rows.map((row) => ({ row, writes: byCheckpoint.get(`${row.checkpoint_ns}\u0000${row.checkpoint_id}`) ?? [] }));
    },

    /** Writes a checkpoint; with a fence, only while the run's epoch is current. False when fenced off. */
    async put(input: CheckpointInput, fence?: { runId: string; epoch: bigint }): Promise<boolean> {
      return inTransaction(pool, async (db) => {
        if (fence && !(await checkFence(db, fence.runId, fence.epoch))) return false;
        await db.query(
          `INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, run_id, type, checkpoint, metadata, epoch)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)
           ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET
             parent_checkpoint_id = EXCLUDED.parent_checkpoint_id, type = EXCLUDED.type,
             checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata, epoch = EXCLUDED.epoch`,
          [
            input.threadId,
            input.ns,
            input.checkpointId,
            input.parentId,
            input.runId,
            input.type,
            Buffer.from(input.checkpoint),
            input.metadataJson,
            fence ? fence.epoch.toString() : null,
          ],
        );
        return true;
      });
    },

    async putWrites(
      threadId: string,
      ns: string,
      checkpointId: string,
      writes: WriteInput[],
      fence?: { runId: string; epoch: bigint },
    ): Promise<boolean> {
      if (writes.length === 0) return true;
      return inTransaction(pool, async (db) => {
        if (fence && !(await checkFence(db, fence.runId, fence.epoch))) return false;
        await db.query(
          `INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, value, task_path)
           SELECT $1, $2, $3, * FROM unnest($4::text[], $5::int[], $6::text[], $7::text[], $8::bytea[], $9::text[])
           ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO UPDATE SET
             channel = EXCLUDED.channel, type = EXCLUDED.type, value = EXCLUDED.value, task_path = EXCLUDED.task_path`,
          [
            threadId,
            ns,
            checkpointId,
            writes.map((w) => w.taskId),
            writes.map((w) => w.idx),
            writes.map((w) => w.channel),
            writes.map((w) => w.type),
            writes.map((w) => Buffer.from(w.value)),
            writes.map((w) => w.taskPath),
          ],
        );
        return true;
      });
    },

    async deleteThread(threadId: string): Promise<void> {
      await pool.query("DELETE FROM checkpoints WHERE thread_id = $1", [threadId]);
      await pool.query("DELETE FROM checkpoint_writes WHERE thread_id = $1", [threadId]);
    },

  };
}

export type CheckpointStore = ReturnType<typeof createCheckpointStore>;

/** Merges metadata into a checkpoint (the latest of the root namespace when no id is given). */
export async function patchCheckpointMetadata(
  pool: Pool,
  threadId: string,
  ns: string,
  checkpointId: string,
  metadataJson: string,
): Promise<boolean> {
  const { rowCount } = await pool.query(
    `UPDATE checkpoints SET metadata = metadata || $4::jsonb
     WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = coalesce(nullif($3, ''),
       (SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = $2))`,
    [threadId, ns, checkpointId, metadataJson],
  );
  return (rowCount ?? 0) > 0;
}
