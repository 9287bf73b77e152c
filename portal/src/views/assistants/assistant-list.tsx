import { useQuery } from "@connectrpc/connect-query";
import type { Assistant } from "@langopen/gen/langopen/data/v1/assistant_pb";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { SortOrder } from "@langopen/gen/langopen/data/v1/common_pb";
import { keepPreviousData } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { ErrorBox } from "../../components/error-box";
import { Loading } from "../../components/loading";
import { Page } from "../../components/page";
import { Pager, usePage } from "../../components/pager";
import { Time } from "../../components/time";

const PAGE_SIZE = 50;
/** How long typing pauses before the search runs (and the URL changes). */
const TYPING_PAUSE_MS = 300;

function groupByGraph(assistants: Assistant[]): Array<[string, Assistant[]]> {
  const groups = new Map<string, Assistant[]>();
  for (const assistant of assistants) {
    const group = groups.get(assistant.graphId) ?? [];
    group.push(assistant);
    groups.set(assistant.graphId, group);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([graph, members]) => [graph, members.sort((a, b) => (a.name || a.assistantId).localeCompare(b.name || b.assistantId))]);
}

/** The assistants, grouped by graph; searched by name and graph (both in the URL). */
export function AssistantList() {
  const [params, setParams] = useSearchParams();
  const name = params.get("q") ?? "";
  const graphId = params.get("graph") ?? "";
  const page = usePage();
  const [typed, setTyped] = useState(name);
  const searchId = useId();
  const graphSelectId = useId();

  const pushed = useRef(name);

  // The URL changed under the field (back, forward, a link): the field follows it.
  useEffect(() => {
    if (name !== pushed.current) {
      pushed.current = name;
      setTyped(name);
    }
  }, [name]);

  useEffect(() => {
    if (typed === name) return;
    const timer = setTimeout(() => {
      pushed.current = typed;
      setParams(
        (current) => {
          const next = new URLSearchParams(current);
          if (typed) next.set("q", typed);
          else next.delete("q");
          next.delete("page");
          return next;
        },
        { replace: true },
      );
    }, TYPING_PAUSE_MS);
    return () => clearTimeout(timer);
  }, [typed, name, setParams]);

  const filter = { name, graphId };
  const search = useQuery(
    AssistantService.method.searchAssistants,
    { ...filter, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE, sortBy: "graph_id", sortOrder: SortOrder.ASC },
    { placeholderData: keepPreviousData },
  );
  const count = useQuery(AssistantService.method.countAssistants, filter, { placeholderData: keepPreviousData });
  // Every graph has a default assistant made by the server: their graph ids are the graphs served.
  const graphs = useQuery(AssistantService.method.searchAssistants, { metadata: { created_by: "system" }, limit: 1000 });
  const graphIds = [...new Set([...(graphs.data?.assistants.map((a) => a.graphId) ?? []), ...(graphId ? [graphId] : [])])].sort();

  const total = count.data ? Number(count.data.count) : undefined;
  return (
    <Page
      title="Assistants"
      subtitle={total === undefined ? undefined : `${total} assistant${total === 1 ? "" : "s"}${name || graphId ? " match" : ""}`}
    >
      <search className="toolbar">
        <div className="field">
          <label htmlFor={searchId}>Name</label>
          <input
            id={searchId}
            type="search"
            value={typed}
            placeholder="Search by name"
            onChange={(e) => setTyped(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={graphSelectId}>Graph</label>
          <select
            id={graphSelectId}
            value={graphId}
            onChange={(event) => {
              const next = new URLSearchParams(params);
              if (event.target.value) next.set("graph", event.target.value);
              else next.delete("graph");
              next.delete("page");
              setParams(next);
            }}
          >
            <option value="">All graphs</option>
            {graphIds.map((id) => (
              <option key={id} value={id}>
                {id}
              </option>
            ))}
          </select>
        </div>
        {search.isFetching && !search.isPending && <Loading inline label="Updating…" />}
      </search>
      {graphs.isError && (
        <ErrorBox error={graphs.error} context="Could not list the graphs" onRetry={() => void graphs.refetch()} />
      )}
      {count.isError && (
        <ErrorBox error={count.error} context="Could not count the assistants" onRetry={() => void count.refetch()} />
      )}
      {search.isPending ? (
        <Loading label="Loading assistants…" />
      ) : search.isError ? (
        <ErrorBox error={search.error} context="Could not load the assistants" onRetry={() => void search.refetch()} />
      ) : search.data.assistants.length === 0 ? (
        <p className="empty">{name || graphId ? "No assistant matches." : "No assistants yet."}</p>
      ) : (
        groupByGraph(search.data.assistants).map(([graph, members]) => (
          <section key={graph} className="section" aria-labelledby={`graph-${graph}`}>
            <h2 id={`graph-${graph}`} className="group-title">
              <span className="muted">Graph</span> {graph}
            </h2>
            <ul className="card-list">
              {members.map((assistant) => (
                <li key={assistant.assistantId} className="card">
                  <Link to={`/assistants/${encodeURIComponent(assistant.assistantId)}/graph`} className="card-title">
                    {assistant.name || assistant.assistantId}
                  </Link>
                  {assistant.metadata?.created_by === "system" && <span className="badge">default</span>}
                  <div className="card-meta">
                    <code>{assistant.assistantId}</code>
                    <span>version {assistant.version}</span>
                    <span>
                      updated <Time value={assistant.updateTime} />
                    </span>
                  </div>
                  {assistant.description && <p className="card-description">{assistant.description}</p>}
                </li>
              ))}
            </ul>
          </section>
        ))
      )}
      {search.data && (
        <Pager
          page={page}
          pageSize={PAGE_SIZE}
          total={total}
          hasMore={total !== undefined ? page * PAGE_SIZE < total : search.data.assistants.length === PAGE_SIZE}
        />
      )}
    </Page>
  );
}
