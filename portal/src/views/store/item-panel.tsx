import { useMutation, useQuery } from "@connectrpc/connect-query";
import type { Item } from "@langopen/gen/langopen/data/v1/store_pb";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import { ConfirmButton } from "../../components/confirm-button";
import { ErrorBox } from "../../components/error-box";
import { JsonView } from "../../components/json-view";
import { Section } from "../../components/page";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { decodeJsonLenient } from "../../lib/json";

interface ItemPanelProps {
  namespace: string[];
  itemKey: string;
  onClose: () => void;
  onEdit: (item: Item) => void;
  onDeleted: () => void;
}

/** One item: its value, its times, and the ways to change or delete it. */
export function ItemPanel({ namespace, itemKey, onClose, onEdit, onDeleted }: ItemPanelProps) {
  // Reading an item from the portal must not keep it alive: its time to live is left as it is.
  const query = useQuery(StoreService.method.getItem, { namespace, key: itemKey, refreshTtl: false });
  const remove = useMutation(StoreService.method.deleteItem, { onSuccess: onDeleted });
  return (
    <Section
      title={
        <>
          Item <code className="title-id">{itemKey}</code>
        </>
      }
      actions={
        <button type="button" className="button button-small" onClick={onClose}>
          Close
        </button>
      }
    >
      <div className="item-panel">
        <QueryView query={query} loading="Loading the item…" errorContext="Could not load the item">
          {({ item }) =>
            item === undefined ? (
              <p className="empty">
                No item <code>{itemKey}</code> in {namespace.join(" / ") || "the root"}: it was deleted, or has expired.
              </p>
            ) : (
              <>
                <dl className="facts">
                  <dt>Namespace</dt>
                  <dd>
                    <code>{item.namespace.join(" / ")}</code>
                  </dd>
                  <dt>Created</dt>
                  <dd>
                    <Time value={item.createTime} absolute />
                  </dd>
                  <dt>Updated</dt>
                  <dd>
                    <Time value={item.updateTime} absolute />
                  </dd>
                </dl>
                <JsonView value={decodeJsonLenient(item.valueJson)} expandDepth={3} />
                {remove.isError && <ErrorBox error={remove.error} context="Could not delete the item" />}
                <div className="form-actions">
                  <button type="button" className="button" onClick={() => onEdit(item)}>
                    Edit
                  </button>
                  <ConfirmButton
                    label="Delete"
                    question={`Delete the item “${item.key}”?`}
                    confirmLabel="Yes, delete"
                    pending={remove.isPending}
                    pendingLabel="Deleting…"
                    onConfirm={() => remove.mutate({ namespace: item.namespace, key: item.key })}
                  />
                </div>
              </>
            )
          }
        </QueryView>
      </div>
    </Section>
  );
}
