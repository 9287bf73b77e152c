import { useQuery } from "@connectrpc/connect-query";
import type { Thread } from "@langopen/gen/langopen/data/v1/thread_pb";
import { ThreadStatus } from "@langopen/gen/langopen/data/v1/thread_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { Link, NavLink, Outlet, useOutletContext, useParams } from "react-router";
import { Page } from "../../components/page";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { THREAD_STATUS_NAMES, threadAssistant, threadGraphLabel, threadRunLink } from "./thread-links";

export interface ThreadContext {
  thread: Thread;
  /** The assistant runs of the thread use (its metadata's assistant_id, else graph_id), when known. */
  assistantId?: string;
}

export function useThreadContext(): ThreadContext {
  return useOutletContext<ThreadContext>();
}

const BUSY_POLL_MS = 3_000;

const TABS = [
  { to: "state", label: "State" },
  { to: "history", label: "History" },
  { to: "runs", label: "Runs" },
];

/** One thread: its status and graph, and its tabs (/threads/:threadId/{state,history,runs}). */
export function ThreadPage() {
  const { threadId = "" } = useParams();
  // A busy thread is read again now and then: its status changes when its run ends.
  const query = useQuery(
    ThreadService.method.getThread,
    { threadId },
    { refetchInterval: (q) => (q.state.data?.thread?.status === ThreadStatus.BUSY ? BUSY_POLL_MS : false) },
  );
  return (
    <QueryView query={query} loading="Loading the thread…" errorContext="Could not load the thread">
      {({ thread }) =>
        thread ? (
          <ThreadLoaded thread={thread} />
        ) : (
          <Page title="Thread not found">
            <p>
              The server answered no thread. <Link to="/threads">Back to the threads</Link>.
            </p>
          </Page>
        )
      }
    </QueryView>
  );
}

function ThreadLoaded({ thread }: { thread: Thread }) {
  const status = THREAD_STATUS_NAMES[thread.status];
  const graph = threadGraphLabel(thread);
  const assistantId = threadAssistant(thread);
  const runLink = threadRunLink(thread);
  const context: ThreadContext = { thread, assistantId };
  return (
    <Page
      title={
        <>
          Thread <code className="title-id">{thread.threadId}</code>
        </>
      }
      documentTitle={`Thread ${thread.threadId.slice(0, 8)}`}
      subtitle={
        <>
          <Link to="/threads">Threads</Link>
          <span className={`badge badge-status-${status}`}>{status}</span>
          {graph && (
            <span>
              graph {assistantId ? <Link to={`/assistants/${encodeURIComponent(assistantId)}/graph`}>{graph}</Link> : graph}
            </span>
          )}
          <span>
            updated <Time value={thread.updateTime} />
          </span>
        </>
      }
      actions={
        <>
          {thread.status === ThreadStatus.INTERRUPTED && (
            <Link className="button button-primary" to={`/interrupts?thread=${encodeURIComponent(thread.threadId)}`}>
              Answer the interrupt
            </Link>
          )}
          {runLink && (
            <Link className="button" to={runLink}>
              Run on this thread
            </Link>
          )}
        </>
      }
    >
      <nav className="tabs" aria-label="Thread">
        {TABS.map((tab) => (
          <NavLink key={tab.to} to={tab.to} className="tab">
            {tab.label}
          </NavLink>
        ))}
      </nav>
      <div className="tab-panel">
        <Outlet context={context} />
      </div>
    </Page>
  );
}
