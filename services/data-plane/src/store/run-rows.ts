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

