import type { JsonObject } from "@bufbuild/protobuf";
import type { Queryable } from "./sql.js";

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

/**
 * Every column of `runs` but `spec`, for the statements whose caller has the spec already (a create
 * answers the spec it inserted). A spec holds the run's input, which may be megabytes, and bytea
 * comes back as hex text of twice its size, which Postgres encodes and `pg` decodes again: a 9 MB
 * input took seconds to read back.
 */
export const RUN_COLUMNS_BUT_SPEC = `run_id, thread_id, assistant_id, graph_id, status, metadata, multitask_strategy,
  delete_thread_on_end, run_after, created_at, updated_at, started_at, ended_at, attempt, epoch, lease_owner,
  lease_expires_at, cancel_action, result, error, request_id`;

/** A row read without its spec (RUN_COLUMNS_BUT_SPEC), completed with the spec the caller has (not copied). */
export function withSpec<T extends Omit<RunRow, "spec">>(row: T, spec: Uint8Array): T & { spec: Buffer } {
  return Object.assign(row, { spec: Buffer.from(spec.buffer, spec.byteOffset, spec.byteLength) });
}

/** How a run stands (RunStore.outcome): its result as the JSON text stored, not parsed. */
export interface RunOutcomeRow {
  status: RunStatusName;
  error: RunRow["error"];
  /** Null while the run has no result (it has not ended, or ended without one). */
  result_text: string | null;
}

/** A claimed run: pending and running runs always have their thread. */
export type ClaimedRun = RunRow & { thread_id: string };

export const ACTIVE = "('pending', 'running')";

/**
 * The thread's status once nothing is running on it (`thread` the thread's parameter, `state` the
 * outcome's, `ending` a run still counted active in the statement's snapshot): busy while other
 * runs wait, else the outcome of its latest state.
 */
export const SETTLED_STATUS = (thread: string, state: string, ending?: string) =>
  `CASE WHEN EXISTS (SELECT 1 FROM runs WHERE thread_id = ${thread} AND status IN ${ACTIVE}${ending ? ` AND run_id <> ${ending}` : ""})
     THEN 'busy' ELSE coalesce(${state}, CASE WHEN status = 'busy' THEN 'idle' ELSE status END) END`;

/**
 * The thread's status once nothing is running on it, from the outcome of its latest state.
 * Queued runs keep it busy.
 */
export async function settleThread(
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
