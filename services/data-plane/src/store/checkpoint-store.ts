import type { Pool } from "@langopen/common";
import { Conditions, type Queryable } from "./sql.js";

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

/** A checkpoint's pending writes as parallel arrays (null when it has none), their values as base64. */
interface AggregatedWrites {
  w_task_ids: string[] | null;
  w_idxs: number[] | null;
  w_channels: string[] | null;
  w_types: string[] | null;
  w_values: string[] | null;
  w_task_paths: string[] | null;
}

/** A row as read: its blob column (`checkpoint` by default) as base64 text. */
type Base64<Row, Column extends keyof Row = "checkpoint" & keyof Row> = Omit<Row, Column> & Record<Column, string>;

/**
 * The columns of a CheckpointRow, the checkpoint as base64 (fromBase64 decodes it). A checkpoint
 * holds a thread's whole state, which may be megabytes: bytea comes as hex text of twice its size,
 * which Postgres writes and `pg` decodes (as a string, then from hex), several times slower.
 */
const COLUMNS =
  "thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, encode(checkpoint, 'base64') AS checkpoint, metadata::text AS metadata_text";

/** Bytes read as base64 (Postgres's line breaks are skipped). */
const fromBase64 = (text: string) => Buffer.from(text, "base64");

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

/**
 * checkFence as part of a single write statement: $9 is the epoch and $10 the run of the fence
 * (both null for an unfenced write), and the run must be one of the thread written ($1): a run's
 * fence lets it write its own thread only. The CTE share-locks the run row while the statement runs.
 */
const FENCE_CTE = `fence AS (
  SELECT 1 FROM runs WHERE run_id = $10::uuid AND epoch = $9::bigint AND status = 'running' AND lease_expires_at > now()
    AND thread_id = $1::uuid
  FOR SHARE)`;
const FENCE_HOLDS = "($10::uuid IS NULL OR EXISTS (SELECT 1 FROM fence))";

type Fence = { runId: string; epoch: bigint };

/** One write of a batch. */
export type BatchWrite =
  | { kind: "checkpoint"; input: CheckpointInput }
  | { kind: "writes"; threadId: string; ns: string; checkpointId: string; writes: WriteInput[] };

/** A view of bytes as a Buffer, without copying them (checkpoints may be megabytes). */
const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

async function putRow(db: Queryable, input: CheckpointInput, fence?: { runId: string; epoch: bigint }): Promise<boolean> {
  // One statement: the fence's share lock on the run is held until its transaction commits.
  const { rowCount } = await db.query(
    `WITH ${FENCE_CTE}
       INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, run_id, type, checkpoint, metadata, epoch)
       SELECT $1::uuid, $2::text, $3::text, $4::text, $5::uuid, $6::text, $7::bytea, $8::jsonb, $9::bigint WHERE ${FENCE_HOLDS}
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
      asBuffer(input.checkpoint),
      input.metadataJson,
      fence ? fence.epoch.toString() : null,
      fence?.runId ?? null,
    ],
  );
  return (rowCount ?? 0) > 0;
}

async function putWritesRow(
  db: Queryable,
  threadId: string,
  ns: string,
  checkpointId: string,
  writes: WriteInput[],
  fence?: { runId: string; epoch: bigint },
): Promise<boolean> {
  if (writes.length === 0) return true;
  // As a batch of one: its rows as VALUES lists, each value a parameter of its own (see putBatchRows).
  return putBatchRows(db, [{ kind: "writes", threadId, ns, checkpointId, writes }], fence);
}

/** The threads a batch writes. */
function threadsOf(writes: BatchWrite[]): Set<string> {
  return new Set(writes.map((b) => (b.kind === "checkpoint" ? b.input.threadId : b.threadId)));
}

/**
 * Every write of a batch in one statement: the checkpoints and the pending writes each in one
 * multi-row INSERT, behind one fence check (false when it fails: then nothing is written). The
 * fence holds only for a batch of its run's own thread. A row written twice in a batch keeps its
 * later value, as separate writes in order would leave it (one statement may not touch a row
 * twice, so the earlier ones are dropped here).
 */
async function putBatchRows(db: Queryable, writes: BatchWrite[], fence?: Fence): Promise<boolean> {
  const threads = threadsOf(writes);
  // A run belongs to one thread: a fenced batch over two cannot hold.
  if (fence && threads.size > 1) return false;
  const checkpoints = new Map<string, CheckpointInput>();
  const pending = new Map<string, { threadId: string; ns: string; checkpointId: string; w: WriteInput }>();
  for (const b of writes) {
    if (b.kind === "checkpoint") {
      const key = [b.input.threadId, b.input.ns, b.input.checkpointId].join("\u0000");
      checkpoints.delete(key);
      checkpoints.set(key, b.input);
      continue;
    }
    for (const w of b.writes) {
      const key = [b.threadId, b.ns, b.checkpointId, w.taskId, w.idx].join("\u0000");
      pending.delete(key);
      pending.set(key, { threadId: b.threadId, ns: b.ns, checkpointId: b.checkpointId, w });
    }
  }
  const cps = [...checkpoints.values()];
  const pws = [...pending.values()];
  // Rows as VALUES lists of parameters, each blob a parameter of its own: pg sends a Buffer as is,
  // but an array of them as a text literal of hex (twice their size, parsed back by Postgres), and
  // even binary arrays cost Postgres a copy in and out (for the checkpoints of a 9 MB message, the
  // VALUES lists write in two thirds of the time the arrays took).
  const params: unknown[] = [fence?.runId ?? null, fence ? fence.epoch.toString() : null, [...threads][0] ?? null];
  const p = (value: unknown, type: string) => {
    params.push(value);
    return `$${params.length}::${type}`;
  };
  const checkpointRows = cps.map(
    (c) =>
      `(${p(c.threadId, "uuid")}, ${p(c.ns, "text")}, ${p(c.checkpointId, "text")}, ${p(c.parentId, "text")}, ` +
      `${p(c.runId, "uuid")}, ${p(c.type, "text")}, ${p(asBuffer(c.checkpoint), "bytea")}, ${p(c.metadataJson, "jsonb")})`,
  );
  const writeRows = pws.map(
    ({ threadId, ns, checkpointId, w }) =>
      `(${p(threadId, "uuid")}, ${p(ns, "text")}, ${p(checkpointId, "text")}, ${p(w.taskId, "text")}, ${p(w.idx, "int")}, ` +
      `${p(w.channel, "text")}, ${p(w.type, "text")}, ${p(asBuffer(w.value), "bytea")}, ${p(w.taskPath, "text")})`,
  );
  const inserts = [
    checkpointRows.length > 0 &&
      `c AS (
       INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, run_id, type, checkpoint, metadata, epoch)
       SELECT x.*, $2::bigint FROM (VALUES ${checkpointRows.join(", ")}) AS x
       WHERE (SELECT ok FROM held)
       ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET
         parent_checkpoint_id = EXCLUDED.parent_checkpoint_id, type = EXCLUDED.type,
         checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata, epoch = EXCLUDED.epoch)`,
    writeRows.length > 0 &&
      `w AS (
       INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, value, task_path)
       SELECT * FROM (VALUES ${writeRows.join(", ")}) AS x
       WHERE (SELECT ok FROM held)
       ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO UPDATE SET
         channel = EXCLUDED.channel, type = EXCLUDED.type, value = EXCLUDED.value, task_path = EXCLUDED.task_path)`,
  ]
    .filter((insert): insert is string => insert !== false)
    .map((insert) => `,\n     ${insert}`)
    .join("");
  const { rows } = await db.query<{ ok: boolean }>(
    `WITH fence AS (
       SELECT 1 FROM runs WHERE run_id = $1::uuid AND epoch = $2::bigint AND status = 'running' AND lease_expires_at > now()
         AND ($3::uuid IS NULL OR thread_id = $3::uuid)
       FOR SHARE),
     held AS (SELECT ($1::uuid IS NULL OR EXISTS (SELECT 1 FROM fence)) AS ok)${inserts}
     SELECT ok FROM held`,
    params,
  );
  return rows[0]?.ok === true;
}

/** The checkpoint rows of the data plane, as its callers use them. */
export interface CheckpointStore {
  /** The checkpoint (latest when id is empty) with its pending writes. */
  get(
    threadId: string,
    ns: string,
    checkpointId: string,
  ): Promise<
    | {
        row: CheckpointRow;
        writes: WriteRow[];
      }
    | undefined
  >;
  list(filter: ListFilter): Promise<
    Array<{
      row: CheckpointRow;
      writes: WriteRow[];
    }>
  >;
  /**
   * Writes a checkpoint; with a fence, only while the run's epoch is current and the run is one of
   * the checkpoint's thread. False when fenced off.
   */
  put: (input: CheckpointInput, fence?: Fence) => Promise<boolean>;
  putWrites: (threadId: string, ns: string, checkpointId: string, writes: WriteInput[], fence?: Fence) => Promise<boolean>;
  /**
   * Checkpoints and pending writes of one run in order, in one transaction (one commit). False,
   * with nothing written, when the fence is stale or its run is not one of the thread written.
   */
  putBatch(writes: BatchWrite[], fence?: Fence): Promise<boolean>;
  deleteThread(threadId: string): Promise<void>;
  /** The thread of a run (undefined when there is no such run): to say why a fenced write was refused. */
  threadOfRun(runId: string): Promise<string | undefined>;
}

export function createCheckpointStore(pool: Pool): CheckpointStore {
  return {
    /** The checkpoint (latest when id is empty) with its pending writes. */
    async get(
      threadId: string,
      ns: string,
      checkpointId: string,
    ): Promise<{ row: CheckpointRow; writes: WriteRow[] } | undefined> {
      const c = new Conditions().add("thread_id = ?", threadId).add("checkpoint_ns = ?", ns);
      if (checkpointId) c.add("checkpoint_id = ?", checkpointId);
      // The checkpoint and its pending writes (as parallel arrays) in one statement.
      const { rows } = await pool.query<Base64<CheckpointRow> & AggregatedWrites>(
        `SELECT c.*, w.* FROM (SELECT ${COLUMNS} FROM checkpoints ${c.where()} ORDER BY checkpoint_id DESC LIMIT 1) c
         LEFT JOIN LATERAL (
           SELECT array_agg(task_id ORDER BY task_id, idx) AS w_task_ids, array_agg(idx ORDER BY task_id, idx) AS w_idxs,
             array_agg(channel ORDER BY task_id, idx) AS w_channels, array_agg(type ORDER BY task_id, idx) AS w_types,
             array_agg(encode(value, 'base64') ORDER BY task_id, idx) AS w_values,
             array_agg(task_path ORDER BY task_id, idx) AS w_task_paths
           FROM checkpoint_writes
           WHERE thread_id = c.thread_id AND checkpoint_ns = c.checkpoint_ns AND checkpoint_id = c.checkpoint_id) w ON true`,
        c.params,
      );
      const found = rows[0];
      if (!found) return undefined;
      const { w_task_ids, w_idxs, w_channels, w_types, w_values, w_task_paths, ...read } = found;
      const row: CheckpointRow = { ...read, checkpoint: fromBase64(read.checkpoint) };
      const writes: WriteRow[] = (w_task_ids ?? []).map((taskId, i) => ({
        checkpoint_ns: row.checkpoint_ns,
        checkpoint_id: row.checkpoint_id,
        task_id: taskId,
        idx: w_idxs?.[i] as number,
        channel: w_channels?.[i] as string,
        type: w_types?.[i] as string,
        value: fromBase64(w_values?.[i] as string),
        task_path: w_task_paths?.[i] as string,
      }));
      return { row, writes };
    },

    async list(filter: ListFilter): Promise<Array<{ row: CheckpointRow; writes: WriteRow[] }>> {
      const c = new Conditions().add("thread_id = ?", filter.threadId);
      if (filter.ns !== undefined) c.add("checkpoint_ns = ?", filter.ns);
      if (filter.before) c.add("checkpoint_id < ?", filter.before);
      if (filter.checkpointId) c.add("checkpoint_id = ?", filter.checkpointId);
      if (filter.metadataJson) c.add("metadata @> ?::jsonb", filter.metadataJson);
      const limit = filter.limit > 0 ? `LIMIT ${c.param(filter.limit)}` : "";
      const read = await pool.query<Base64<CheckpointRow>>(
        `SELECT ${COLUMNS} FROM checkpoints ${c.where()} ORDER BY checkpoint_id DESC ${limit}`,
        c.params,
      );
      const rows = read.rows.map((row): CheckpointRow => ({ ...row, checkpoint: fromBase64(row.checkpoint) }));
      if (rows.length === 0) return [];
      const writes = await pool.query<Base64<WriteRow, "value">>(
        `SELECT checkpoint_ns, checkpoint_id, task_id, idx, channel, type, encode(value, 'base64') AS value, task_path
         FROM checkpoint_writes
         WHERE thread_id = $1 AND (checkpoint_ns, checkpoint_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))
         ORDER BY task_id, idx`,
        [filter.threadId, rows.map((r) => r.checkpoint_ns), rows.map((r) => r.checkpoint_id)],
      );
      const byCheckpoint = new Map<string, WriteRow[]>();
      for (const read of writes.rows) {
        const w: WriteRow = { ...read, value: fromBase64(read.value) };
        const key = `${w.checkpoint_ns}\u0000${w.checkpoint_id}`;
        byCheckpoint.set(key, [...(byCheckpoint.get(key) ?? []), w]);
      }
      return rows.map((row) => ({ row, writes: byCheckpoint.get(`${row.checkpoint_ns}\u0000${row.checkpoint_id}`) ?? [] }));
    },

    /** Writes a checkpoint; with a fence, only while the run's epoch is current. False when fenced off. */
    put: (input: CheckpointInput, fence?: Fence) => putRow(pool, input, fence),

    putWrites: (threadId: string, ns: string, checkpointId: string, writes: WriteInput[], fence?: Fence) =>
      putWritesRow(pool, threadId, ns, checkpointId, writes, fence),

    /**
     * Checkpoints and pending writes of one run in order, in one transaction (one commit). False,
     * with nothing written, when the fence is stale.
     */
    async putBatch(writes: BatchWrite[], fence?: Fence): Promise<boolean> {
      // A single write keeps its own statement; a batch goes in one statement too (below), so
      // it needs no transaction around it either.
      if (writes.length === 1) {
        const w = writes[0] as BatchWrite;
        return w.kind === "checkpoint"
          ? putRow(pool, w.input, fence)
          : putWritesRow(pool, w.threadId, w.ns, w.checkpointId, w.writes, fence);
      }
      return putBatchRows(pool, writes, fence);
    },

    async deleteThread(threadId: string): Promise<void> {
      await pool.query("DELETE FROM checkpoints WHERE thread_id = $1", [threadId]);
      await pool.query("DELETE FROM checkpoint_writes WHERE thread_id = $1", [threadId]);
    },

    async threadOfRun(runId: string): Promise<string | undefined> {
      const { rows } = await pool.query<{ thread_id: string }>("SELECT thread_id FROM runs WHERE run_id = $1", [runId]);
      return rows[0]?.thread_id;
    },
  };
}

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
