import { createConnectQueryKey, skipToken, useQuery } from "@connectrpc/connect-query";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { keepPreviousData, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { ErrorBox } from "../../components/error-box";
import { JsonView } from "../../components/json-view";
import { Loading } from "../../components/loading";
import { compactPreview, decodeJson, decodeJsonLenient } from "../../lib/json";
import { formatAbsolute, formatRelative } from "../../lib/time";
import { isActive } from "../runs/use-run-stream";
import { type Checkpoint, toCheckpoint, type Writers, writersOf } from "./checkpoints";
import { ForkEditor } from "./fork-editor";
import { LiveRun } from "./live-run";
import { diffState, type StateChange } from "./state-diff";
import { useGraphNodes, useThreadAssistant } from "./thread-assistant";
import { useThreadContext } from "./thread-page";
import { rerunFromCheckpoint, useRunStream } from "./use-run-stream";

const PAGE_SIZE = 10;

function stepLabel(checkpoint: Checkpoint): string {
  return checkpoint.step === undefined ? "Checkpoint" : `Step ${checkpoint.step}`;
}

/**
 * The thread's checkpoints, newest first (?before= pages to older ones), each with what wrote it
 * and what it changed; any one can be edited into a fork (?fork=) or run again from.
 * ?checkpoint= marks one (the fork just made, or a shared link).
 */
export function HistoryTab() {
  const { thread, assistantId: fromMetadata } = useThreadContext();
  const threadId = thread.threadId;
  const [params, setParams] = useSearchParams();
  const before = params.get("before") ?? undefined;
  const selected = params.get("checkpoint") ?? undefined;
  const forking = params.get("fork") ?? undefined;
  const queryClient = useQueryClient();
  const run = useRunStream();
  const [rerunOf, setRerunOf] = useState<Checkpoint>();
  const [forkedFrom, setForkedFrom] = useState<Checkpoint>();
  const assistant = useThreadAssistant(threadId, fromMetadata);
  const nodes = useGraphNodes(assistant.assistantId);

  const history = useQuery(
    ThreadService.method.getThreadHistory,
    {
      threadId,
      // One more than shown: the oldest shown checkpoint's parent, for its diff and its writers.
      limit: PAGE_SIZE + 1,
      before: before ? { threadId, checkpointNs: "", checkpointId: before } : undefined,
    },
    {
      placeholderData: keepPreviousData,
      select: (response) => response.statesJson.map((bytes) => toCheckpoint(decodeJsonLenient(bytes))),
    },
  );

  const setParam = (changes: Record<string, string | undefined>, replace = false) => {
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        for (const [name, value] of Object.entries(changes)) {
          if (value === undefined) next.delete(name);
          else next.set(name, value);
        }
        return next;
      },
      { replace },
    );
  };

  const running = isActive(run.state.phase);
  const rerun = (checkpoint: Checkpoint) => {
    if (!assistant.assistantId) return;
    setRerunOf(checkpoint);
    void run.watch(rerunFromCheckpoint(threadId, assistant.assistantId, checkpoint));
  };

  if (history.isPending) return <Loading label="Loading the history…" />;
  if (history.isError) {
    return <ErrorBox error={history.error} context="Could not load the history" onRetry={() => void history.refetch()} />;
  }
  const loaded = history.data.filter((entry): entry is Checkpoint => entry !== undefined);
  const shown = loaded.slice(0, PAGE_SIZE);
  const older = loaded.length > PAGE_SIZE ? shown.at(-1) : undefined;
  const byId = new Map(loaded.map((entry) => [entry.checkpointId, entry]));

  return (
    <div className="history">
      {forkedFrom && selected && (
        <p className="notice" role="status">
          New checkpoint <code>{selected}</code> saved, branching from {stepLabel(forkedFrom).toLowerCase()}.{" "}
          <button type="button" className="link-button" onClick={() => setForkedFrom(undefined)}>
            Dismiss
          </button>
        </p>
      )}
      {rerunOf && (
        <LiveRun
          run={run}
          title={`Re-run from ${stepLabel(rerunOf).toLowerCase()}`}
          assistantId={assistant.assistantId}
          onClose={() => {
            run.reset();
            setRerunOf(undefined);
          }}
        />
      )}
      {!assistant.pending && !assistant.assistantId && (
        <p className="muted">The thread names no assistant and has no run: a re-run cannot tell which graph to run.</p>
      )}
      {shown.length === 0 ? (
        <p className="empty">No checkpoints: no run has written to this thread yet.</p>
      ) : (
        <ol className="timeline" aria-label="Checkpoints, newest first">
          {shown.map((checkpoint) => (
            <CheckpointItem
              key={checkpoint.checkpointId}
              threadId={threadId}
              checkpoint={checkpoint}
              parent={checkpoint.parentId ? byId.get(checkpoint.parentId) : undefined}
              selected={checkpoint.checkpointId === selected}
              forking={checkpoint.checkpointId === forking}
              nodes={nodes.data ?? []}
              canRerun={assistant.assistantId !== undefined && !running}
              link={`?${new URLSearchParams({ ...(before ? { before } : {}), checkpoint: checkpoint.checkpointId })}`}
              onFork={() => setParam({ fork: checkpoint.checkpointId, checkpoint: checkpoint.checkpointId })}
              onCancelFork={() => setParam({ fork: undefined }, true)}
              onForked={(checkpointId) => {
                setForkedFrom(checkpoint);
                void queryClient.invalidateQueries({
                  queryKey: createConnectQueryKey({ schema: ThreadService, cardinality: undefined }),
                });
                // The new checkpoint is the newest: the first page shows it.
                setParam({ fork: undefined, before: undefined, checkpoint: checkpointId });
              }}
              onRerun={() => rerun(checkpoint)}
            />
          ))}
        </ol>
      )}
      {(before || older) && (
        <nav className="pager" aria-label="History pages">
          {before ? <Link to="?">Newest</Link> : <span />}
          {older ? <Link to={`?before=${encodeURIComponent(older.checkpointId)}`}>Older</Link> : <span />}
        </nav>
      )}
    </div>
  );
}

interface CheckpointItemProps {
  threadId: string;
  checkpoint: Checkpoint;
  parent: Checkpoint | undefined;
  selected: boolean;
  forking: boolean;
  nodes: string[];
  canRerun: boolean;
  /** This checkpoint's own address (selected, on its page). */
  link: string;
  onFork: () => void;
  onCancelFork: () => void;
  onForked: (checkpointId: string) => void;
  onRerun: () => void;
}

function CheckpointItem(props: CheckpointItemProps) {
  const { threadId, checkpoint, selected, forking } = props;
  const item = useRef<HTMLLIElement>(null);
  // The parent is on the next page, or on another branch (a fork's): read it alone.
  const fetched = useQuery(
    ThreadService.method.getThreadState,
    props.parent === undefined && checkpoint.parentId
      ? { threadId, checkpoint: { threadId, checkpointNs: checkpoint.checkpointNs, checkpointId: checkpoint.parentId } }
      : skipToken,
    { select: (response) => toCheckpoint(decodeJson(response.stateJson)), staleTime: Number.POSITIVE_INFINITY },
  );
  const parent = props.parent ?? fetched.data;
  const parentPending = props.parent === undefined && checkpoint.parentId !== undefined && fetched.isPending;
  const writers = writersOf(checkpoint, parent);
  const changes = parentPending ? undefined : diffState(parent?.values, checkpoint.values);

  useEffect(() => {
    if (selected) item.current?.scrollIntoView({ block: "nearest" });
  }, [selected]);

  const created = checkpoint.createdAt ? new Date(checkpoint.createdAt) : undefined;
  const headingId = `checkpoint-${checkpoint.checkpointId}`;
  return (
    <li ref={item} className={selected ? "checkpoint checkpoint-selected" : "checkpoint"} aria-labelledby={headingId}>
      <div className="checkpoint-head">
        <h3 id={headingId}>{stepLabel(checkpoint)}</h3>
        <WritersLabel writers={writers} />
        {selected && <span className="badge badge-running">selected</span>}
        {checkpoint.next.length > 0 && (
          <span className="muted">
            next <code>{checkpoint.next.join(", ")}</code>
          </span>
        )}
        {created && !Number.isNaN(created.getTime()) && (
          <time className="muted" dateTime={created.toISOString()} title={formatAbsolute(created)}>
            {formatRelative(created)}
          </time>
        )}
        <code className="muted checkpoint-id" title={checkpoint.checkpointId}>
          {checkpoint.checkpointId.slice(0, 13)}…
        </code>
      </div>
      {fetched.isError && (
        <ErrorBox error={fetched.error} context="Could not load the previous checkpoint" onRetry={() => void fetched.refetch()} />
      )}
      {changes === undefined ? (
        <Loading label="Comparing with the previous checkpoint…" inline />
      ) : (
        <ChangeList changes={changes} first={checkpoint.parentId === undefined} />
      )}
      {checkpoint.interrupts.length > 0 && (
        <details className="plain-details">
          <summary className="details-summary">Interrupts ({checkpoint.interrupts.length})</summary>
          <JsonView value={checkpoint.interrupts} expandDepth={3} />
        </details>
      )}
      <details className="plain-details">
        <summary className="details-summary">All values</summary>
        <JsonView value={checkpoint.values} />
      </details>
      {forking ? (
        <ForkEditor
          threadId={threadId}
          checkpoint={checkpoint}
          nodes={props.nodes}
          writers={writers.nodes}
          onForked={props.onForked}
          onCancel={props.onCancelFork}
        />
      ) : (
        <div className="checkpoint-actions">
          <button type="button" className="button button-small" onClick={props.onFork}>
            Edit state and fork
          </button>
          <button type="button" className="button button-small" disabled={!props.canRerun} onClick={props.onRerun}>
            Re-run from here
          </button>
          <Link className="button button-small" to={props.link} aria-label={`Link to ${stepLabel(checkpoint).toLowerCase()}`}>
            Link
          </Link>
        </div>
      )}
    </li>
  );
}

function WritersLabel({ writers }: { writers: Writers }) {
  switch (writers.kind) {
    case "input":
      return <span className="badge">input</span>;
    case "update":
      return (
        <span className="badge badge-warning">state update{writers.nodes.length > 0 && <> as {writers.nodes.join(", ")}</>}</span>
      );
    case "fork":
      return <span className="badge badge-warning">fork</span>;
    default:
      return writers.nodes.length > 0 ? (
        <span>
          by{" "}
          {writers.nodes.map((node, i) => (
            <span key={node}>
              {i > 0 && ", "}
              <code className="node-name">{node}</code>
            </span>
          ))}
        </span>
      ) : null;
  }
}

const MARKS: Record<StateChange["kind"], string> = { added: "+", removed: "−", appended: "+", changed: "~" };
const KIND_LABELS: Record<StateChange["kind"], string> = {
  added: "added",
  removed: "removed",
  appended: "appended to",
  changed: "changed",
};

/** The keys a checkpoint changed, each with its values. */
function ChangeList({ changes, first }: { changes: StateChange[]; first: boolean }) {
  if (changes.length === 0) return <p className="muted diff-none">{first ? "Empty state." : "No change to the values."}</p>;
  return (
    <ul className="diff" aria-label="Changes to the values">
      {changes.map((change) => (
        <li key={`${change.kind}:${change.key}`} className={`diff-${change.kind}`}>
          <span className="diff-mark" aria-hidden="true">
            {MARKS[change.kind]}
          </span>
          <span className="visually-hidden">{KIND_LABELS[change.kind]} </span>
          <code className="diff-key">{change.key || "(value)"}</code>
          <ChangeValue change={change} />
        </li>
      ))}
    </ul>
  );
}

function ChangeValue({ change }: { change: StateChange }) {
  switch (change.kind) {
    case "added":
    case "removed":
      return <code className="diff-value">{compactPreview(change.value)}</code>;
    case "appended":
      return <code className="diff-value">{change.items.map((item) => compactPreview(item, 80)).join(", ")}</code>;
    case "changed":
      return (
        <span className="diff-value">
          <code className="diff-before">{compactPreview(change.before, 60)}</code>
          <span aria-hidden="true"> → </span>
          <span className="visually-hidden"> to </span>
          <code>{compactPreview(change.after, 60)}</code>
        </span>
      );
  }
}
