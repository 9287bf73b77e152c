import { Link, useParams } from "react-router";
import { RunStatusLine } from "../runs/run-status";
import type { RunController } from "./use-run";

/** The run's status line (run, thread, duration) with its Cancel button, and what went wrong. */
export function RunSummary({ run }: { run: RunController }) {
  const { assistantId = "" } = useParams();
  return (
    <div className="run-summary">
      <RunStatusLine
        run={run}
        cancelLabel="Cancel"
        threadId={(threadId) => (
          <Link to={`/assistants/${encodeURIComponent(assistantId)}/run?thread=${encodeURIComponent(threadId)}`}>
            <code>{threadId}</code>
          </Link>
        )}
      />
    </div>
  );
}
