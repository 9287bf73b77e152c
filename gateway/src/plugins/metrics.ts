import { createMetricsRegistry, exemplarsEnabled, observeWithTrace, type Registry } from "@langopen/common";
import type { FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { Counter, Gauge, Histogram } from "prom-client";
import type { EventStreamOptions, SseEvent } from "./sse.js";

/*
 * The gateway's Prometheus metrics, on a registry of its own (never prom-client's global one,
 * so that several gateways in one process, as in tests, keep theirs apart): the process's
 * default metrics, every answered request by method, route pattern and status, their
 * durations, the event streams open right now, and how late their events reach the clients.
 * GET /metrics serves them.
 */

export interface GatewayMetrics {
  registry: Registry;
  requests: Counter<"method" | "route" | "status_code">;
  duration: Histogram<"method" | "route" | "status_code">;
  openStreams: Gauge<"route">;
  streamLag: Histogram;
}

declare module "fastify" {
  interface FastifyInstance {
    metrics: GatewayMetrics;
  }
}

/** The route label of a request that matched no route (unknown paths, so that they stay one series). */
export const UNMATCHED_ROUTE = "unmatched";

/** The status label of a request whose client left before any answer (nginx's "client closed request"). */
export const CLIENT_CLOSED_STATUS = "499";

/** Stream lag in seconds: most events reach their client within milliseconds. */
const LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** When an event was appended to its log: the milliseconds of its id (`<ms>-<seq>`, in-process and Redis alike). */
export function appendedAt(event: Pick<SseEvent, "id">): number | undefined {
  const dash = event.id.indexOf("-");
  const ms = Number(dash < 0 ? event.id : event.id.slice(0, dash));
  return Number.isSafeInteger(ms) && ms > 0 ? ms : undefined;
}

/** Request durations in seconds; event streams last long and land in the last buckets. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** The ids of the request's span (@fastify/otel's, with traces on), for its duration's exemplar. */
function requestTraceIds(request: FastifyRequest): { trace_id: string; span_id: string } | undefined {
  if (!exemplarsEnabled()) return undefined;
  const otel = (
    request as {
      opentelemetry?: () => { span: { spanContext(): { traceId: string; spanId: string; traceFlags: number } } | null };
    }
  ).opentelemetry;
  const span = otel?.call(request).span?.spanContext();
  // A trace the sampler dropped is never exported: no exemplar points at it.
  return span && (span.traceFlags & 1) === 1 ? { trace_id: span.traceId, span_id: span.spanId } : undefined;
}

/** The route pattern of a request (`/threads/:thread_id/runs`), never its raw URL. */
function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? UNMATCHED_ROUTE;
}

/**
 * The gateway's metrics on `registry` (under `npm start`, the one every part of the process
 * shares, so that /metrics shows them all), or on a registry of its own with the process's
 * default metrics.
 */
export function createGatewayMetrics(shared?: Registry): GatewayMetrics {
  const registry = shared ?? createMetricsRegistry();
  const labelNames = ["method", "route", "status_code"] as const;
  return {
    registry,
    requests: new Counter({
      name: "langopen_gateway_http_requests_total",
      help: "HTTP requests answered by the gateway, by method, route pattern and status code.",
      labelNames,
      registers: [registry],
    }),
    duration: new Histogram({
      name: "langopen_gateway_http_request_duration_seconds",
      help: "Time from a request's arrival to the end of its answer (event streams: until they close), in seconds.",
      labelNames,
      buckets: DURATION_BUCKETS,
      registers: [registry],
      enableExemplars: exemplarsEnabled(),
    }),
    openStreams: new Gauge({
      name: "langopen_gateway_sse_streams_open",
      help: "Server-sent event streams open now, by route pattern.",
      labelNames: ["route"] as const,
      registers: [registry],
    }),
    streamLag: new Histogram({
      name: "langopen_stream_event_lag_seconds",
      help:
        "From an event's append to its log until the gateway writes it to a client's stream, for events appended " +
        "while that client was connected (a replay of older events after a resume is not lag).",
      buckets: LAG_BUCKETS,
      registers: [registry],
    }),
  };
}

/** The stream's events, each appended while the client was connected observed as lag (clock skew between machines: at least 0). */
async function* observingLag(events: AsyncIterable<SseEvent>, since: number, lag: Histogram): AsyncIterable<SseEvent> {
  for await (const event of events) {
    const at = appendedAt(event);
    if (at !== undefined && at >= since) lag.observe(Math.max(0, Date.now() - at) / 1_000);
    yield event;
  }
}

export const metricsPlugin = fp(
  async (fastify, options: { registry?: Registry }) => {
    const metrics = createGatewayMetrics(options.registry);
    fastify.decorate("metrics", metrics);

    fastify.addHook("onRequest", (request, reply, done) => {
      const started = process.hrtime.bigint();
      const res = reply.raw;
      let recorded = false;
      // Event streams are hijacked replies, and clients may leave: the socket's end is what counts.
      const record = () => {
        if (recorded) return;
        recorded = true;
        res.off("finish", record);
        res.off("close", record);
        const labels = {
          method: request.method,
          route: routeOf(request),
          status_code: res.headersSent ? String(res.statusCode) : CLIENT_CLOSED_STATUS,
        };
        metrics.requests.inc(labels);
        observeWithTrace(metrics.duration, labels, Number(process.hrtime.bigint() - started) / 1e9, requestTraceIds(request));
      };
      res.once("finish", record);
      res.once("close", record);

      const send = reply.sendEventStream;
      if (typeof send !== "function") return done();
      reply.sendEventStream = async function (this: FastifyReply, options: EventStreamOptions) {
        const route = routeOf(request);
        metrics.openStreams.inc({ route });
        const since = Date.now();
        try {
          await send.call(this, { ...options, open: (signal) => observingLag(options.open(signal), since, metrics.streamLag) });
        } finally {
          metrics.openStreams.dec({ route });
        }
      };
      done();
    });
  },
  { name: "metrics", fastify: "5.x" },
);
