import { RUN_STATUS_BY_NAME, RUN_STATUS_NAME } from "@langopen/common";
import { RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";

/*
 * Run statuses, once for the whole gateway: their public names, and the one mapping from a run's
 * status to a lifecycle status (protocol v2's `lifecycle` events and agent trees; A2A task states
 * are read from the public name too).
 *
 * The one fallback: a status the gateway cannot name (RunStatus.UNSPECIFIED, a value added by a
 * newer api-server, an `end` event with no or an unknown `status`) reads as "pending", and so as
 * lifecycle "running" and A2A "submitted". It claims no outcome: whether a run ended, and how, is
 * the api-server's to say (joins, waits and streams end on its word, not on this name), and a
 * client told "pending" keeps waiting for that word, where "success" or "error" would report an
 * outcome that may not have happened (and invite reading values too early, or running it again).
 */

export const API_RUN_STATUSES = ["pending", "running", "success", "error", "timeout", "interrupted"] as const;
export type ApiRunStatus = (typeof API_RUN_STATUSES)[number];

/** What a status the gateway cannot name reads as. */
export const UNKNOWN_RUN_STATUS: ApiRunStatus = "pending";

const NAMES: Readonly<Partial<Record<RunStatus, ApiRunStatus>>> = RUN_STATUS_NAME;
const VALUES: Readonly<Record<ApiRunStatus, RunStatus>> = RUN_STATUS_BY_NAME;

const isApiRunStatus = (value: string): value is ApiRunStatus => Object.hasOwn(VALUES, value);

/** The public name of a run status: a RunStatus, or a name as run events carry it (`end`'s `status`). */
export function runStatusName(status: RunStatus | string | undefined): ApiRunStatus {
  if (typeof status === "number") return NAMES[status] ?? UNKNOWN_RUN_STATUS;
  return status !== undefined && isApiRunStatus(status) ? status : UNKNOWN_RUN_STATUS;
}

export function toApiRunStatus(status: RunStatus): ApiRunStatus {
  return runStatusName(status);
}

export function fromApiRunStatus(status: ApiRunStatus | undefined): RunStatus {
  return status === undefined ? RunStatus.UNSPECIFIED : VALUES[status];
}

/** A run's (or a subgraph's) state in protocol v2 lifecycle events and agent trees. */
export type AgentStatus = "started" | "running" | "completed" | "failed" | "interrupted";

/**
 * The lifecycle status of a run in a status. `stoppedAtInterrupt`: the run is known to have
 * stopped at an interrupt, which LangGraph reports as a success.
 */
export function lifecycleOfRunStatus(status: ApiRunStatus, stoppedAtInterrupt = false): AgentStatus {
  switch (status) {
    case "pending":
    case "running":
      return "running";
    case "success":
      return stoppedAtInterrupt ? "interrupted" : "completed";
    case "error":
    case "timeout":
      return "failed";
    case "interrupted":
      return "interrupted";
  }
}
