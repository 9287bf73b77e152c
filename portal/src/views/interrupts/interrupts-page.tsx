import { useQuery } from "@connectrpc/connect-query";
import { SortOrder } from "@langopen/gen/langopen/data/v1/common_pb";
import { ThreadStatus } from "@langopen/gen/langopen/data/v1/thread_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { Link } from "react-router";
import { JsonView } from "../../components/json-view";
import { Page } from "../../components/page";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { decodeJsonLenient, isJsonObject } from "../../lib/json";
import { threadGraphLabel, threadRunLink } from "../threads/thread-links";

/** The threads waiting on an interrupt, with what each waits for; resuming happens on the assistant's Run tab. */
export function InterruptsPage() {
  const threads = useQuery(ThreadService.method.searchThreads, {
    status: ThreadStatus.INTERRUPTED,
    limit: 100,
    sortBy: "updated_at",
    sortOrder: SortOrder.DESC,
  });
  return (
    <Page title="Interrupts" subtitle="Threads waiting for an answer">
      <QueryView query={threads} loading="Loading interrupted threads…" errorContext="Could not load the interrupted threads">
        {({ threads: list }) =>
          list.length === 0 ? (
            <p className="empty">No thread is waiting on an interrupt.</p>
          ) : (
            <ul className="card-list">
              {list.map((thread) => {
                const link = threadRunLink(thread);
                const interrupts = decodeJsonLenient(thread.interruptsJson);
                const none = interrupts === undefined || (isJsonObject(interrupts) && Object.keys(interrupts).length === 0);
                return (
                  <li key={thread.threadId} className="card">
                    <div className="card-meta">
                      <code>{thread.threadId}</code>
                      <span>{threadGraphLabel(thread) ?? "unknown graph"}</span>
                      <span>
                        since <Time value={thread.updateTime} />
                      </span>
                      {link && <Link to={link}>Answer on the Run tab</Link>}
                    </div>
                    {none ? (
                      <p className="muted">No interrupt value recorded: the run was stopped (cancelled, or at a breakpoint).</p>
                    ) : (
                      <JsonView value={interrupts} expandDepth={3} />
                    )}
                  </li>
                );
              })}
            </ul>
          )
        }
      </QueryView>
    </Page>
  );
}
