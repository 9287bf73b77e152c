import { useQuery } from "@connectrpc/connect-query";
import type { WebhookDelivery } from "@langopen/gen/langopen/data/v1/webhook_pb";
import { WebhookDeliveryStatus } from "@langopen/gen/langopen/data/v1/webhook_pb";
import { WebhookService } from "@langopen/gen/langopen/data/v1/webhook_service_pb";
import { keepPreviousData } from "@tanstack/react-query";
import { type FormEvent, useEffect, useId, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { DataTable } from "../../components/data-table";
import { Page } from "../../components/page";
import { Pager, usePage } from "../../components/pager";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { ParamSelect } from "../../components/url-filters";

const PAGE_SIZE = 50;
const STATUS_NAMES: Record<WebhookDeliveryStatus, string> = {
  [WebhookDeliveryStatus.UNSPECIFIED]: "unknown",
  [WebhookDeliveryStatus.PENDING]: "pending",
  [WebhookDeliveryStatus.DELIVERED]: "delivered",
  [WebhookDeliveryStatus.FAILED]: "failed",
};
const STATUSES = [WebhookDeliveryStatus.PENDING, WebhookDeliveryStatus.DELIVERED, WebhookDeliveryStatus.FAILED];
const STATUS_OPTIONS = STATUSES.map((status) => STATUS_NAMES[status]);
/** How often the list is read again while a delivery waits for an attempt. */
const PENDING_POLL_MS = 5_000;

/**
 * The deliveries of runs' webhooks, newest first: those of one run (?run=, linked from a run)
 * or of every run; ?status= filters, ?page= pages.
 */
export function WebhooksPage() {
  const [params, setParams] = useSearchParams();
  const page = usePage();
  const runId = params.get("run") ?? "";
  const statusName = params.get("status") ?? "";
  const status = STATUSES.find((candidate) => STATUS_NAMES[candidate] === statusName) ?? WebhookDeliveryStatus.UNSPECIFIED;
  const id = useId();
  const [typedRun, setTypedRun] = useState(runId);

  // The URL changed under the field (back, forward, a link): the field follows it.
  useEffect(() => setTypedRun(runId), [runId]);

  const deliveries = useQuery(
    WebhookService.method.listWebhookDeliveries,
    { runId, status, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE },
    {
      placeholderData: keepPreviousData,
      refetchInterval: (query) =>
        query.state.data?.deliveries.some((delivery) => delivery.status === WebhookDeliveryStatus.PENDING)
          ? PENDING_POLL_MS
          : false,
    },
  );

  const setParam = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    next.delete("page");
    setParams(next);
  };

  const submitRun = (event: FormEvent) => {
    event.preventDefault();
    setParam("run", typedRun.trim());
  };

  return (
    <Page
      title="Webhooks"
      subtitle={
        runId ? (
          <span>
            Deliveries of run <code>{runId}</code>
          </span>
        ) : (
          "Notifications of runs' ends to their webhooks"
        )
      }
    >
      <search className="toolbar" aria-label="Filter the deliveries">
        <form className="field-row" onSubmit={submitRun}>
          <div className="field">
            <label htmlFor={`${id}-run`}>Run</label>
            <input
              id={`${id}-run`}
              type="search"
              value={typedRun}
              placeholder="every run"
              spellCheck={false}
              onChange={(event) => setTypedRun(event.target.value)}
            />
          </div>
          <button type="submit" className="button">
            Show
          </button>
          {runId && (
            <button
              type="button"
              className="button"
              onClick={() => {
                setTypedRun("");
                setParam("run", "");
              }}
            >
              Every run
            </button>
          )}
        </form>
        <ParamSelect
          id={`${id}-status`}
          label="Status"
          param="status"
          value={statusName}
          anyLabel="Any status"
          options={STATUS_OPTIONS}
        />
      </search>
      <QueryView query={deliveries} loading="Loading deliveries…" errorContext="Could not load the webhook deliveries">
        {({ deliveries: list }) =>
          list.length === 0 ? (
            <p className="empty">
              {runId ? "This run has no webhook deliveries" : "No webhook deliveries"}
              {statusName ? ` with status ${statusName}` : ""}.
              {runId && !statusName && " A run notifies a webhook only when it was created with one."}
            </p>
          ) : (
            <>
              <DataTable
                caption="Webhook deliveries"
                columns={[...(runId ? [] : ["Run"]), "URL", "Status", "Attempts", "Last error", "Created", "Delivered"]}
              >
                {list.map((delivery) => (
                  <DeliveryRow key={delivery.deliveryId} delivery={delivery} showRun={!runId} />
                ))}
              </DataTable>
              <Pager page={page} pageSize={PAGE_SIZE} shown={list.length} />
            </>
          )
        }
      </QueryView>
    </Page>
  );
}

function DeliveryRow({ delivery, showRun }: { delivery: WebhookDelivery; showRun: boolean }) {
  const name = STATUS_NAMES[delivery.status];
  return (
    <tr>
      {showRun && (
        <td>
          <Link to={`?run=${encodeURIComponent(delivery.runId)}`} aria-label={`Deliveries of run ${delivery.runId}`}>
            <code>{delivery.runId.slice(0, 8)}</code>
          </Link>
        </td>
      )}
      <td className="cell-wrap">
        <code>{delivery.url}</code>
      </td>
      <td>
        <span className={`badge badge-delivery-${name}`}>{name}</span>
        {delivery.nextAttemptTime && (
          <div className="muted">
            next <Time value={delivery.nextAttemptTime} />
          </div>
        )}
      </td>
      <td>{delivery.attempts}</td>
      <td className="cell-wrap">
        {delivery.lastStatusCode > 0 && <code>HTTP {delivery.lastStatusCode}</code>}{" "}
        {delivery.lastError || (delivery.lastStatusCode > 0 ? "" : <span className="muted">—</span>)}
      </td>
      <td>
        <Time value={delivery.createTime} />
      </td>
      <td>
        <Time value={delivery.deliverTime} />
      </td>
    </tr>
  );
}
