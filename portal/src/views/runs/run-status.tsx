import type { ReactNode } from "react";
import { ErrorBox } from "../../components/error-box";
import { isJsonObject } from "../../lib/json";
import { formatDuration } from "../../lib/time";
import { isActive, type RunState } from "./use-run-stream";

function statusOf(state: RunState): { label: string; tone: string } {
  switch (state.phase) {
    case "idle":
      return { label: "Not started", tone: "neutral" };
    case "starting":
      return { label: "Starting…", tone: "running" };
    case "streaming":
      return { label: "Running…", tone: "running" };
    case "cancelling":
      return { label: "Cancelling…", tone: "running" };
    case "ended":
      switch (state.outcome) {
        case "success":
          return { label: "Finished", tone: "success" };
        case "interrupted":
          return { label: "Interrupted", tone: "warning" };
        case "cancelled":
          return { label: "Cancelled", tone: "warning" };
        default:
          return { label: "Failed", tone: "error" };
      }
  }
}

/** The error the graph raised, as the run's `error` event carries it ({error, message}). */
function raisedError(state: RunState): { name: string; message: string } | undefined {
  for (let i = state.events.length - 1; i >= 0; i--) {
    const event = state.events[i];
    if (event?.event !== "error") continue;
    const data = event.data;
    if (isJsonObject(data)) return { name: String(data.error ?? "Error"), message: String(data.message ?? "") };
    return { name: "Error", message: String(data) };
  }
  return undefined;
}

interface RunStatusProps {
  run: { state: RunState; cancel: () => Promise<void> };
  /** The run's id as shown (e.g. a link to it); plain by default. */
  runId?: (runId: string, threadId: string | undefined) => ReactNode;
  /** The thread's id as shown beside the run's; not shown by default. */
  threadId?: (threadId: string) => ReactNode;
  /** The Cancel button's text. */
  cancelLabel: string;
  /** Cancel waits until the run is known (joined or created). */
  cancelNeedsRun?: boolean;
}

/** The run's status line (run, thread, duration) with its Cancel button, and what went wrong. */
export function RunStatusLine({ run, runId, threadId, cancelLabel, cancelNeedsRun = false }: RunStatusProps) {
  const { state } = run;
  const { label, tone } = statusOf(state);
  const raised = raisedError(state);
  const duration = state.startedAt !== undefined && state.endedAt !== undefined ? state.endedAt - state.startedAt : undefined;
  return (
    <>
      <div className="run-summary-line" aria-live="polite">
        <span className={`badge badge-${tone}`}>{label}</span>
        {state.run && <span>run {runId ? runId(state.run.runId, state.threadId) : <code>{state.run.runId}</code>}</span>}
        {state.threadId && threadId && <span>thread {threadId(state.threadId)}</span>}
        {duration !== undefined && <span>{formatDuration(duration)}</span>}
        {isActive(state.phase) && (
          <button
            type="button"
            className="button button-danger"
            onClick={() => void run.cancel()}
            disabled={state.phase === "cancelling" || (cancelNeedsRun && state.run === undefined)}
          >
            {state.phase === "cancelling" ? "Cancelling…" : cancelLabel}
          </button>
        )}
      </div>
      {state.error !== undefined && <ErrorBox error={state.error} context="The run could not go on" />}
      {raised && (
        <div className="error-box" role="alert">
          <p className="error-title">The graph raised {raised.name}</p>
          {raised.message && <p className="error-detail">{raised.message}</p>}
        </div>
      )}
    </>
  );
}
