import { skipToken, useQuery } from "@connectrpc/connect-query";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import { Link, useSearchParams } from "react-router";
import { JsonView } from "../../components/json-view";
import { Page, Section } from "../../components/page";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { decodeJsonLenient } from "../../lib/json";

/** A namespace's labels as search params: ?ns=a&ns=b keeps labels holding any character apart. */
function namespaceLink(labels: string[]): string {
  const params = new URLSearchParams();
  for (const label of labels) params.append("ns", label);
  return `?${params}`;
}

/** The store's namespaces, and the items of the one chosen (?ns=). */
export function StorePage() {
  const [params] = useSearchParams();
  const selected = params.getAll("ns");
  const namespaces = useQuery(StoreService.method.listNamespaces, { limit: 1000 });
  const items = useQuery(
    StoreService.method.searchItems,
    selected.length > 0 ? { namespacePrefix: selected, limit: 100 } : skipToken,
  );
  const selectedKey = selected.join("\u0000");

  return (
    <Page title="Store" subtitle="Long-term memory shared by graphs and clients">
      <div className="split">
        <Section title="Namespaces">
          <QueryView query={namespaces} loading="Loading namespaces…" errorContext="Could not list the namespaces">
            {({ namespaces: list }) =>
              list.length === 0 ? (
                <p className="empty">The store is empty.</p>
              ) : (
                <ul className="plain-list">
                  {list.map((namespace) => {
                    const key = namespace.labels.join("\u0000");
                    return (
                      <li key={key}>
                        <Link to={namespaceLink(namespace.labels)} aria-current={key === selectedKey ? "page" : undefined}>
                          {namespace.labels.join(" / ")}
                        </Link>
                      </li>
                    );
                  })}
                </ul>
              )
            }
          </QueryView>
        </Section>
        <Section title={selected.length > 0 ? `Items in ${selected.join(" / ")}` : "Items"}>
          {selected.length === 0 ? (
            <p className="muted">Choose a namespace.</p>
          ) : (
            <QueryView query={items} loading="Loading items…" errorContext="Could not load the items">
              {({ items: list }) =>
                list.length === 0 ? (
                  <p className="empty">No items.</p>
                ) : (
                  <ul className="card-list">
                    {list.map((item) => (
                      <li key={`${item.namespace.join("\u0000")}\u0001${item.key}`} className="card">
                        <div className="card-meta">
                          <strong>{item.key}</strong>
                          {item.namespace.join("\u0000") !== selectedKey && <span>in {item.namespace.join(" / ")}</span>}
                          <span>
                            updated <Time value={item.updateTime} />
                          </span>
                        </div>
                        <JsonView value={decodeJsonLenient(item.valueJson)} expandDepth={1} />
                      </li>
                    ))}
                  </ul>
                )
              }
            </QueryView>
          )}
        </Section>
      </div>
    </Page>
  );
}
