import { useId } from "react";
import { Link, useSearchParams } from "react-router";
import { useAssistantContext } from "./assistant-context";
import { GraphLegend } from "./graph-legend";
import { GraphView } from "./lazy-graph-view";
import { RunSummary } from "./run-summary";

/** The graph, full size; ?xray=1 expands the subgraphs. A run started on the Run tab shows here too. */
export function GraphTab() {
  const { assistant, run } = useAssistantContext();
  const [params, setParams] = useSearchParams();
  const xray = params.get("xray") === "1";
  const xrayId = useId();
  return (
    <>
      <div className="toolbar">
        <div className="checkbox">
          <input
            id={xrayId}
            type="checkbox"
            checked={xray}
            onChange={(event) => {
              const next = new URLSearchParams(params);
              if (event.target.checked) next.set("xray", "1");
              else next.delete("xray");
              setParams(next, { replace: true });
            }}
          />
          <label htmlFor={xrayId}>Show the nodes inside subgraphs (xray)</label>
        </div>
        <GraphLegend />
      </div>
      {run.state.phase === "idle" ? (
        <p className="muted">
          Start a run on the <Link to={{ pathname: "../run", search: params.toString() }}>Run</Link> tab to see its nodes light up
          here as they run.
        </p>
      ) : (
        <RunSummary run={run} />
      )}
      <GraphView
        assistantId={assistant.assistantId}
        xray={xray}
        progress={run.state.phase === "idle" ? undefined : run.state.progress}
      />
    </>
  );
}
