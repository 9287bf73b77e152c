import http from "node:http";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { context, TraceFlags, trace } from "@opentelemetry/api";
import type { Redis } from "ioredis";
import type { Pool } from "pg";
import type { Logger } from "pino";
import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type LabelValues,
  type Metric,
  type OpenMetricsContentType,
  Registry,
} from "prom-client";
import { tracingEnabled } from "./telemetry.js";

/*
 * Prometheus metrics shared by every service (prom-client). Each composition root makes one
 * registry (never prom-client's global one: tests run several stacks in one process) and hands it
 * to its parts; under `npm start` the whole launcher shares one, which the gateway serves. A metric
 * several parts of one process register (two pools, two RPC servers) is made once and labelled.
 */

// The metric kinds, for the services' own metrics (each service need not depend on prom-client).
export { Counter, Gauge, Histogram, type Registry } from "prom-client";

/**
 * prom-client's default gauges whose names end in `_total`, which Prometheus keeps for counters
 * (`promtool check metrics` rejects them). Left out: they are the sums of the same metrics by
 * type (`sum(nodejs_active_handles)`).
 */
const MISNAMED_DEFAULTS = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"];

/**
 * A registry with the process's own metrics (CPU, memory, event loop lag, handles by type). With
 * traces on, it writes OpenMetrics, whose exemplars link the latency histograms to traces.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  if (tracingEnabled())
    (registry as unknown as Registry<OpenMetricsContentType>).setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);
  return registry;
}

/** Whether histograms keep exemplars (trace and span ids of an observation): with traces on. */
export function exemplarsEnabled(): boolean {
  return tracingEnabled();
}

/** The active span's ids as exemplar labels; undefined without traces, outside spans or in a trace not sampled (never exported). */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  if (!exemplarsEnabled()) return undefined;
  const span = trace.getSpan(context.active())?.spanContext();
  return span && trace.isSpanContextValid(span) && (span.traceFlags & TraceFlags.SAMPLED) !== 0
    ? { trace_id: span.traceId, span_id: span.spanId }
    : undefined;
}

/**
 * Observes `value`, with the trace it belongs to as its exemplar: `ids` (taken earlier, where the
 * span was active), else the active span's; none without traces.
 */
export function observeWithTrace<T extends string>(
  histogram: Histogram<T>,
  labels: LabelValues<T>,
  value: number,
  ids = activeTraceIds(),
): void {
  // A histogram that keeps exemplars takes only the object form (prom-client reads the other as an object too).
  if (exemplarsEnabled()) histogram.observe({ labels, value, exemplarLabels: (ids ?? {}) as unknown as LabelValues<T> });
  else histogram.observe(labels, value);
}

/** The metric of that name on the registry, made by `make` the first time. */
function once<T extends Metric>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/** Durations of internal calls, in seconds (streams last long and land in the last buckets). */
const RPC_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120];

/** Records one RPC a server answered: its service and method, its error (none: ok), and how long it took. */
export type RpcServerRecorder = (labels: { service: string; method: string }, err: unknown, seconds: number) => void;

/** The recorder of a server's langopen_rpc_server_* metrics (rpcMetricsInterceptor's, and a call refused before its body). */
export function rpcServerRecorder(registry: Registry): RpcServerRecorder {
  const labelNames = ["service", "method", "code"] as const;
  const calls = once(
    registry,
    "langopen_rpc_server_requests_total",
    () =>
      new Counter({
        name: "langopen_rpc_server_requests_total",
        help: "Internal RPCs answered, by service, method and status code (ok, or the Connect code).",
        labelNames,
        registers: [registry],
      }),
  ) as Counter<(typeof labelNames)[number]>;
  const durations = once(
    registry,
    "langopen_rpc_server_duration_seconds",
    () =>
      new Histogram({
        name: "langopen_rpc_server_duration_seconds",
        help: "Time internal RPCs took to answer (streams: until they ended), by service, method and status code.",
        labelNames,
        buckets: RPC_BUCKETS,
        registers: [registry],
        enableExemplars: exemplarsEnabled(),
      }),
  ) as Histogram<(typeof labelNames)[number]>;
  return (labels, err, seconds) => {
    // gRPC's names in snake case (not_found, deadline_exceeded), as Prometheus labels usually spell them.
    const code = err === undefined ? "ok" : Code[ConnectError.from(err).code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
    calls.inc({ ...labels, code });
    observeWithTrace(durations, { ...labels, code }, seconds);
  };
}

/**
 * Counts every RPC a server answers by service, method and code, and times it (a streaming call
 * until its stream ends). Placed first among a server's interceptors, it sees what callers see.
 */
export function rpcMetricsInterceptor(registry: Registry): Interceptor {
  const recordRpc = rpcServerRecorder(registry);
  return (next) => async (req) => {
    const started = process.hrtime.bigint();
    const labels = { service: req.method.parent.typeName, method: req.method.name };
    const record = (err?: unknown) => recordRpc(labels, err, Number(process.hrtime.bigint() - started) / 1e9);
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (err) {
      record(err);
      throw err;
    }
    if (!res.stream) {
      record();
      return res;
    }
    const inner = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* inner;
        } catch (err) {
          record(err);
          throw err;
        }
        record();
      })(),
    };
  };
}

/** Gauges of a Postgres pool (label `pool`): its connections, idle ones, callers waiting, and its size. */
export function registerPoolMetrics(registry: Registry, name: string, pool: Pool): void {
  poolsOf(registry).set(name, pool);
}

const poolRegistries = new WeakMap<Registry, Map<string, Pool>>();

function poolsOf(registry: Registry): Map<string, Pool> {
  let pools = poolRegistries.get(registry);
  if (pools) return pools;
  pools = new Map();
  poolRegistries.set(registry, pools);
  const all = pools;
  const gauge = (name: string, help: string, read: (pool: Pool) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ["pool"] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [label, pool] of all) this.set({ pool: label }, read(pool));
      },
    });
  gauge("langopen_pg_pool_connections", "Connections the Postgres pool holds (busy and idle).", (pool) => pool.totalCount);
  gauge("langopen_pg_pool_idle_connections", "Connections of the Postgres pool not in use.", (pool) => pool.idleCount);
  gauge(
    "langopen_pg_pool_waiting_clients",
    "Callers waiting for a connection of the Postgres pool.",
    (pool) => pool.waitingCount,
  );
  gauge("langopen_pg_pool_max_connections", "The most connections the Postgres pool may open.", (pool) => pool.options.max ?? 10);
  return pools;
}

/** Gauges of a Redis client (label `client`): whether it is connected, and commands waiting to be answered. */
export function registerRedisMetrics(registry: Registry, name: string, redis: Redis): void {
  let clients = redisRegistries.get(registry);
  if (!clients) {
    const all = new Map<string, Redis>();
    clients = all;
    redisRegistries.set(registry, all);
    new Gauge({
      name: "langopen_redis_up",
      help: "1 when the Redis client is connected and ready, else 0.",
      labelNames: ["client"] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [label, client] of all) this.set({ client: label }, client.status === "ready" ? 1 : 0);
      },
    });
    new Gauge({
      name: "langopen_redis_pending_commands",
      help: "Commands sent to Redis and not yet answered, and those queued while it is unreachable.",
      labelNames: ["client"] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [label, client] of all) {
          const queues = client as unknown as { commandQueue?: { length: number }; offlineQueue?: { length: number } };
          this.set({ client: label }, (queues.commandQueue?.length ?? 0) + (queues.offlineQueue?.length ?? 0));
        }
      },
    });
  }
  clients.set(name, redis);
}

const redisRegistries = new WeakMap<Registry, Map<string, Redis>>();

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` over HTTP/1.1 on a port of its own, for services whose RPC port speaks
 * cleartext HTTP/2 (h2c), which Prometheus does not scrape. Nothing else is served, except the
 * probes given (path: 200 while the check holds, 503 otherwise), for a process that serves no HTTP of its own.
 */
export async function startMetricsServer(options: {
  host: string;
  port: number;
  /** A Unix socket to listen on instead of host and port (a runtime in gVisor); `url` is then `unix:<path>`. */
  socketPath?: string;
  registry: Registry;
  probes?: Record<string, () => boolean>;
}): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const probe = options.probes?.[path];
    if (probe && (req.method === "GET" || req.method === "HEAD")) {
      const ok = probe();
      res.writeHead(ok ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ ok }));
      return;
    }
    if (path !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ detail: "Not Found" }));
      return;
    }
    options.registry.metrics().then(
      (text) =>
        res.writeHead(200, { "content-type": options.registry.contentType }).end(req.method === "HEAD" ? undefined : text),
      () => res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ detail: "Internal Server Error" })),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    if (options.socketPath !== undefined) server.listen(options.socketPath, () => resolve());
    else server.listen(options.port, options.host, () => resolve());
  });
  const { port } = options.socketPath !== undefined ? { port: 0 } : (server.address() as AddressInfo);
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url:
      options.socketPath !== undefined
        ? `unix:${options.socketPath}`
        : `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The metrics server a service's METRICS_HOST and METRICS_PORT ask for (none without a port), logged once it listens. */
export async function serveMetrics(
  config: { METRICS_HOST: string; METRICS_PORT?: number },
  registry: Registry,
  logger: Logger,
): Promise<MetricsServer | undefined> {
  if (config.METRICS_PORT === undefined) return undefined;
  const server = await startMetricsServer({ host: config.METRICS_HOST, port: config.METRICS_PORT, registry });
  logger.info({ url: server.url }, "Serving metrics");
  return server;
}

/** A sample line with `extra` labels added to its own (its exemplar, after ` # `, untouched). */
function withLabels(line: string, extra: string): string {
  const space = line.indexOf(" ");
  const brace = line.indexOf("{");
  if (brace === -1 || (space !== -1 && space < brace)) return `${line.slice(0, space)}{${extra}}${line.slice(space)}`;
  let quoted = false;
  for (let i = brace + 1; i < line.length; i++) {
    const c = line[i];
    if (quoted && c === "\\") i++;
    else if (c === '"') quoted = !quoted;
    else if (c === "}" && !quoted) {
      const empty = i === brace + 1;
      return `${line.slice(0, i)}${empty ? "" : ","}${extra}${line.slice(i)}`;
    }
  }
  return line;
}

/**
 * One exposition of this process's metrics and other processes' (under `npm start`, the runtime
 * processes'), theirs labelled (e.g. `runtime="0"`): each family's HELP and TYPE once, and all its
 * samples together, as the text format (and OpenMetrics) want. Families only others have follow.
 */
export function mergeExpositions(own: string, others: Array<{ labels: Record<string, string>; text: string }>): string {
  const families = new Map<string, { header: string[]; samples: string[] }>();
  let openMetrics = false;
  const family = (name: string) => {
    let entry = families.get(name);
    if (!entry) {
      entry = { header: [], samples: [] };
      families.set(name, entry);
    }
    return entry;
  };
  const add = (text: string, extra: string | undefined) => {
    let current: { header: string[]; samples: string[] } | undefined;
    for (const line of text.split("\n")) {
      if (line === "") continue;
      if (line === "# EOF") {
        openMetrics = true;
        continue;
      }
      const meta = /^# (HELP|TYPE|UNIT) (\S+)/.exec(line);
      if (meta) {
        current = family(meta[2] as string);
        // The first exposition naming the family writes its header (this process's comes first).
        if (!current.header.some((h) => h.startsWith(`# ${meta[1]} `))) current.header.push(line);
        continue;
      }
      if (line.startsWith("#") || !current) continue;
      current.samples.push(extra ? withLabels(line, extra) : line);
    }
  };
  add(own, undefined);
  for (const other of others) {
    const extra = Object.entries(other.labels)
      .map(([name, value]) => `${name}="${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`)
      .join(",");
    add(other.text, extra);
  }
  const out: string[] = [];
  for (const { header, samples } of families.values()) out.push(...header, ...samples);
  if (openMetrics) out.push("# EOF");
  return `${out.join("\n")}\n`;
}
