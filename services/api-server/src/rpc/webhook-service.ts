import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { requireUuid, type WebhookDeliveryRow, type WebhookStatusName, type WebhookStore } from "@langopen/data-plane";
import { type WebhookDelivery, WebhookDeliverySchema, WebhookDeliveryStatus } from "@langopen/gen/langopen/data/v1/webhook_pb";
import type { WebhookService } from "@langopen/gen/langopen/data/v1/webhook_service_pb";
import { authOf } from "../caller.js";
import { page } from "../domain/paging.js";
import { ts, tsOrUndefined } from "./timestamps.js";

export interface WebhookServiceDeps {
  webhooks: WebhookStore;
}

const STATUS_TO_PROTO: Record<WebhookStatusName, WebhookDeliveryStatus> = {
  pending: WebhookDeliveryStatus.PENDING,
  delivered: WebhookDeliveryStatus.DELIVERED,
  failed: WebhookDeliveryStatus.FAILED,
};

const STATUS_FROM_PROTO: Record<WebhookDeliveryStatus, WebhookStatusName | undefined> = {
  [WebhookDeliveryStatus.UNSPECIFIED]: undefined,
  [WebhookDeliveryStatus.PENDING]: "pending",
  [WebhookDeliveryStatus.DELIVERED]: "delivered",
  [WebhookDeliveryStatus.FAILED]: "failed",
};

export function toWebhookDelivery(row: WebhookDeliveryRow): WebhookDelivery {
  return create(WebhookDeliverySchema, {
    deliveryId: row.delivery_id,
    runId: row.run_id,
    url: row.url,
    status: STATUS_TO_PROTO[row.status],
    attempts: row.attempts,
    nextAttemptTime: row.status === "pending" ? tsOrUndefined(row.next_attempt_at) : undefined,
    lastError: row.last_error ?? "",
    lastStatusCode: row.last_status ?? 0,
    createTime: ts(row.created_at),
    deliverTime: tsOrUndefined(row.delivered_at),
  });
}

export function createWebhookServiceImpl(deps: WebhookServiceDeps): ServiceImpl<typeof WebhookService> {
  return {
    async listWebhookDeliveries(req, ctx) {
      const { limit, offset } = page(req.limit, req.offset);
      // A restricted caller sees the deliveries of runs on threads they may read.
      const rows = await deps.webhooks.list(
        {
          runId: req.runId === "" ? undefined : requireUuid("run_id", req.runId),
          status: STATUS_FROM_PROTO[req.status],
          auth: authOf(ctx),
        },
        limit,
        offset,
      );
      return { deliveries: rows.map(toWebhookDelivery) };
    },
  };
}
