import { createConnectQueryKey, skipToken, useMutation, useQuery } from "@connectrpc/connect-query";
import type { Run } from "@langopen/gen/langopen/data/v1/run_pb";
import { RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";
import { CancelAction, RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { keepPreviousData, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { Link, useSearchParams } from "react-router";
import { DataTable } from "../../components/data-table";
import { ErrorBox } from "../../components/error-box";
import { JsonView } from "../../components/json-view";
import { Section } from "../../components/page";
import { Pager, usePage } from "../../components/pager";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { ParamSelect } from "../../components/url-filters";
import { decodeJsonLenient } from "../../lib/json";
import { isActive } from "../runs/use-run-stream";
import { LiveRun } from "./live-run";
import { RUN_STATUS_NAMES, runIsActive, runStatusTone } from "./run-names";
import { useThreadContext } from "./thread-page";
import { joinRun, useRunStream } from "./use-run-stream";

const PAGE_SIZE = 20;
const STATUSES = [
  RunStatus.PENDING,
  RunStatus.RUNNING,
  RunStatus.SUCCESS,
  RunStatus.ERROR,
  RunStatus.TIMEOUT,
  RunStatus.INTERRUPTED,
];
const STATUS_OPTIONS = STATUSES.map((status) => RUN_STATUS_NAMES[status]);
/** How often the list is read again while one of its runs is pending or running. */
const ACTIVE_POLL_MS = 2_000;

/**
 * The thread's runs, newest first (?status= filters, ?page= pages); ?run= opens one, to cancel it
 * or watch it from its first event (&watch=1).
 */
export function RunsTab() {
  const { thread, assistantId } = useThreadContext();
  const threadId = thread.threadId;
  const [params] = useSearchParams();
  const page = usePage();
  const statusName = params.get("status") ?? "";
  const status = STATUSES.find((candidate) => RUN_STATUS_NAMES[candidate] === statusName) ?? RunStatus.UNSPECIFIED;
  const selected = params.get("run") ?? undefined;
  const runs = useQuery(
    RunService.method.listRuns,
    { threadId, status, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE },
    {
      placeholderData: keepPreviousData,
      refetchInterval: (query) => (query.state.data?.runs.some((run) => runIsActive(run.status)) ? ACTIVE_POLL_MS : false),
    },
  );

  return (
    <div className="runs">
      {selected && <RunDetail key={selected} threadId={threadId} runId={selected} assistantId={assistantId} />}
      <search className="toolbar" aria-label="Filter the runs">
        <ParamSelect label="Status" param="status" value={statusName} anyLabel="Any status" options={STATUS_OPTIONS} />
      </search>
      <QueryView query={runs} loading="Loading the runs…" errorContext="Could not load the runs">
        {({ runs: list }) =>
          list.length === 0 ? (
            <p className="empty">{statusName ? `No ${statusName} runs on this thread.` : "No runs on this thread yet."}</p>
          ) : (
            <>
              <DataTable caption="Runs of the thread" columns={["Run", "Status", "Assistant", "Created", "Updated", "Webhook"]}>
                {list.map((run) => (
                  <RunRow key={run.runId} run={run} selected={run.runId === selected} params={params} />
                ))}
              </DataTable>
              <Pager page={page} pageSize={PAGE_SIZE} shown={list.length} />
            </>
          )
        }
      </QueryView>
    </div>
  );
}

function RunRow({ run, selected, params }: { run: Run; selected: boolean; params: URLSearchParams }) {
  const link = new URLSearchParams(params);
  link.set("run", run.runId);
  const name = RUN_STATUS_NAMES[run.status];
  return (
    <tr aria-current={selected ? "true" : undefined} className={selected ? "row-selected" : undefined}>
      <td>
        <Link to={`?${link}`} aria-label={`Run ${run.runId}, ${name}`}>
          <code>{run.runId}</code>
        </Link>
      </td>
      <td>
        <span className={`badge badge-${runStatusTone(run.status)}`}>{name}</span>
      </td>
      <td>
        <Link to={`/assistants/${encodeURIComponent(run.assistantId)}/graph`}>
          <code>{run.assistantId.slice(0, 8)}</code>
        </Link>
      </td>
      <td>
        <Time value={run.createTime} />
      </td>
      <td>
        <Time value={run.updateTime} />
      </td>
      <td>
        <Link to={`/webhooks?run=${encodeURIComponent(run.runId)}`}>Deliveries</Link>
      </td>
    </tr>
  );
}

/** One run: its status and stored request; an active one can be watched from its first event and cancelled. */
function RunDetail({ threadId, runId, assistantId }: { threadId: string; runId: string; assistantId?: string }) {
  const queryClient = useQueryClient();
  const stream = useRunStream();
  const [params, setParams] = useSearchParams();
  const watchAsked = params.get("watch") === "1";
  const started = useRef(false);
  const query = useQuery(RunService.method.getRun, runId ? { threadId, runId } : skipToken, {
    refetchInterval: (q) => (q.state.data?.run && runIsActive(q.state.data.run.status) ? ACTIVE_POLL_MS : false),
  });
  const cancel = useMutation(RunService.method.cancelRun, {
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: createConnectQueryKey({ schema: RunService, cardinality: undefined }) });
      void queryClient.invalidateQueries({ queryKey: createConnectQueryKey({ schema: ThreadService, cardinality: undefined }) });
    },
  });
  const watching = stream.state.phase !== "idle";

  // A run's end shows in its status at once.
  useEffect(() => {
    if (stream.state.phase === "ended") void query.refetch();
  }, [stream.state.phase, query.refetch]);

  // Watching is in the URL (&watch=1): a shared link opens the run's events as they come.
  useEffect(() => {
    if (!watchAsked || started.current) return;
    started.current = true;
    void stream.watch(joinRun(threadId, runId));
  }, [watchAsked, stream.watch, threadId, runId]);

  const setWatch = (on: boolean) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        if (on) next.set("watch", "1");
        else next.delete("watch");
        return next;
      },
      { replace: true },
    );

  const stopWatching = () => {
    stream.reset();
    started.current = false;
    setWatch(false);
  };

  const close = () =>
    setParams((current) => {
      const next = new URLSearchParams(current);
      next.delete("run");
      next.delete("watch");
      return next;
    });

  return (
    <Section
      title={
        <>
          Run <code className="title-id">{runId}</code>
        </>
      }
      actions={
        <button type="button" className="button button-small" onClick={close}>
          Close
        </button>
      }
    >
      <QueryView query={query} loading="Loading the run…" errorContext="Could not load the run">
        {({ run }) =>
          run === undefined ? (
            <p className="empty">No such run.</p>
          ) : (
            <div className="run-detail">
              <div className="run-summary-line">
                <span className={`badge badge-${runStatusTone(run.status)}`}>{RUN_STATUS_NAMES[run.status]}</span>
                <span>
                  created <Time value={run.createTime} />
                </span>
                <span>
                  updated <Time value={run.updateTime} />
                </span>
                {!watching && (
                  <button type="button" className="button" onClick={() => setWatch(true)}>
                    {runIsActive(run.status) ? "Attach" : "Replay events"}
                  </button>
                )}
                {runIsActive(run.status) && !isActive(stream.state.phase) && (
                  <button
                    type="button"
                    className="button button-danger"
                    disabled={cancel.isPending}
                    onClick={() => cancel.mutate({ threadId, runId, action: CancelAction.INTERRUPT })}
                  >
                    {cancel.isPending ? "Cancelling…" : "Cancel run"}
                  </button>
                )}
                <Link to={`/webhooks?run=${encodeURIComponent(runId)}`}>Webhook deliveries</Link>
              </div>
              {cancel.isError && <ErrorBox error={cancel.error} context="Could not cancel the run" />}
              {cancel.data?.alreadyEnded && <p className="muted">The run had already ended.</p>}
              <LiveRun
                run={stream}
                title={runIsActive(run.status) ? "Live events" : "Events"}
                assistantId={assistantId ?? run.assistantId}
                onClose={stopWatching}
              />
              <details className="plain-details">
                <summary className="details-summary">Request (input, config, stream modes…)</summary>
                <JsonView value={decodeJsonLenient(run.kwargsJson) ?? {}} expandDepth={1} />
              </details>
              {run.metadata && Object.keys(run.metadata).length > 0 && (
                <details className="plain-details">
                  <summary className="details-summary">Metadata</summary>
                  <JsonView value={run.metadata} />
                </details>
              )}
            </div>
          )
        }
      </QueryView>
    </Section>
  );
}
