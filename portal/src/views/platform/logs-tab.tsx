import { useQuery } from "@connectrpc/connect-query";
import { DeploymentService, LogKind } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { useEffect, useId, useLayoutEffect, useRef, useState } from "react";
import { useSearchParams } from "react-router";
import { useSession } from "../../auth/session";
import { ErrorBox } from "../../components/error-box";
import { Loading } from "../../components/loading";
import { useDeploymentContext } from "./deployment-context";
import { REVISION_STATUS, revisionInProgress } from "./format";
import { DeploymentStatusBadge, RevisionStatusBadge } from "./status";
import { type LogPhase, useLogStream } from "./use-log-stream";

/** How close to the bottom (px) still counts as following the end. */
const AT_END_PX = 24;
const BUSY_POLL_MS = 2_000;

const PHASES: Record<LogPhase, string> = {
  connecting: "Connecting…",
  streaming: "Live",
  waiting: "Waiting for the build to start…",
  ended: "End of log",
  error: "Failed",
};

/**
 * A build's log or the runtime's, live: new lines as they come, scrolled into view unless paused
 * (scrolling up pauses too). ?kind=build|runtime, ?revision= (build; empty: the latest), ?follow=0.
 */
export function LogsTab() {
  const { deployment } = useDeploymentContext();
  const { apiKey } = useSession();
  const [params, setParams] = useSearchParams();
  const kind = params.get("kind") === "runtime" ? LogKind.RUNTIME : LogKind.BUILD;
  const chosenRevision = params.get("revision") ?? "";
  const follow = params.get("follow") !== "0";
  const revisionId = kind === LogKind.BUILD ? chosenRevision || deployment.latestRevisionId : "";
  const [generation, setGeneration] = useState(0);
  const [paused, setPaused] = useState(false);
  const box = useRef<HTMLPreElement>(null);
  const ids = { revision: useId(), follow: useId(), log: useId() };

  const log = useLogStream({ deployment: deployment.deploymentId, kind, revisionId, follow }, generation);

  // A new key (a sign-in after the stream was refused) opens the stream again.
  const lastKey = useRef(apiKey);
  useEffect(() => {
    if (apiKey !== lastKey.current && apiKey !== null) setGeneration((current) => current + 1);
    lastKey.current = apiKey;
  }, [apiKey]);

  const revisions = useQuery(
    DeploymentService.method.listRevisions,
    { deployment: deployment.deploymentId, limit: 50 },
    { enabled: kind === LogKind.BUILD },
  );
  const revision = useQuery(
    DeploymentService.method.getRevision,
    { revisionId },
    {
      enabled: kind === LogKind.BUILD && revisionId !== "",
      refetchInterval: (query) => {
        const status = query.state.data?.revision?.status;
        return status !== undefined && revisionInProgress(status) ? BUSY_POLL_MS : false;
      },
    },
  );

  // New lines come into view unless the reader paused (or scrolled up).
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when lines arrive
  useLayoutEffect(() => {
    const element = box.current;
    if (element && !paused) element.scrollTop = element.scrollHeight;
  }, [log.lines, paused]);

  const onScroll = () => {
    const element = box.current;
    if (!element) return;
    const atEnd = element.scrollHeight - element.scrollTop - element.clientHeight <= AT_END_PX;
    if (!atEnd && !paused) setPaused(true);
    else if (atEnd && paused) setPaused(false);
  };

  const setParam = (name: string, value: string | undefined) => {
    const next = new URLSearchParams(params);
    if (value === undefined || value === "") next.delete(name);
    else next.set(name, value);
    setParams(next, { replace: true });
  };

  const shownRevision = revision.data?.revision;
  const label =
    kind === LogKind.BUILD ? `Build log${shownRevision ? ` of revision ${shownRevision.number}` : ""}` : "Runtime log";

  return (
    <div className="logs">
      <div className="log-toolbar">
        <fieldset className="segmented log-kind">
          <legend className="visually-hidden">Log</legend>
          <button type="button" aria-pressed={kind === LogKind.BUILD} onClick={() => setParam("kind", undefined)}>
            Build
          </button>
          <button type="button" aria-pressed={kind === LogKind.RUNTIME} onClick={() => setParam("kind", "runtime")}>
            Runtime
          </button>
        </fieldset>
        {kind === LogKind.BUILD && (
          <div className="field">
            <label htmlFor={ids.revision}>Revision</label>
            <select id={ids.revision} value={chosenRevision} onChange={(event) => setParam("revision", event.target.value)}>
              <option value="">The latest</option>
              {chosenRevision && !revisions.data?.revisions.some((candidate) => candidate.revisionId === chosenRevision) && (
                <option value={chosenRevision}>{shownRevision ? `#${shownRevision.number}` : chosenRevision}</option>
              )}
              {revisions.data?.revisions.map((candidate) => (
                <option key={candidate.revisionId} value={candidate.revisionId}>
                  #{candidate.number} ({REVISION_STATUS[candidate.status]?.label ?? "unknown"})
                </option>
              ))}
            </select>
          </div>
        )}
        <div className="checkbox">
          <input
            id={ids.follow}
            type="checkbox"
            checked={follow}
            onChange={(event) => setParam("follow", event.target.checked ? undefined : "0")}
          />
          <label htmlFor={ids.follow}>Follow new lines</label>
        </div>
        <button type="button" className="button" aria-pressed={paused} aria-controls={ids.log} onClick={() => setPaused(!paused)}>
          {paused ? "Resume auto-scroll" : "Pause auto-scroll"}
        </button>
        {(log.phase === "ended" || log.phase === "error") && (
          <button type="button" className="button" onClick={() => setGeneration(generation + 1)}>
            {log.phase === "ended" ? "Reload" : "Reconnect"}
          </button>
        )}
      </div>

      <p className="log-status" role="status">
        {log.phase === "connecting" || log.phase === "waiting" ? (
          <Loading inline label={PHASES[log.phase]} />
        ) : (
          <span className={log.phase === "streaming" ? "log-live" : undefined}>{PHASES[log.phase]}</span>
        )}
        {kind === LogKind.BUILD && shownRevision && (
          <span>
            Revision {shownRevision.number} <RevisionStatusBadge status={shownRevision.status} />
          </span>
        )}
        <span>
          Deployment <DeploymentStatusBadge status={deployment.status} />
        </span>
        {paused && <span className="muted">Auto-scroll paused</span>}
      </p>
      {kind === LogKind.BUILD && shownRevision?.statusMessage && <p className="muted">{shownRevision.statusMessage}</p>}
      {log.phase === "error" && (
        <ErrorBox error={log.error} context="The log stream failed" onRetry={() => setGeneration(generation + 1)} />
      )}
      {log.dropped > 0 && <p className="muted">{log.dropped} earlier lines are not shown.</p>}
      <pre
        id={ids.log}
        ref={box}
        className="log-view"
        role="log"
        // Lines come too fast to be read out one by one: the status above says how the stream goes.
        aria-live="off"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable log must be reachable to scroll it with the keyboard
        tabIndex={0}
        aria-label={label}
        onScroll={onScroll}
      >
        {log.lines.length > 0 ? log.lines.join("\n") : log.phase === "ended" ? "(no lines)" : ""}
      </pre>
    </div>
  );
}
