import type { JsonObject } from "@bufbuild/protobuf";
import type { Pool } from "@langopen/common";
import { nextRunDate } from "../domain/schedule.js";
import { type AuthFilter, authFilterSql } from "./auth-filter.js";
import type { MultitaskName } from "./run-rows.js";
import { Conditions, inTransaction, orderBy } from "./sql.js";

export type OnRunCompletedName = "delete" | "keep";

/** Who created a cron, as auth knew them: the runs the cron starts act for this user. */
export interface CronCreator {
  identity: string;
  permissions: string[];
  /** The user object as the project's auth returned it. */
  user: JsonObject;
}

export interface CronRow {
  cron_id: string;
  assistant_id: string;
  /** Null for a stateless cron. */
  thread_id: string | null;
  schedule: string;
  /** Null means UTC. */
  timezone: string | null;
  end_time: Date | null;
  enabled: boolean;
  /** The RunSpec (protobuf binary). */
  payload: Buffer;
  on_run_completed: OnRunCompletedName | null;
  multitask_strategy: MultitaskName;
  metadata: JsonObject;
  user_id: string | null;
  /** Null when it was created without a caller (no auth configured). */
  creator: CronCreator | null;
  /** Null when the cron will not fire again. */
  next_run_date: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface NewCron {
  cronId: string;
  assistantId: string;
  threadId: string | null;
  schedule: string;
  timezone: string | null;
  endTime: Date | null;
  enabled: boolean;
  payload: Uint8Array;
  onRunCompleted: OnRunCompletedName | null;
  multitask: MultitaskName;
  metadata: JsonObject;
  userId: string | null;
  creator: CronCreator | null;
  nextRunDate: Date | null;
}

/** What an update writes; absent fields stay as they are. */
export interface CronChanges {
  schedule?: string;
  timezone?: string | null;
  endTime?: Date | null;
  enabled?: boolean;
  payload?: Uint8Array;
  onRunCompleted?: OnRunCompletedName | null;
  /** Merged into the current metadata. */
  metadata?: JsonObject;
  nextRunDate?: Date | null;
}

export interface CronFilter {
  assistantId?: string;
  threadId?: string;
  enabled?: boolean;
  metadata?: JsonObject;
  /** The caller's auth filter, on the metadata. */
  auth?: AuthFilter;
}

/** The outcome of one firing: the run created, or why none was. */
export type FiringOutcome = { runId: string; threadId: string | null } | { error: { code: string; message: string } };

/** What one scheduler step did. */
export type FireStep =
  | { kind: "idle" }
  | { kind: "fired"; cron: CronRow; scheduledFor: Date; outcome: FiringOutcome; next: Date | null }
  /** The due time had fired already (its firing row exists): only the schedule moved on. */
  | { kind: "skipped"; cron: CronRow; scheduledFor: Date; next: Date | null };

const SORT_COLUMNS: Record<string, string> = {
  cron_id: "cron_id",
  assistant_id: "assistant_id",
  thread_id: "thread_id",
  next_run_date: "next_run_date",
  end_time: "end_time",
  created_at: "created_at",
  updated_at: "updated_at",
};

function filterConditions(filter: CronFilter): Conditions {
  const c = new Conditions();
  if (filter.assistantId) c.add("assistant_id = ?", filter.assistantId);
  if (filter.threadId) c.add("thread_id = ?", filter.threadId);
  if (filter.enabled !== undefined) c.add("enabled = ?", filter.enabled);
  if (filter.metadata && Object.keys(filter.metadata).length > 0) c.add("metadata @> ?::jsonb", JSON.stringify(filter.metadata));
  return withAuth(c, filter.auth);
}

/** Adds the auth filter's condition (on the metadata) to a statement's conditions. */
function withAuth(c: Conditions, auth: AuthFilter | undefined): Conditions {
  const match = authFilterSql(auth, "metadata", c);
  return match ? c.raw(match) : c;
}

/** The schedule of a row, as the schedule helpers take it. */
export const scheduleOf = (row: Pick<CronRow, "schedule" | "timezone">) => ({
  expression: row.schedule,
  timezone: row.timezone ?? "UTC",
});

/** The cron rows of the data plane, as its callers use them. */
export interface CronStore {
  create(input: NewCron): Promise<CronRow>;
  /** The cron, if it matches the auth filter. */
  get(cronId: string, auth?: AuthFilter): Promise<CronRow | undefined>;
  /**
   * Updates a cron under its row lock: `decide` sees the current row and answers the changes
   * (it may throw to refuse them). Undefined when there is no such cron, or it does not match
   * the auth filter.
   */
  update(cronId: string, decide: (current: CronRow) => CronChanges, auth?: AuthFilter): Promise<CronRow | undefined>;
  /** Deletes the cron if it matches the auth filter; false when there is none (or it does not match). */
  delete(cronId: string, auth?: AuthFilter): Promise<boolean>;
  search(
    filter: CronFilter,
    page: {
      limit: number;
      offset: number;
      sortBy: string;
      desc: boolean;
    },
  ): Promise<CronRow[]>;
  count(filter: CronFilter): Promise<number>;
  /**
   * Fires the most overdue cron, if any, in one transaction: locks it (SKIP LOCKED, so
   * schedulers never wait on each other), claims its due time in cron_firings (a unique key, so
   * a due time fires once), lets `fire` create the run, records the outcome and moves
   * next_run_date to the first due time after now (a cron that missed several times fires
   * once). When `fire` throws, everything rolls back and the due time stays due.
   */
  fireNextDue(fire: (cron: CronRow, scheduledFor: Date) => Promise<FiringOutcome>): Promise<FireStep>;
  /** Stops the enabled crons whose end time has passed; answers their ids. */
  stopExpired(): Promise<string[]>;
  /** The firings of a cron, newest first (for tests and operators). */
  firings(cronId: string): Promise<
    Array<{
      scheduled_for: Date;
      run_id: string | null;
      thread_id: string | null;
      error: unknown;
      fired_at: Date;
    }>
  >;
}

export function createCronStore(pool: Pool): CronStore {
  return {
    async create(input: NewCron): Promise<CronRow> {
      const { rows } = await pool.query<CronRow>(
        `INSERT INTO crons (cron_id, assistant_id, thread_id, schedule, timezone, end_time, enabled, payload,
           on_run_completed, multitask_strategy, metadata, user_id, next_run_date, creator)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14::jsonb)
         RETURNING *`,
        [
          input.cronId,
          input.assistantId,
          input.threadId,
          input.schedule,
          input.timezone,
          input.endTime,
          input.enabled,
          Buffer.from(input.payload),
          input.onRunCompleted,
          input.multitask,
          JSON.stringify(input.metadata),
          input.userId,
          input.nextRunDate,
          input.creator === null ? null : JSON.stringify(input.creator),
        ],
      );
      return rows[0] as CronRow;
    },

    async get(cronId: string, auth?: AuthFilter): Promise<CronRow | undefined> {
      const c = withAuth(new Conditions().add("cron_id = ?", cronId), auth);
      const { rows } = await pool.query<CronRow>(`SELECT * FROM crons ${c.where()}`, c.params);
      return rows[0];
    },

    async update(cronId: string, decide: (current: CronRow) => CronChanges, auth?: AuthFilter): Promise<CronRow | undefined> {
      return inTransaction(pool, async (db) => {
        // The row lock and the auth check in one statement: the metadata cannot change in between.
        const found = withAuth(new Conditions().add("cron_id = ?", cronId), auth);
        const { rows } = await db.query<CronRow>(`SELECT * FROM crons ${found.where()} FOR UPDATE`, found.params);
        const current = rows[0];
        if (!current) return undefined;
        const changes = decide(current);
        const c = new Conditions();
        const sets = ["updated_at = now()"];
        const set = (column: string, value: unknown, cast = "") => sets.push(`${column} = ${c.param(value)}${cast}`);
        if (changes.schedule !== undefined) set("schedule", changes.schedule);
        if (changes.timezone !== undefined) set("timezone", changes.timezone);
        if (changes.endTime !== undefined) set("end_time", changes.endTime);
        if (changes.enabled !== undefined) set("enabled", changes.enabled);
        if (changes.payload !== undefined) set("payload", Buffer.from(changes.payload));
        if (changes.onRunCompleted !== undefined) set("on_run_completed", changes.onRunCompleted);
        if (changes.nextRunDate !== undefined) set("next_run_date", changes.nextRunDate);
        if (changes.metadata !== undefined)
          sets.push(`metadata = metadata || ${c.param(JSON.stringify(changes.metadata))}::jsonb`);
        c.add("cron_id = ?", cronId);
        const updated = await db.query<CronRow>(`UPDATE crons SET ${sets.join(", ")} ${c.where()} RETURNING *`, c.params);
        return updated.rows[0];
      });
    },

    async delete(cronId: string, auth?: AuthFilter): Promise<boolean> {
      const c = withAuth(new Conditions().add("cron_id = ?", cronId), auth);
      const { rowCount } = await pool.query(`DELETE FROM crons ${c.where()}`, c.params);
      return (rowCount ?? 0) > 0;
    },

    async search(filter: CronFilter, page: { limit: number; offset: number; sortBy: string; desc: boolean }): Promise<CronRow[]> {
      const c = filterConditions(filter);
      const limit = c.param(page.limit);
      const offset = c.param(page.offset);
      const { rows } = await pool.query<CronRow>(
        `SELECT * FROM crons ${c.where()}
         ${orderBy(SORT_COLUMNS, page.sortBy, "created_at", page.desc)} ${page.desc ? "NULLS LAST" : "NULLS FIRST"}, cron_id
         LIMIT ${limit} OFFSET ${offset}`,
        c.params,
      );
      return rows;
    },

    async count(filter: CronFilter): Promise<number> {
      const c = filterConditions(filter);
      const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM crons ${c.where()}`, c.params);
      return Number(rows[0]?.n ?? 0);
    },

    // ---- scheduler side ----

    /**
     * Fires the most overdue cron, if any, in one transaction: locks it (SKIP LOCKED, so
     * schedulers never wait on each other), claims its due time in cron_firings (a unique key, so
     * a due time fires once), lets `fire` create the run, records the outcome and moves
     * next_run_date to the first due time after now (a cron that missed several times fires
     * once). When `fire` throws, everything rolls back and the due time stays due.
     */
    async fireNextDue(fire: (cron: CronRow, scheduledFor: Date) => Promise<FiringOutcome>): Promise<FireStep> {
      return inTransaction(pool, async (db) => {
        const { rows } = await db.query<CronRow & { db_now: Date }>(
          `SELECT *, now() AS db_now FROM crons
           WHERE enabled AND next_run_date <= now() AND (end_time IS NULL OR end_time > now())
           ORDER BY next_run_date
           LIMIT 1
           FOR UPDATE SKIP LOCKED`,
        );
        const due = rows[0];
        if (!due) return { kind: "idle" };
        const { db_now: now, ...cron } = due;
        const scheduledFor = cron.next_run_date as Date;
        const next = nextRunDate(scheduleOf(cron), now.getTime() > scheduledFor.getTime() ? now : scheduledFor, cron.end_time);
        const claimed = await db.query(
          `INSERT INTO cron_firings (cron_id, scheduled_for) VALUES ($1, $2)
           ON CONFLICT (cron_id, scheduled_for) DO NOTHING`,
          [cron.cron_id, scheduledFor],
        );
        let step: FireStep;
        if ((claimed.rowCount ?? 0) === 0) {
          step = { kind: "skipped", cron, scheduledFor, next };
        } else {
          const outcome = await fire(cron, scheduledFor);
          await db.query(
            `UPDATE cron_firings SET run_id = $3, thread_id = $4, error = $5::jsonb, fired_at = now()
             WHERE cron_id = $1 AND scheduled_for = $2`,
            [
              cron.cron_id,
              scheduledFor,
              "runId" in outcome ? outcome.runId : null,
              "runId" in outcome ? outcome.threadId : null,
              "error" in outcome ? JSON.stringify(outcome.error) : null,
            ],
          );
          step = { kind: "fired", cron, scheduledFor, outcome, next };
        }
        // Past its end time the cron stops for good: disabled, with no next run date.
        await db.query(
          `UPDATE crons SET next_run_date = $2::timestamptz,
             enabled = CASE WHEN $2::timestamptz IS NULL THEN false ELSE enabled END,
             updated_at = CASE WHEN $2::timestamptz IS NULL THEN now() ELSE updated_at END
           WHERE cron_id = $1`,
          [cron.cron_id, next],
        );
        return step;
      });
    },

    /** Stops the enabled crons whose end time has passed; answers their ids. */
    async stopExpired(): Promise<string[]> {
      const { rows } = await pool.query<{ cron_id: string }>(
        `UPDATE crons SET enabled = false, next_run_date = NULL, updated_at = now()
         WHERE enabled AND end_time <= now()
         RETURNING cron_id`,
      );
      return rows.map((r) => r.cron_id);
    },

    /** The firings of a cron, newest first (for tests and operators). */
    async firings(
      cronId: string,
    ): Promise<Array<{ scheduled_for: Date; run_id: string | null; thread_id: string | null; error: unknown; fired_at: Date }>> {
      const { rows } = await pool.query(
        "SELECT scheduled_for, run_id, thread_id, error, fired_at FROM cron_firings WHERE cron_id = $1 ORDER BY scheduled_for DESC",
        [cronId],
      );
      return rows;
    },
  };
}
