import { useQuery } from "@connectrpc/connect-query";
import type { Assistant } from "@langopen/gen/langopen/data/v1/assistant_pb";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { SortOrder } from "@langopen/gen/langopen/data/v1/common_pb";
import { keepPreviousData } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { ErrorBox } from "../../components/error-box";
import { Loading } from "../../components/loading";
import { Page } from "../../components/page";
import { Pager, usePage } from "../../components/pager";
import { Time } from "../../components/time";
import { ParamSelect, TypedSearchField, useTypedParam } from "../../components/url-filters";

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
  const [params] = useSearchParams();
  const nameSearch = useTypedParam("q", TYPING_PAUSE_MS);
  const name = nameSearch.value;
  const graphId = params.get("graph") ?? "";
  const page = usePage();

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
      actions={
        <Link to={`/assistants/new${graphId ? `?graph=${encodeURIComponent(graphId)}` : ""}`} className="button button-primary">
          New assistant
        </Link>
      }
    >
      <search className="toolbar">
        <TypedSearchField label="Name" placeholder="Search by name" search={nameSearch} />
        <ParamSelect label="Graph" param="graph" value={graphId} anyLabel="All graphs" options={graphIds} />
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
      {search.data && <Pager page={page} pageSize={PAGE_SIZE} total={total} shown={search.data.assistants.length} />}
    </Page>
  );
}
