import type { JsonObject } from "@bufbuild/protobuf";
import type { Pool } from "@langopen/common";
import { type AuthFilter, authFilterSql, authMatchSql } from "./auth-filter.js";
import { Conditions, inTransaction, LIVE_THREAD, orderBy, type Queryable } from "./sql.js";

export type ThreadStatusName = "idle" | "busy" | "interrupted" | "error";
export type TtlStrategyName = "delete" | "keep_latest";

export interface ThreadRow {
  thread_id: string;
  created_at: Date;
  updated_at: Date;
  state_updated_at: Date;
  metadata: JsonObject;
  config: JsonObject;
  status: ThreadStatusName;
  /** The values as JSON text (never re-parsed on the way out); null when the thread has no state. */
  values_text: string | null;
  interrupts_text: string;
  ttl_strategy: TtlStrategyName | null;
  ttl_minutes: number | null;
  expires_at: Date | null;
}

export interface ThreadTtlInput {
  strategy: TtlStrategyName;
  minutes: number;
}

export interface ThreadFilter {
  ids?: string[];
  metadata?: JsonObject;
  /** JSON text of a containment filter on values. */
  valuesJson?: string;
  status?: ThreadStatusName;
  /** The caller's auth filter, on the metadata. */
  auth?: AuthFilter;
}

const COLUMNS = `thread_id, created_at, updated_at, state_updated_at, metadata, config, status,
  "values"::text AS values_text, interrupts::text AS interrupts_text, ttl_strategy, ttl_minutes, expires_at`;

const SORT_COLUMNS: Record<string, string> = {
  thread_id: "thread_id",
  status: "status",
  created_at: "created_at",
  updated_at: "updated_at",
  state_updated_at: "state_updated_at",
};

function filterConditions(filter: ThreadFilter): Conditions {
  const c = new Conditions().raw(LIVE_THREAD);
  if (filter.ids && filter.ids.length > 0) c.add("thread_id = ANY(?::uuid[])", filter.ids);
  if (filter.metadata && Object.keys(filter.metadata).length > 0) c.add("metadata @> ?::jsonb", JSON.stringify(filter.metadata));
  if (filter.valuesJson) c.add(`"values" @> ?::jsonb`, filter.valuesJson);
  if (filter.status) c.add("status = ?", filter.status);
  const match = authFilterSql(filter.auth, "metadata", c);
  if (match) c.raw(match);
  return c;
}

/** Adds the auth filter's condition (on the metadata) to a statement's conditions. */
function withAuth(c: Conditions, auth: AuthFilter | undefined): Conditions {
  const match = authFilterSql(auth, "metadata", c);
  return match ? c.raw(match) : c;
}

async function copyCheckpoints(db: Queryable, from: string, to: string): Promise<void> {
  await db.query(
    `INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, run_id, type, checkpoint, metadata, created_at)
     SELECT $2, checkpoint_ns, checkpoint_id, parent_checkpoint_id, run_id, type, checkpoint, metadata, created_at
     FROM checkpoints WHERE thread_id = $1`,
    [from, to],
  );
  await db.query(
    `INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, value, task_path)
     SELECT $2, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, value, task_path
     FROM checkpoint_writes WHERE thread_id = $1`,
    [from, to],
  );
}

/** Keeps only the newest checkpoint of each namespace of the threads (and its pending writes). */
async function keepLatestCheckpoints(db: Queryable, threadIds: string[]): Promise<void> {
  const latest = `SELECT DISTINCT ON (thread_id, checkpoint_ns) thread_id, checkpoint_ns, checkpoint_id
    FROM checkpoints WHERE thread_id = ANY($1::uuid[]) ORDER BY thread_id, checkpoint_ns, checkpoint_id DESC`;
  await db.query(
    `DELETE FROM checkpoint_writes w WHERE w.thread_id = ANY($1::uuid[])
       AND (w.thread_id, w.checkpoint_ns, w.checkpoint_id) NOT IN (${latest})`,
    [threadIds],
  );
  await db.query(
    `DELETE FROM checkpoints c WHERE c.thread_id = ANY($1::uuid[])
       AND (c.thread_id, c.checkpoint_ns, c.checkpoint_id) NOT IN (${latest})`,
    [threadIds],
  );
}

/** What one sweep did: threads deleted, and threads pruned to their latest checkpoints. */
export interface ThreadSweep {
  deleted: string[];
  pruned: string[];
}

export interface ThreadStorageRow {
  checkpoints: number;
  checkpoint_bytes: number;
  writes: number;
  write_bytes: number;
}

/** One thread create waiting for the next batch. */
interface PendingCreate {
  id: string;
  metadata: JsonObject;
  ttl: ThreadTtlInput | undefined;
  resolve: (row: ThreadRow | undefined) => void;
  reject: (err: unknown) => void;
}

/** Most creates one INSERT takes. */
const MAX_BATCH = 256;

/** The thread rows of the data plane, as its callers use them. */
export interface ThreadStore {
  /**
   * Inserts the thread unless the id exists; answers the row, whether it was created, and whether
   * the row matches the auth filter (always so for a created one).
   */
  create(
    id: string,
    metadata: JsonObject,
    ttl: ThreadTtlInput | undefined,
    auth?: AuthFilter,
  ): Promise<{
    row: ThreadRow;
    created: boolean;
    matches: boolean;
  }>;
  /** The live thread, if it matches the auth filter. */
  get(id: string, auth?: AuthFilter): Promise<ThreadRow | undefined>;
  /** Merges metadata and replaces the TTL (restarting its clock), if the thread matches the auth filter. */
  update(
    id: string,
    metadata: JsonObject | undefined,
    ttl: ThreadTtlInput | undefined,
    auth?: AuthFilter,
  ): Promise<ThreadRow | undefined>;
  /**
   * Deletes the thread if it matches the auth filter; false when there was none (an expired
   * delete-TTL thread counts as none) or it does not match.
   */
  delete(id: string, auth?: AuthFilter): Promise<boolean>;
  search(
    filter: ThreadFilter,
    page: {
      limit: number;
      offset: number;
      sortBy: string;
      desc: boolean;
    },
  ): Promise<{
    rows: ThreadRow[];
    total: number;
  }>;
  count(filter: ThreadFilter): Promise<number>;
  /**
   * Copies the thread (metadata, values, checkpoints) under a new id; "missing" when there is no
   * such source, "not-matching" when it does not match the auth filter.
   */
  copy(from: string, to: string, auth?: AuthFilter): Promise<ThreadRow | "missing" | "not-matching">;
  /**
   * Deletes the threads, or keeps only their latest state, of those that match the auth filter;
   * answers the ids of the threads pruned.
   */
  prune(ids: string[], strategy: TtlStrategyName, auth?: AuthFilter): Promise<string[]>;
  /**
   * Applies expired TTLs to at most `limit` threads: deletes those with strategy delete (their
   * runs and checkpoints go with them), prunes those with keep_latest to their latest
   * checkpoints and restarts their clock (expires_at moves ttl_minutes on, so a thread still in
   * use is pruned again one TTL later). Threads with a pending or running run wait for the next
   * sweep. Rows are claimed with SKIP LOCKED, so several sweepers can run at once.
   */
  sweepExpired(limit: number): Promise<ThreadSweep>;
  storage(id: string): Promise<ThreadStorageRow>;
}

export function createThreadStore(pool: Pool): ThreadStore {
  /**
   * Group commit of thread creates: a create that arrives while an INSERT of creates is in
   * flight waits for it and goes with the others that arrived meanwhile, in one multi-row
   * INSERT (one statement, one commit). A lone create goes at once, alone. Each row gets its
   * own timestamp (clock_timestamp, as a single INSERT's now() would differ per request).
   * Answers the inserted row, or undefined when the id existed (the caller then decides).
   */
  const queue: PendingCreate[] = [];
  let flushing = false;
  const insertBatch = (batch: PendingCreate[]) =>
    pool.query<ThreadRow>(
      `INSERT INTO threads (thread_id, metadata, ttl_strategy, ttl_minutes, expires_at, created_at, updated_at, state_updated_at)
       SELECT s.id, s.metadata, s.strategy, s.minutes, s.at + make_interval(secs => s.minutes * 60), s.at, s.at, s.at
       FROM (SELECT t.*, clock_timestamp() AS at
             FROM unnest($1::uuid[], $2::jsonb[], $3::text[], $4::float8[]) WITH ORDINALITY AS t(id, metadata, strategy, minutes, n)
             ORDER BY t.n) s
       ON CONFLICT (thread_id) DO NOTHING
       RETURNING ${COLUMNS}`,
      [
        batch.map((p) => p.id),
        batch.map((p) => JSON.stringify(p.metadata)),
        batch.map((p) => p.ttl?.strategy ?? null),
        batch.map((p) => p.ttl?.minutes ?? null),
      ],
    );
  const flush = async () => {
    flushing = true;
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, MAX_BATCH);
        try {
          const { rows } = await insertBatch(batch);
          const byId = new Map(rows.map((r) => [r.thread_id, r]));
          for (const p of batch) {
            const row = byId.get(p.id);
            // The same id twice in one batch: the first takes the row, the second finds it taken.
            byId.delete(p.id);
            p.resolve(row);
          }
        } catch (err) {
          if (batch.length === 1) batch[0]?.reject(err);
          else {
            // One bad row fails the statement: each goes again alone, so only it fails.
            for (const p of batch) {
              insertBatch([p]).then(({ rows }) => p.resolve(rows[0]), p.reject);
            }
          }
        }
      }
    } finally {
      flushing = false;
    }
  };
  const insertThread = (id: string, metadata: JsonObject, ttl: ThreadTtlInput | undefined) =>
    new Promise<ThreadRow | undefined>((resolve, reject) => {
      queue.push({ id, metadata, ttl, resolve, reject });
      if (!flushing) void flush();
    });

  return {
    async create(
      id: string,
      metadata: JsonObject,
      ttl: ThreadTtlInput | undefined,
      auth?: AuthFilter,
    ): Promise<{ row: ThreadRow; created: boolean; matches: boolean }> {
      let row = await insertThread(id, metadata, ttl);
      // An expired delete-TTL thread no longer exists for anyone: its id may be taken again.
      if (
        !row &&
        ((await pool.query(`DELETE FROM threads WHERE thread_id = $1 AND NOT ${LIVE_THREAD}`, [id])).rowCount ?? 0) > 0
      ) {
        row = await insertThread(id, metadata, ttl);
      }
      if (row) return { row, created: true, matches: true };
      const c = new Conditions([id]);
      const { rows } = await pool.query<ThreadRow & { auth_match: boolean }>(
        `SELECT ${COLUMNS}, ${authMatchSql(auth, "metadata", c)} AS auth_match FROM threads WHERE thread_id = $1 AND ${LIVE_THREAD}`,
        c.params,
      );
      // Gone since the insert found it: the id is free again.
      if (!rows[0]) return this.create(id, metadata, ttl, auth);
      const { auth_match, ...existing } = rows[0];
      return { row: existing, created: false, matches: auth_match };
    },

    async get(id: string, auth?: AuthFilter): Promise<ThreadRow | undefined> {
      const c = withAuth(new Conditions().add("thread_id = ?", id).raw(LIVE_THREAD), auth);
      const { rows } = await pool.query<ThreadRow>(`SELECT ${COLUMNS} FROM threads ${c.where()}`, c.params);
      return rows[0];
    },

    /** Merges metadata and replaces the TTL (restarting its clock), if the thread matches the auth filter. */
    async update(
      id: string,
      metadata: JsonObject | undefined,
      ttl: ThreadTtlInput | undefined,
      auth?: AuthFilter,
    ): Promise<ThreadRow | undefined> {
      const c = new Conditions();
      const sets = ["updated_at = now()"];
      if (metadata) sets.push(`metadata = metadata || ${c.param(JSON.stringify(metadata))}::jsonb`);
      if (ttl) {
        const minutes = c.param(ttl.minutes);
        sets.push(
          `ttl_strategy = ${c.param(ttl.strategy)}`,
          `ttl_minutes = ${minutes}::float8`,
          `expires_at = now() + make_interval(secs => ${minutes}::float8 * 60)`,
        );
      }
      withAuth(c.add("thread_id = ?", id).raw(LIVE_THREAD), auth);
      const { rows } = await pool.query<ThreadRow>(
        `UPDATE threads SET ${sets.join(", ")} ${c.where()} RETURNING ${COLUMNS}`,
        c.params,
      );
      return rows[0];
    },

    /**
     * Deletes the thread if it matches the auth filter; false when there was none (an expired
     * delete-TTL thread counts as none) or it does not match.
     */
    async delete(id: string, auth?: AuthFilter): Promise<boolean> {
      const c = withAuth(new Conditions().add("thread_id = ?", id), auth);
      const { rows } = await pool.query<{ live: boolean }>(
        `DELETE FROM threads ${c.where()} RETURNING ${LIVE_THREAD} AS live`,
        c.params,
      );
      return rows[0]?.live === true;
    },

    async search(
      filter: ThreadFilter,
      page: { limit: number; offset: number; sortBy: string; desc: boolean },
    ): Promise<{ rows: ThreadRow[]; total: number }> {
      const c = filterConditions(filter);
      const limit = c.param(page.limit);
      const offset = c.param(page.offset);
      const { rows } = await pool.query<ThreadRow & { total: string }>(
        `SELECT ${COLUMNS}, count(*) OVER () AS total FROM threads ${c.where()}
         ${orderBy(SORT_COLUMNS, page.sortBy, "created_at", page.desc)}, thread_id
         LIMIT ${limit} OFFSET ${offset}`,
        c.params,
      );
      const total = rows[0] ? Number(rows[0].total) : await this.count(filter);
      return { rows, total };
    },

    async count(filter: ThreadFilter): Promise<number> {
      const c = filterConditions(filter);
      const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM threads ${c.where()}`, c.params);
      return Number(rows[0]?.n ?? 0);
    },

    /**
     * Copies the thread (metadata, values, checkpoints) under a new id; "missing" when there is no
     * such source, "not-matching" when it does not match the auth filter.
     */
    async copy(from: string, to: string, auth?: AuthFilter): Promise<ThreadRow | "missing" | "not-matching"> {
      return inTransaction(pool, async (db) => {
        const c = withAuth(new Conditions([from, to]).raw("thread_id = $1").raw(LIVE_THREAD), auth);
        const { rows } = await db.query<ThreadRow>(
          `INSERT INTO threads (thread_id, metadata, config, status, "values", interrupts, state_updated_at)
           SELECT $2, metadata, config, CASE WHEN status = 'busy' THEN 'idle' ELSE status END, "values", interrupts,
             state_updated_at
           FROM threads ${c.where()}
           RETURNING ${COLUMNS}`,
          c.params,
        );
        if (!rows[0]) {
          const source = await db.query(`SELECT 1 FROM threads WHERE thread_id = $1 AND ${LIVE_THREAD}`, [from]);
          return source.rows.length > 0 ? "not-matching" : "missing";
        }
        await copyCheckpoints(db, from, to);
        return rows[0];
      });
    },

    /**
     * Deletes the threads, or keeps only their latest state, of those that match the auth filter;
     * answers the ids of the threads pruned.
     */
    async prune(ids: string[], strategy: TtlStrategyName, auth?: AuthFilter): Promise<string[]> {
      if (ids.length === 0) return [];
      const c = withAuth(new Conditions().add("thread_id = ANY(?::uuid[])", ids), auth);
      if (strategy === "delete") {
        const { rows } = await pool.query<{ thread_id: string }>(
          `DELETE FROM threads ${c.where()} RETURNING thread_id`,
          c.params,
        );
        return rows.map((r) => r.thread_id);
      }
      return inTransaction(pool, async (db) => {
        const { rows } = await db.query<{ thread_id: string }>(`SELECT thread_id FROM threads ${c.where()} FOR UPDATE`, c.params);
        const pruned = rows.map((r) => r.thread_id);
        await keepLatestCheckpoints(db, pruned);
        return pruned;
      });
    },

    /**
     * Applies expired TTLs to at most `limit` threads: deletes those with strategy delete (their
     * runs and checkpoints go with them), prunes those with keep_latest to their latest
     * checkpoints and restarts their clock (expires_at moves ttl_minutes on, so a thread still in
     * use is pruned again one TTL later). Threads with a pending or running run wait for the next
     * sweep. Rows are claimed with SKIP LOCKED, so several sweepers can run at once.
     */
    async sweepExpired(limit: number): Promise<ThreadSweep> {
      return inTransaction(pool, async (db) => {
        const { rows } = await db.query<{ thread_id: string; ttl_strategy: TtlStrategyName }>(
          `SELECT thread_id, ttl_strategy FROM threads t
           WHERE ttl_strategy IS NOT NULL AND expires_at <= now()
             AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.thread_id = t.thread_id AND r.status IN ('pending', 'running'))
           ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
          [limit],
        );
        const deleted = rows.filter((r) => r.ttl_strategy === "delete").map((r) => r.thread_id);
        const pruned = rows.filter((r) => r.ttl_strategy === "keep_latest").map((r) => r.thread_id);
        if (deleted.length > 0) await db.query("DELETE FROM threads WHERE thread_id = ANY($1::uuid[])", [deleted]);
        if (pruned.length > 0) {
          await keepLatestCheckpoints(db, pruned);
          await db.query(
            `UPDATE threads SET expires_at = now() + make_interval(secs => ttl_minutes * 60)
             WHERE thread_id = ANY($1::uuid[])`,
            [pruned],
          );
        }
        return { deleted, pruned };
      });
    },

    async storage(id: string): Promise<ThreadStorageRow> {
      const { rows } = await pool.query<Record<keyof ThreadStorageRow, string>>(
        `SELECT
           (SELECT count(*) FROM checkpoints WHERE thread_id = $1) AS checkpoints,
           (SELECT coalesce(sum(octet_length(checkpoint) + octet_length(metadata::text)), 0) FROM checkpoints WHERE thread_id = $1) AS checkpoint_bytes,
           (SELECT count(*) FROM checkpoint_writes WHERE thread_id = $1) AS writes,
           (SELECT coalesce(sum(octet_length(value)), 0) FROM checkpoint_writes WHERE thread_id = $1) AS write_bytes`,
        [id],
      );
      const r = rows[0];
      return {
        checkpoints: Number(r?.checkpoints ?? 0),
        checkpoint_bytes: Number(r?.checkpoint_bytes ?? 0),
        writes: Number(r?.writes ?? 0),
        write_bytes: Number(r?.write_bytes ?? 0),
      };
    },
  };
}
