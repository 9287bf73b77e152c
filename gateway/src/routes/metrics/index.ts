import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { MetricsQuery } from "../../schemas/metrics.js";

/**
 * The text exposition with NaN spelt as the format says: prom-client writes `Nan` (for the
 * event-loop lag before its first sample), which Prometheus reads but stricter parsers do not.
 */
export function canonicalExposition(text: string): string {
  return text.replace(/ Nan$/gm, " NaN");
}

/** GET /metrics: the gateway's metrics as Prometheus text (the default) or, with `format=json`, as JSON. */
export const metricsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get("/metrics", { schema: { querystring: MetricsQuery } }, async (request, reply) => {
    const { registry } = fastify.metrics;
    if (request.query.format === "json") return registry.getMetricsAsJSON();
    return reply.type(registry.contentType).send(canonicalExposition(await registry.metrics()));
  });
};
