import { Link } from "react-router";
import { ErrorBox } from "../../components/error-box";
import { JsonView } from "../../components/json-view";
import { isJsonObject } from "../../lib/json";
import { formatDuration } from "../../lib/time";
import { EventList } from "../assistants/event-list";
import { GraphView } from "../assistants/lazy-graph-view";
import { threadPath } from "./run-names";
import { isLive, type LiveRunState, type RunStreamController } from "./use-run-stream";

function statusOf(state: LiveRunState): { label: string; tone: string } {
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

/** The error the graph raised, as the run's `error` event carries it. */
function raisedError(state: LiveRunState): { name: string; message: string } | undefined {
  for (let i = state.events.length - 1; i >= 0; i--) {
    const event = state.events[i];
    if (event?.event !== "error") continue;
    if (isJsonObject(event.data)) return { name: String(event.data.error ?? "Error"), message: String(event.data.message ?? "") };
    return { name: "Error", message: String(event.data) };
  }
  return undefined;
}

interface LiveRunProps {
  run: RunStreamController;
  /** Heading of the panel, e.g. "Re-run from step 2". */
  title: string;
  /** The assistant whose graph lights up as the run goes (none: no graph). */
  assistantId?: string;
  /** Offered once the run has ended. */
  onClose?: () => void;
}

/** A run watched live: its status with Cancel, what went wrong, the graph lit, its events and last values. */
export function LiveRun({ run, title, assistantId, onClose }: LiveRunProps) {
  const { state } = run;
  if (state.phase === "idle") return null;
  const { label, tone } = statusOf(state);
  const raised = raisedError(state);
  const duration = state.startedAt !== undefined && state.endedAt !== undefined ? state.endedAt - state.startedAt : undefined;
  return (
    <section className="live-run" aria-label={title}>
      <div className="live-run-head">
        <h3>{title}</h3>
        {!isLive(state.phase) && onClose && (
          <button type="button" className="button button-small" onClick={onClose}>
            Close
          </button>
        )}
      </div>
      <div className="run-summary-line" aria-live="polite">
        <span className={`badge badge-${tone}`}>{label}</span>
        {state.run && (
          <span>
            run{" "}
            {state.threadId ? (
              <Link to={`${threadPath(state.threadId, "runs")}?run=${encodeURIComponent(state.run.runId)}`}>
                <code>{state.run.runId}</code>
              </Link>
            ) : (
              <code>{state.run.runId}</code>
            )}
          </span>
        )}
        {duration !== undefined && <span>{formatDuration(duration)}</span>}
        {isLive(state.phase) && (
          <button
            type="button"
            className="button button-danger"
            onClick={() => void run.cancel()}
            disabled={state.phase === "cancelling" || state.run === undefined}
          >
            {state.phase === "cancelling" ? "Cancelling…" : "Cancel run"}
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
      {assistantId && <GraphView assistantId={assistantId} progress={state.progress} compact />}
      <EventList events={state.events} dropped={state.droppedEvents} />
      {state.lastValues !== undefined && (
        <details className="live-run-values" open={state.phase === "ended"}>
          <summary className="details-summary">{isLive(state.phase) ? "Values so far" : "Values at the end"}</summary>
          <JsonView value={state.lastValues} />
        </details>
      )}
    </section>
  );
}
