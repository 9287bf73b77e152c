import { useQuery } from "@connectrpc/connect-query";
import { SortOrder } from "@langopen/gen/langopen/data/v1/common_pb";
import { ThreadStatus } from "@langopen/gen/langopen/data/v1/thread_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { keepPreviousData } from "@tanstack/react-query";
import { useEffect, useId, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { DataTable } from "../../components/data-table";
import { Page } from "../../components/page";
import { Pager, usePage } from "../../components/pager";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { ParamSelect } from "../../components/url-filters";
import { parseMetadataFilter } from "./metadata-filter";
import { threadPath } from "./run-names";
import { THREAD_STATUS_NAMES, threadGraphLabel } from "./thread-links";

const PAGE_SIZE = 50;
const STATUSES = [ThreadStatus.IDLE, ThreadStatus.BUSY, ThreadStatus.INTERRUPTED, ThreadStatus.ERROR];
const STATUS_OPTIONS = STATUSES.map((status) => THREAD_STATUS_NAMES[status]);
/** How long typing pauses before the search runs (and the URL changes). */
const TYPING_PAUSE_MS = 400;

/** The threads, most recently updated first; ?status= and ?metadata= (key=value, …) filter, ?page= pages. */
export function ThreadsPage() {
  const [params, setParams] = useSearchParams();
  const page = usePage();
  const statusName = params.get("status") ?? "";
  const metadataText = params.get("metadata") ?? "";
  const status = STATUSES.find((candidate) => THREAD_STATUS_NAMES[candidate] === statusName) ?? ThreadStatus.UNSPECIFIED;
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
        <ParamSelect label="Status" param="status" value={statusName} anyLabel="Any status" options={STATUS_OPTIONS} />
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
                <DataTable caption="Threads" columns={["Thread", "Status", "Graph", "Updated", "Created"]}>
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
                </DataTable>
                <Pager page={page} pageSize={PAGE_SIZE} total={total} shown={list.length} />
              </>
            )
          }
        </QueryView>
      )}
    </Page>
  );
}
