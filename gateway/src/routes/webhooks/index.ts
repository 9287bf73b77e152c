import { createClient, type Transport } from "@connectrpc/connect";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { WebhookService } from "@langopen/gen/langopen/data/v1/webhook_service_pb";
import { fromApiWebhookStatus, toApiWebhookDelivery } from "../../mappers/webhooks.js";
import { readOptions } from "../../plugins/rpc-clients.js";
import { WebhookListQuery, WebhookRunParams } from "../../schemas/webhooks.js";

export interface WebhookRoutesOptions {
  /** The api-server transport (the same one the other clients use). */
  transport: Transport;
}

/**
 * The webhook deliveries of a run: whether its end was delivered, is being retried, or failed
 * (with the reason, e.g. a refused private target). Not in the upstream API.
 */
export const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRoutesOptions> = async (fastify, { transport }) => {
  const webhooks = createClient(WebhookService, transport);

  fastify.get(
    "/runs/:run_id/webhooks",
    { schema: { params: WebhookRunParams, querystring: WebhookListQuery } },
    async (request) => {
      const { query } = request;
      const res = await webhooks.listWebhookDeliveries(
        {
          runId: request.params.run_id,
          status: fromApiWebhookStatus(query.status),
          limit: query.limit ?? 10,
          offset: query.offset ?? 0,
        },
        readOptions(request),
      );
      return res.deliveries.map(toApiWebhookDelivery);
    },
  );
};
