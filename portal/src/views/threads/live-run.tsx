import { Link } from "react-router";
import { JsonView } from "../../components/json-view";
import { EventList } from "../assistants/event-list";
import { GraphView } from "../assistants/lazy-graph-view";
import { RunStatusLine } from "../runs/run-status";
import { isActive, type RunStreamController } from "../runs/use-run-stream";
import { threadPath } from "./run-names";

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
  return (
    <section className="live-run" aria-label={title}>
      <div className="live-run-head">
        <h3>{title}</h3>
        {!isActive(state.phase) && onClose && (
          <button type="button" className="button button-small" onClick={onClose}>
            Close
          </button>
        )}
      </div>
      <RunStatusLine
        run={run}
        cancelLabel="Cancel run"
        cancelNeedsRun
        runId={(runId, threadId) =>
          threadId ? (
            <Link to={`${threadPath(threadId, "runs")}?run=${encodeURIComponent(runId)}`}>
              <code>{runId}</code>
            </Link>
          ) : (
            <code>{runId}</code>
          )
        }
      />
      {assistantId && <GraphView assistantId={assistantId} progress={state.progress} compact />}
      <EventList events={state.events} dropped={state.droppedEvents} />
      {state.lastValues !== undefined && (
        <details className="live-run-values" open={state.phase === "ended"}>
          <summary className="details-summary">{isActive(state.phase) ? "Values so far" : "Values at the end"}</summary>
          <JsonView value={state.lastValues} />
        </details>
      )}
    </section>
  );
}
