import { useQuery } from "@connectrpc/connect-query";
import { SortOrder } from "@langopen/gen/langopen/data/v1/common_pb";
import { ThreadStatus } from "@langopen/gen/langopen/data/v1/thread_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { keepPreviousData } from "@tanstack/react-query";
import { useId } from "react";
import { Link, useSearchParams } from "react-router";
import { Page } from "../../components/page";
import { Pager, usePage } from "../../components/pager";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { THREAD_STATUS_NAMES, threadGraphLabel, threadRunLink } from "./thread-links";

const PAGE_SIZE = 50;
const STATUSES = [ThreadStatus.IDLE, ThreadStatus.BUSY, ThreadStatus.INTERRUPTED, ThreadStatus.ERROR];

/** The threads, most recently updated first; ?status= filters. */
export function ThreadsPage() {
  const [params, setParams] = useSearchParams();
  const page = usePage();
  const statusName = params.get("status") ?? "";
  const status = STATUSES.find((candidate) => THREAD_STATUS_NAMES[candidate] === statusName) ?? ThreadStatus.UNSPECIFIED;
  const statusId = useId();
  const threads = useQuery(
    ThreadService.method.searchThreads,
    { status, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE, sortBy: "updated_at", sortOrder: SortOrder.DESC },
    { placeholderData: keepPreviousData },
  );
  const count = useQuery(ThreadService.method.countThreads, { status });
  const total = count.data ? Number(count.data.count) : undefined;

  return (
    <Page title="Threads" subtitle={total === undefined ? undefined : `${total} thread${total === 1 ? "" : "s"}`}>
      <div className="toolbar">
        <div className="field">
          <label htmlFor={statusId}>Status</label>
          <select
            id={statusId}
            value={statusName}
            onChange={(event) => {
              const next = new URLSearchParams(params);
              if (event.target.value) next.set("status", event.target.value);
              else next.delete("status");
              next.delete("page");
              setParams(next);
            }}
          >
            <option value="">Any status</option>
            {STATUSES.map((candidate) => (
              <option key={candidate} value={THREAD_STATUS_NAMES[candidate]}>
                {THREAD_STATUS_NAMES[candidate]}
              </option>
            ))}
          </select>
        </div>
      </div>
      <QueryView query={threads} loading="Loading threads…" errorContext="Could not load the threads">
        {({ threads: list }) =>
          list.length === 0 ? (
            <p className="empty">No threads{statusName ? ` with status ${statusName}` : ""}.</p>
          ) : (
            <>
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Thread</th>
                      <th scope="col">Status</th>
                      <th scope="col">Graph</th>
                      <th scope="col">Updated</th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.map((thread) => {
                      const link = threadRunLink(thread);
                      return (
                        <tr key={thread.threadId}>
                          <td>
                            {link ? (
                              <Link to={link}>
                                <code>{thread.threadId}</code>
                              </Link>
                            ) : (
                              <code>{thread.threadId}</code>
                            )}
                          </td>
                          <td>
                            <span className={`badge badge-status-${THREAD_STATUS_NAMES[thread.status]}`}>
                              {THREAD_STATUS_NAMES[thread.status]}
                            </span>
                          </td>
                          <td>{threadGraphLabel(thread) ?? <span className="muted">—</span>}</td>
                          <td>
                            <Time value={thread.updateTime} />
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
              <Pager
                page={page}
                pageSize={PAGE_SIZE}
                total={total}
                hasMore={total !== undefined ? page * PAGE_SIZE < total : list.length === PAGE_SIZE}
              />
            </>
          )
        }
      </QueryView>
    </Page>
  );
}
