import { useQuery } from "@connectrpc/connect-query";
import { WebhookDeliveryStatus } from "@langopen/gen/langopen/data/v1/webhook_pb";
import { WebhookService } from "@langopen/gen/langopen/data/v1/webhook_service_pb";
import { keepPreviousData } from "@tanstack/react-query";
import { useId } from "react";
import { useSearchParams } from "react-router";
import { Page } from "../../components/page";
import { Pager, usePage } from "../../components/pager";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";

const PAGE_SIZE = 50;
const STATUS_NAMES: Record<WebhookDeliveryStatus, string> = {
  [WebhookDeliveryStatus.UNSPECIFIED]: "unknown",
  [WebhookDeliveryStatus.PENDING]: "pending",
  [WebhookDeliveryStatus.DELIVERED]: "delivered",
  [WebhookDeliveryStatus.FAILED]: "failed",
};
const STATUSES = [WebhookDeliveryStatus.PENDING, WebhookDeliveryStatus.DELIVERED, WebhookDeliveryStatus.FAILED];

/** The deliveries of runs' webhooks, newest first; ?status= filters. */
export function WebhooksPage() {
  const [params, setParams] = useSearchParams();
  const page = usePage();
  const statusName = params.get("status") ?? "";
  const status = STATUSES.find((candidate) => STATUS_NAMES[candidate] === statusName) ?? WebhookDeliveryStatus.UNSPECIFIED;
  const statusId = useId();
  const deliveries = useQuery(
    WebhookService.method.listWebhookDeliveries,
    { status, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE },
    { placeholderData: keepPreviousData },
  );
  return (
    <Page title="Webhooks" subtitle="Notifications of runs' ends to their webhooks">
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
              <option key={candidate} value={STATUS_NAMES[candidate]}>
                {STATUS_NAMES[candidate]}
              </option>
            ))}
          </select>
        </div>
      </div>
      <QueryView query={deliveries} loading="Loading deliveries…" errorContext="Could not load the webhook deliveries">
        {({ deliveries: list }) =>
          list.length === 0 ? (
            <p className="empty">No webhook deliveries{statusName ? ` with status ${statusName}` : ""}.</p>
          ) : (
            <>
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Run</th>
                      <th scope="col">URL</th>
                      <th scope="col">Status</th>
                      <th scope="col">Attempts</th>
                      <th scope="col">Last answer</th>
                      <th scope="col">Created</th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.map((delivery) => (
                      <tr key={delivery.deliveryId}>
                        <td>
                          <code>{delivery.runId}</code>
                        </td>
                        <td className="cell-wrap">{delivery.url}</td>
                        <td>
                          <span className={`badge badge-delivery-${STATUS_NAMES[delivery.status]}`}>
                            {STATUS_NAMES[delivery.status]}
                          </span>
                          {delivery.nextAttemptTime && (
                            <div className="muted">
                              next <Time value={delivery.nextAttemptTime} />
                            </div>
                          )}
                        </td>
                        <td>{delivery.attempts}</td>
                        <td className="cell-wrap">
                          {delivery.lastStatusCode > 0 && <code>{delivery.lastStatusCode}</code>} {delivery.lastError}
                        </td>
                        <td>
                          <Time value={delivery.createTime} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager page={page} pageSize={PAGE_SIZE} hasMore={list.length === PAGE_SIZE} />
            </>
          )
        }
      </QueryView>
    </Page>
  );
}
