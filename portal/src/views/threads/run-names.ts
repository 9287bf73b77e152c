import { RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";

export const RUN_STATUS_NAMES: Record<RunStatus, string> = {
  [RunStatus.UNSPECIFIED]: "unknown",
  [RunStatus.PENDING]: "pending",
  [RunStatus.RUNNING]: "running",
  [RunStatus.SUCCESS]: "success",
  [RunStatus.ERROR]: "error",
  [RunStatus.TIMEOUT]: "timeout",
  [RunStatus.INTERRUPTED]: "interrupted",
};

/** The badge class of a run's status. */
export function runStatusTone(status: RunStatus): string {
  switch (status) {
    case RunStatus.PENDING:
    case RunStatus.RUNNING:
      return "running";
    case RunStatus.SUCCESS:
      return "success";
    case RunStatus.INTERRUPTED:
      return "warning";
    case RunStatus.ERROR:
    case RunStatus.TIMEOUT:
      return "error";
    default:
      return "neutral";
  }
}

/** Whether a run may still produce events (and be cancelled). */
export function runIsActive(status: RunStatus): boolean {
  return status === RunStatus.PENDING || status === RunStatus.RUNNING;
}

/** The thread page's tabs, and the links into them. */
export function threadPath(threadId: string, tab?: "state" | "history" | "runs"): string {
  return `/threads/${encodeURIComponent(threadId)}${tab ? `/${tab}` : ""}`;
}
