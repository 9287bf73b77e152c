import { createConnectQueryKey, useQuery } from "@connectrpc/connect-query";
import type { Item } from "@langopen/gen/langopen/data/v1/store_pb";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import { keepPreviousData, useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { Page, Section } from "../../components/page";
import { Pager, usePage } from "../../components/pager";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { compactPreview, decodeJsonLenient, encodeJson, isJsonObject, parseJsonText } from "../../lib/json";
import { ItemPanel } from "./item-panel";
import { childrenOf, namespaceParams, sameNamespace, startsWith } from "./namespaces";
import { PutForm } from "./put-form";

const PAGE_SIZE = 20;
const TYPING_PAUSE_MS = 400;

/** The link to a place in the store, keeping the rest of the search params as given. */
function linkTo(
  params: URLSearchParams,
  changes: { ns?: readonly string[]; item?: { key: string; namespace: readonly string[] } | null },
) {
  let next = new URLSearchParams(params);
  if (changes.ns !== undefined) {
    next = namespaceParams(next, "ns", changes.ns);
    next.delete("page");
  }
  if (changes.item === null) {
    next.delete("item");
    next.delete("in");
  } else if (changes.item !== undefined) {
    next.set("item", changes.item.key);
    next = namespaceParams(next, "in", changes.item.namespace);
  }
  next.delete("put");
  return `?${next}`;
}

/**
 * The store: its namespaces browsed as a tree (?ns=a&ns=b is the namespace open), the items
 * under it searched (?q= query, ?filter= JSON, ?page=), one item open (?item=key&in=…) to read,
 * edit or delete, and a form to put one (?put=1).
 */
export function StorePage() {
  const [params, setParams] = useSearchParams();
  const path = params.getAll("ns");
  const query = params.get("q") ?? "";
  const filterText = params.get("filter") ?? "";
  const itemKey = params.get("item");
  const itemNamespace = params.getAll("in");
  const putting = params.get("put") === "1";
  const page = usePage();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState<Item>();

  const filter = filterText.trim() === "" ? { ok: true as const, value: undefined } : parseJsonText(filterText);
  const filterProblem = !filter.ok
    ? filter.error
    : filter.value !== undefined && !isJsonObject(filter.value)
      ? "The filter must be a JSON object."
      : undefined;

  const namespaces = useQuery(
    StoreService.method.listNamespaces,
    { prefix: path, maxDepth: path.length + 1, limit: 1000 },
    { placeholderData: keepPreviousData },
  );
  const items = useQuery(
    StoreService.method.searchItems,
    {
      namespacePrefix: path,
      query,
      filterJson: filter.ok && filterProblem === undefined ? encodeJson(filter.value) : undefined,
      limit: PAGE_SIZE,
      offset: (page - 1) * PAGE_SIZE,
      // Browsing must not keep items alive: their time to live is left as it is.
      refreshTtl: false,
    },
    { placeholderData: keepPreviousData, enabled: filterProblem === undefined },
  );

  const setPut = (on: boolean) =>
    setParams((current) => {
      const next = new URLSearchParams(current);
      if (on) next.set("put", "1");
      else next.delete("put");
      return next;
    });

  const refresh = () =>
    queryClient.invalidateQueries({ queryKey: createConnectQueryKey({ schema: StoreService, cardinality: undefined }) });

  return (
    <Page
      title="Store"
      subtitle="Long-term memory shared by graphs and clients"
      actions={
        <button
          type="button"
          className="button button-primary"
          onClick={() => {
            setEditing(undefined);
            setPut(true);
          }}
        >
          Put an item
        </button>
      }
    >
      {putting && (
        <PutForm
          key={editing ? `${editing.namespace.join("\u0000")}\u0001${editing.key}` : path.join("\u0000")}
          namespace={editing?.namespace ?? path}
          itemKey={editing?.key}
          value={editing ? decodeJsonLenient(editing.valueJson) : undefined}
          onCancel={() => setPut(false)}
          onSaved={(namespace, key) => {
            void refresh();
            setEditing(undefined);
            setParams(new URLSearchParams(linkTo(params, { item: { key, namespace } }).slice(1)));
          }}
        />
      )}
      <div className="split store-split">
        <nav className="section store-tree" aria-label="Namespaces">
          <div className="section-header">
            <h2>Namespaces</h2>
          </div>
          <ol className="breadcrumbs" aria-label="Namespace open">
            <li>
              <Link to={linkTo(params, { ns: [] })} aria-current={path.length === 0 ? "page" : undefined}>
                All
              </Link>
            </li>
            {path.map((label, i) => (
              <li key={path.slice(0, i + 1).join("\u0000")}>
                <Link to={linkTo(params, { ns: path.slice(0, i + 1) })} aria-current={i === path.length - 1 ? "page" : undefined}>
                  {label}
                </Link>
              </li>
            ))}
          </ol>
          <QueryView query={namespaces} loading="Loading namespaces…" errorContext="Could not list the namespaces">
            {({ namespaces: list }) => {
              const { children } = childrenOf(
                list.map((namespace) => namespace.labels),
                path,
              );
              return children.length === 0 ? (
                <p className="muted">{path.length === 0 ? "The store is empty." : "No namespace below this one."}</p>
              ) : (
                <ul className="plain-list tree-children">
                  {children.map((label) => (
                    <li key={label}>
                      <Link to={linkTo(params, { ns: [...path, label] })}>
                        <span aria-hidden="true">▸ </span>
                        {label}
                      </Link>
                    </li>
                  ))}
                </ul>
              );
            }}
          </QueryView>
        </nav>
        <div className="store-main">
          {itemKey !== null && (
            <ItemPanel
              key={`${itemNamespace.join("\u0000")}\u0001${itemKey}`}
              namespace={itemNamespace}
              itemKey={itemKey}
              onClose={() => setParams(new URLSearchParams(linkTo(params, { item: null }).slice(1)))}
              onEdit={(item) => {
                setEditing(item);
                setPut(true);
              }}
              onDeleted={() => {
                void refresh();
                setParams(new URLSearchParams(linkTo(params, { item: null }).slice(1)));
              }}
            />
          )}
          <Section title={path.length > 0 ? `Items under ${path.join(" / ")}` : "All items"}>
            <ItemSearch query={query} filterText={filterText} filterProblem={filterProblem} />
            {filterProblem !== undefined ? (
              <p className="empty">Fix the filter to search.</p>
            ) : (
              <QueryView query={items} loading="Loading items…" errorContext="Could not load the items">
                {({ items: list }) =>
                  list.length === 0 ? (
                    <p className="empty">{query || filterText ? "No items match." : "No items here."}</p>
                  ) : (
                    <>
                      <ul className="card-list" aria-label="Items">
                        {list.map((item) => (
                          <ItemCard
                            key={`${item.namespace.join("\u0000")}\u0001${item.key}`}
                            item={item}
                            path={path}
                            link={linkTo(params, { item: { key: item.key, namespace: item.namespace } })}
                            open={itemKey === item.key && sameNamespace(itemNamespace, item.namespace)}
                          />
                        ))}
                      </ul>
                      <Pager page={page} pageSize={PAGE_SIZE} shown={list.length} />
                    </>
                  )
                }
              </QueryView>
            )}
          </Section>
        </div>
      </div>
    </Page>
  );
}

function ItemCard({ item, path, link, open }: { item: Item; path: string[]; link: string; open: boolean }) {
  const below = startsWith(item.namespace, path) ? item.namespace.slice(path.length) : item.namespace;
  return (
    <li className={open ? "card card-open" : "card"}>
      <div className="card-head">
        <Link to={link} className="card-title" aria-current={open ? "true" : undefined}>
          {item.key}
        </Link>
        {below.length > 0 && <span className="muted">in {below.join(" / ")}</span>}
        {item.score !== undefined && <span className="badge">score {item.score.toFixed(3)}</span>}
      </div>
      <div className="card-meta">
        <code className="item-preview">{compactPreview(decodeJsonLenient(item.valueJson), 160)}</code>
        <span>
          updated <Time value={item.updateTime} />
        </span>
      </div>
    </li>
  );
}

/** The search fields of the items: a query (semantic when the store has an index) and a JSON filter. */
function ItemSearch({ query, filterText, filterProblem }: { query: string; filterText: string; filterProblem?: string }) {
  const [, setParams] = useSearchParams();
  const [typedQuery, setTypedQuery] = useState(query);
  const [typedFilter, setTypedFilter] = useState(filterText);
  const id = useId();

  // The URL changed under the fields (back, forward, a link): the fields follow it.
  useEffect(() => setTypedQuery(query), [query]);
  useEffect(() => setTypedFilter(filterText), [filterText]);

  useEffect(() => {
    if (typedQuery === query && typedFilter === filterText) return;
    const timer = setTimeout(() => {
      setParams(
        (current) => {
          const next = new URLSearchParams(current);
          if (typedQuery.trim()) next.set("q", typedQuery);
          else next.delete("q");
          if (typedFilter.trim()) next.set("filter", typedFilter);
          else next.delete("filter");
          next.delete("page");
          return next;
        },
        { replace: true },
      );
    }, TYPING_PAUSE_MS);
    return () => clearTimeout(timer);
  }, [typedQuery, typedFilter, query, filterText, setParams]);

  return (
    <search className="toolbar" aria-label="Search the items">
      <div className="field field-grow">
        <label htmlFor={`${id}-q`}>Query</label>
        <input
          id={`${id}-q`}
          type="search"
          value={typedQuery}
          placeholder="words to look for"
          onChange={(event) => setTypedQuery(event.target.value)}
        />
      </div>
      <div className="field field-grow">
        <label htmlFor={`${id}-filter`}>Filter (JSON)</label>
        <input
          id={`${id}-filter`}
          type="text"
          className="code-input"
          value={typedFilter}
          placeholder='{"kind": "note"}'
          spellCheck={false}
          aria-invalid={filterProblem !== undefined}
          aria-describedby={filterProblem ? `${id}-filter-error` : undefined}
          onChange={(event) => setTypedFilter(event.target.value)}
        />
        {filterProblem && (
          <p id={`${id}-filter-error`} className="form-error">
            {filterProblem}
          </p>
        )}
      </div>
    </search>
  );
}
