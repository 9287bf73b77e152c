import { useQuery } from "@connectrpc/connect-query";
import { SortOrder } from "@langopen/gen/langopen/data/v1/common_pb";
import { ThreadStatus } from "@langopen/gen/langopen/data/v1/thread_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { keepPreviousData } from "@tanstack/react-query";
import { useEffect, useId, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { Page } from "../../components/page";
import { Pager, usePage } from "../../components/pager";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { parseMetadataFilter } from "./metadata-filter";
import { threadPath } from "./run-names";
import { THREAD_STATUS_NAMES, threadGraphLabel } from "./thread-links";

const PAGE_SIZE = 50;
const STATUSES = [ThreadStatus.IDLE, ThreadStatus.BUSY, ThreadStatus.INTERRUPTED, ThreadStatus.ERROR];
/** How long typing pauses before the search runs (and the URL changes). */
const TYPING_PAUSE_MS = 400;

/** The threads, most recently updated first; ?status= and ?metadata= (key=value, …) filter, ?page= pages. */
export function ThreadsPage() {
  const [params, setParams] = useSearchParams();
  const page = usePage();
  const statusName = params.get("status") ?? "";
  const metadataText = params.get("metadata") ?? "";
  const status = STATUSES.find((candidate) => THREAD_STATUS_NAMES[candidate] === statusName) ?? ThreadStatus.UNSPECIFIED;
  const statusId = useId();
  const metadataId = useId();
  const [typed, setTyped] = useState(metadataText);

  // The URL changed under the field (back, forward, a link): the field follows it.
  useEffect(() => setTyped(metadataText), [metadataText]);

  useEffect(() => {
    if (typed === metadataText) return;
    const timer = setTimeout(() => {
      setParams(
        (current) => {
          const next = new URLSearchParams(current);
          if (typed.trim()) next.set("metadata", typed);
          else next.delete("metadata");
          next.delete("page");
          return next;
        },
        { replace: true },
      );
    }, TYPING_PAUSE_MS);
    return () => clearTimeout(timer);
  }, [typed, metadataText, setParams]);

  const filter = parseMetadataFilter(metadataText);
  const metadata = filter.ok ? filter.value : {};
  const typedFilter = parseMetadataFilter(typed);
  const threads = useQuery(
    ThreadService.method.searchThreads,
    { metadata, status, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE, sortBy: "updated_at", sortOrder: SortOrder.DESC },
    { placeholderData: keepPreviousData, enabled: filter.ok },
  );
  const count = useQuery(ThreadService.method.countThreads, { metadata, status }, { enabled: filter.ok });
  const total = count.data ? Number(count.data.count) : undefined;
  const filtered = statusName !== "" || Object.keys(metadata).length > 0;

  return (
    <Page
      title="Threads"
      subtitle={total === undefined ? undefined : `${total} thread${total === 1 ? "" : "s"}${filtered ? " found" : ""}`}
    >
      <search className="toolbar" aria-label="Filter the threads">
        <div className="field field-grow">
          <label htmlFor={metadataId}>Metadata</label>
          <input
            id={metadataId}
            type="search"
            value={typed}
            placeholder="key=value, key2=value2"
            spellCheck={false}
            aria-describedby={`${metadataId}-hint`}
            aria-invalid={!typedFilter.ok}
            onChange={(event) => setTyped(event.target.value)}
          />
          <p id={`${metadataId}-hint`} className={typedFilter.ok ? "hint" : "form-error"}>
            {typedFilter.ok
              ? 'Threads whose metadata holds every pair. Numbers and true/false match as such; quote text: id="42".'
              : typedFilter.error}
          </p>
        </div>
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
      </search>
      {!filter.ok ? (
        <p className="empty">Fix the metadata filter to search.</p>
      ) : (
        <QueryView query={threads} loading="Loading threads…" errorContext="Could not load the threads">
          {({ threads: list }) =>
            list.length === 0 ? (
              <p className="empty">{filtered ? "No threads match." : "No threads yet."}</p>
            ) : (
              <>
                <div className="table-wrap">
                  <table>
                    <caption className="visually-hidden">Threads</caption>
                    <thead>
                      <tr>
                        <th scope="col">Thread</th>
                        <th scope="col">Status</th>
                        <th scope="col">Graph</th>
                        <th scope="col">Updated</th>
                        <th scope="col">Created</th>
                      </tr>
                    </thead>
                    <tbody>
                      {list.map((thread) => (
                        <tr key={thread.threadId}>
                          <td>
                            <Link to={threadPath(thread.threadId)}>
                              <code>{thread.threadId}</code>
                            </Link>
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
                          <td>
                            <Time value={thread.createTime} />
                          </td>
                        </tr>
                      ))}
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
      )}
    </Page>
  );
}
