import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { mergeExpositions } from "@langopen/common";
import { MetricsQuery } from "../../schemas/metrics.js";

/**
 * The text exposition with NaN spelt as the format says: prom-client writes `Nan` (for the
 * event-loop lag before its first sample), which Prometheus reads but stricter parsers do not.
 */
export function canonicalExposition(text: string): string {
  return text.replace(/ Nan$/gm, " NaN");
}

/** Other processes' expositions to serve with this one's, each with the labels that tell them apart. */
export type MoreMetrics = () => Promise<Array<{ labels: Record<string, string>; text: string }>>;

/**
 * GET /metrics: the process's metrics as Prometheus text (the default) or, with `format=json`, as
 * JSON; with `more` (under `npm start`, the runtime processes'), theirs merged into the text.
 */
export const metricsRoutes: FastifyPluginAsyncTypebox<{ more?: MoreMetrics }> = async (fastify, options) => {
  fastify.get("/metrics", { schema: { querystring: MetricsQuery } }, async (request, reply) => {
    const { registry } = fastify.metrics;
    if (request.query.format === "json") return registry.getMetricsAsJSON();
    const own = await registry.metrics();
    const text = options.more ? mergeExpositions(own, await options.more()) : own;
    return reply.type(registry.contentType).send(canonicalExposition(text));
  });
};
