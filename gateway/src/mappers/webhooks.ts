import { type WebhookDelivery, WebhookDeliveryStatus } from "@langopen/gen/langopen/data/v1/webhook_pb";
import { isoTimestamp } from "./common.js";

export type ApiWebhookStatus = "pending" | "delivered" | "failed";

/** One webhook delivery of a run, as GET /runs/{run_id}/webhooks shows it. */
export interface ApiWebhookDelivery {
  delivery_id: string;
  run_id: string;
  url: string;
  status: ApiWebhookStatus;
  attempts: number;
  /** When the next attempt is due; null once delivered or failed. */
  next_attempt_at: string | null;
  /** Why the last attempt failed (or why the target was refused); null when none did. */
  last_error: string | null;
  /** The HTTP status of the last answer; null when none came. */
  last_status: number | null;
  created_at: string | null;
  delivered_at: string | null;
}

const STATUS_NAMES: Record<WebhookDeliveryStatus, ApiWebhookStatus> = {
  [WebhookDeliveryStatus.UNSPECIFIED]: "pending",
  [WebhookDeliveryStatus.PENDING]: "pending",
  [WebhookDeliveryStatus.DELIVERED]: "delivered",
  [WebhookDeliveryStatus.FAILED]: "failed",
};

const STATUS_VALUES: Record<ApiWebhookStatus, WebhookDeliveryStatus> = {
  pending: WebhookDeliveryStatus.PENDING,
  delivered: WebhookDeliveryStatus.DELIVERED,
  failed: WebhookDeliveryStatus.FAILED,
};

export function fromApiWebhookStatus(status: ApiWebhookStatus | undefined): WebhookDeliveryStatus {
  return status === undefined ? WebhookDeliveryStatus.UNSPECIFIED : STATUS_VALUES[status];
}

export function toApiWebhookDelivery(d: WebhookDelivery): ApiWebhookDelivery {
  return {
    delivery_id: d.deliveryId,
    run_id: d.runId,
    url: d.url,
    status: STATUS_NAMES[d.status] ?? "pending",
    attempts: d.attempts,
    next_attempt_at: isoTimestamp(d.nextAttemptTime),
    last_error: d.lastError === "" ? null : d.lastError,
    last_status: d.lastStatusCode === 0 ? null : d.lastStatusCode,
    created_at: isoTimestamp(d.createTime),
    delivered_at: isoTimestamp(d.deliverTime),
  };
}
