import type { JsonObject } from "@bufbuild/protobuf";
import type { Pool } from "@langopen/common";
import { newId } from "../domain/ids.js";
import { decodeSpec, specToKwargs } from "../domain/run-spec.js";
import { type AuthFilter, runThreadMatchSql } from "./auth-filter.js";
import type { RunRow } from "./run-rows.js";
import { Conditions, type Queryable } from "./sql.js";

export type WebhookStatusName = "pending" | "delivered" | "failed";

export interface WebhookDeliveryRow {
  delivery_id: string;
  run_id: string;
  url: string;
  payload: JsonObject;
  status: WebhookStatusName;
  attempts: number;
  next_attempt_at: Date | null;
  last_error: string | null;
  last_status: number | null;
  created_at: Date;
  delivered_at: Date | null;
}

/** A timestamp as the public API writes it (microseconds, explicit UTC offset). */
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')`;

export type EndedRun = RunRow & {
  created_iso: string;
  updated_iso: string;
  started_iso: string | null;
  ended_iso: string | null;
};

/** The columns of an EndedRun, for a SELECT or a RETURNING of the runs table. */
export const ENDED_RUN_COLUMNS = `*, ${iso("created_at")} AS created_iso, ${iso("updated_at")} AS updated_iso,
  ${iso("started_at")} AS started_iso, ${iso("ended_at")} AS ended_iso`;

/**
 * Queues the webhook of a run that has just ended, when it has one. Called inside the
 * transaction that records the end, so the notification exists exactly when the end does.
 * The body is the public Run plus how it ended; `values` (the thread's state) only for runs
 * that keep their thread. The dispatcher adds `webhook_sent_at` when it sends.
 */
export async function enqueueRunWebhook(db: Queryable, runId: string): Promise<boolean> {
  const { rows } = await db.query<EndedRun>(`SELECT ${ENDED_RUN_COLUMNS} FROM runs WHERE run_id = $1`, [runId]);
  const run = rows[0];
  return run ? enqueueEndedRunWebhook(db, run) : false;
}

/**
 * As enqueueRunWebhook, for a run row the caller already has (e.g. from the RETURNING of its end).
 * True when a delivery was queued (the run has a webhook): then the dispatchers are worth waking.
 */
export async function enqueueEndedRunWebhook(db: Queryable, run: EndedRun): Promise<boolean> {
  const spec = decodeSpec(run.spec);
  if (spec.webhook === "") return false;
  const keepsThread = run.thread_id !== null && !run.delete_thread_on_end;
  const payload: JsonObject = {
    run_id: run.run_id,
    thread_id: keepsThread ? run.thread_id : null,
    assistant_id: run.assistant_id,
    created_at: run.created_iso,
    updated_at: run.updated_iso,
    status: run.status,
    metadata: run.metadata,
    kwargs: specToKwargs(spec),
    multitask_strategy: run.multitask_strategy,
    run_started_at: run.started_iso,
    run_ended_at: run.ended_iso,
  };
  if (run.error) payload.error = { error: run.error.error, message: run.error.message };
  await db.query(
    `INSERT INTO webhook_deliveries (delivery_id, run_id, url, payload)
     VALUES ($1, $2, $3, $4::jsonb || coalesce((SELECT jsonb_build_object('values', coalesce("values", '{}'::jsonb))
                                                FROM threads WHERE thread_id = $5), '{}'::jsonb))`,
    [newId(), run.run_id, spec.webhook, JSON.stringify(payload), keepsThread ? run.thread_id : null],
  );
  return true;
}

/** The webhook rows of the data plane, as its callers use them. */
export interface WebhookStore {
  /** Deliveries, newest first; with an auth filter, only those of runs whose thread matches it. */
  list(
    filter: {
      runId?: string;
      status?: WebhookStatusName;
      auth?: AuthFilter;
    },
    limit: number,
    offset: number,
  ): Promise<WebhookDeliveryRow[]>;
  /**
   * Claims up to `limit` due deliveries: counts the attempt and pushes next_attempt_at out by
   * the lease, so no other dispatcher takes them while this one sends; a dispatcher that dies
   * mid-send leaves them due again once the lease runs out.
   */
  claimDue(limit: number, leaseMs: number): Promise<WebhookDeliveryRow[]>;
  /**
   * Records the outcome of an attempt, fenced by its number (a stale sender whose lease was
   * taken over changes nothing). `retryInMs` undefined with an error: given up.
   */
  settle(
    delivery: {
      deliveryId: string;
      attempt: number;
    },
    outcome:
      | {
          kind: "delivered";
          status: number;
        }
      | {
          kind: "retry";
          retryInMs: number;
          error: string;
          status: number | null;
        }
      | {
          kind: "failed";
          error: string;
          status: number | null;
        },
  ): Promise<boolean>;
}

export function createWebhookStore(pool: Pool): WebhookStore {
  return {
    async list(
      filter: { runId?: string; status?: WebhookStatusName; auth?: AuthFilter },
      limit: number,
      offset: number,
    ): Promise<WebhookDeliveryRow[]> {
      const c = new Conditions();
      if (filter.runId) c.add("run_id = ?", filter.runId);
      if (filter.status) c.add("status = ?", filter.status);
      const match = runThreadMatchSql(filter.auth, "auth_r", c);
      if (match) {
        c.raw(`EXISTS (SELECT 1 FROM runs auth_r WHERE auth_r.run_id = webhook_deliveries.run_id AND ${match})`);
      }
      const { rows } = await pool.query<WebhookDeliveryRow>(
        `SELECT * FROM webhook_deliveries ${c.where()} ORDER BY created_at DESC, delivery_id
         LIMIT ${c.param(limit)} OFFSET ${c.param(offset)}`,
        c.params,
      );
      return rows;
    },

    // ---- dispatcher side ----

    /**
     * Claims up to `limit` due deliveries: counts the attempt and pushes next_attempt_at out by
     * the lease, so no other dispatcher takes them while this one sends; a dispatcher that dies
     * mid-send leaves them due again once the lease runs out.
     */
    async claimDue(limit: number, leaseMs: number): Promise<WebhookDeliveryRow[]> {
      const { rows } = await pool.query<WebhookDeliveryRow>(
        `WITH due AS (
           SELECT delivery_id FROM webhook_deliveries
           WHERE status = 'pending' AND next_attempt_at <= now()
           ORDER BY next_attempt_at
           LIMIT $1
           FOR UPDATE SKIP LOCKED)
         UPDATE webhook_deliveries w
         SET attempts = w.attempts + 1, next_attempt_at = now() + make_interval(secs => $2::float8 / 1000)
         FROM due WHERE w.delivery_id = due.delivery_id
         RETURNING w.*`,
        [limit, leaseMs],
      );
      return rows;
    },

    /**
     * Records the outcome of an attempt, fenced by its number (a stale sender whose lease was
     * taken over changes nothing). `retryInMs` undefined with an error: given up.
     */
    async settle(
      delivery: { deliveryId: string; attempt: number },
      outcome:
        | { kind: "delivered"; status: number }
        | { kind: "retry"; retryInMs: number; error: string; status: number | null }
        | { kind: "failed"; error: string; status: number | null },
    ): Promise<boolean> {
      const params: unknown[] = [delivery.deliveryId, delivery.attempt];
      let sets: string;
      if (outcome.kind === "delivered") {
        params.push(outcome.status);
        sets = "status = 'delivered', delivered_at = now(), next_attempt_at = NULL, last_status = $3, last_error = NULL";
      } else if (outcome.kind === "retry") {
        params.push(outcome.status, outcome.error, outcome.retryInMs);
        sets = "next_attempt_at = now() + make_interval(secs => $5::float8 / 1000), last_status = $3, last_error = $4";
      } else {
        params.push(outcome.status, outcome.error);
        sets = "status = 'failed', next_attempt_at = NULL, last_status = $3, last_error = $4";
      }
      const { rowCount } = await pool.query(
        `UPDATE webhook_deliveries SET ${sets} WHERE delivery_id = $1 AND attempts = $2 AND status = 'pending'`,
        params,
      );
      return (rowCount ?? 0) > 0;
    },
  };
}
