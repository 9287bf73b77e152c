import { createRequire } from "node:module";
import type { Interceptor as ConnectInterceptor } from "@connectrpc/connect";
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";

/*
 * OpenTelemetry traces, configured only by the standard OTEL_* variables and off unless they ask
 * for an OTLP endpoint. When off, nothing of the SDK is loaded and the interceptors and spans
 * below cost a flag check. When on, one tracer provider per process exports with OTLP over HTTP
 * (`http/protobuf`, the spec's default, or `http/json`), the W3C trace context is propagated, and
 * `pg` and `ioredis` are instrumented (the SDK is loaded with `require`, synchronously, so that a
 * service's first import can install its hooks before `pg` loads: see telemetry-start.ts).
 */

const require = createRequire(import.meta.url);

let enabled = false;

/** Whether this process exports traces (startTracing ran with OTEL_* asking for it). */
export function tracingEnabled(): boolean {
  return enabled;
}

/**
 * Whether the active span records (tracing on and this trace sampled): work done only for spans,
 * such as LangChain callbacks making a span per node, is skipped for traces the sampler dropped.
 */
export function tracingActiveSpan(): boolean {
  return enabled && trace.getActiveSpan()?.isRecording() === true;
}

/** Whether OTEL_* ask for traces: an OTLP endpoint, and neither the SDK nor the trace exporter switched off. */
export function tracingRequested(env: Record<string, string | undefined>): boolean {
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === "true") return false;
  if (env.OTEL_TRACES_EXPORTER !== undefined && env.OTEL_TRACES_EXPORTER !== "otlp") return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

export interface Tracing {
  readonly enabled: boolean;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

/** The OTLP/HTTP traces URL the variables name (a signal-specific endpoint is used as is, as the spec says). */
function tracesUrl(env: Record<string, string | undefined>): string {
  const specific = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (specific) return specific;
  return `${(env.OTEL_EXPORTER_OTLP_ENDPOINT as string).replace(/\/+$/, "")}/v1/traces`;
}

/**
 * Starts exporting this process's traces when `env` asks for them (see tracingRequested); the
 * process's service name is OTEL_SERVICE_NAME, else `serviceName`. Throws naming the variable
 * when the protocol asked for is not supported (gRPC is not: it would need a second HTTP/2 stack).
 */
export function startTracing(options: { serviceName: string; env: Record<string, string | undefined> }): Tracing {
  const { env } = options;
  if (enabled || !tracingRequested(env)) return { enabled, shutdown: async () => {} };
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf";
  if (protocol !== "http/protobuf" && protocol !== "http/json") {
    throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not supported: use http/protobuf or http/json`);
  }
  const { NodeTracerProvider } = require("@opentelemetry/sdk-trace-node") as typeof import("@opentelemetry/sdk-trace-node");
  const { BatchSpanProcessor } = require("@opentelemetry/sdk-trace-base") as typeof import("@opentelemetry/sdk-trace-base");
  const { resourceFromAttributes } = require("@opentelemetry/resources") as typeof import("@opentelemetry/resources");
  const { OTLPTraceExporter } = (
    protocol === "http/json"
      ? require("@opentelemetry/exporter-trace-otlp-http")
      : require("@opentelemetry/exporter-trace-otlp-proto")
  ) as typeof import("@opentelemetry/exporter-trace-otlp-http");
  const { registerInstrumentations } =
    require("@opentelemetry/instrumentation") as typeof import("@opentelemetry/instrumentation");
  const { PgInstrumentation } =
    require("@opentelemetry/instrumentation-pg") as typeof import("@opentelemetry/instrumentation-pg");

  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME || options.serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(env) }))],
  });
  // The global provider, AsyncLocalStorage contexts, and W3C trace context (with baggage) propagation.
  provider.register();
  // Queries only inside a traced operation: the workers' polls and the probes would otherwise be a trace each.
  const { IORedisInstrumentation } =
    require("@opentelemetry/instrumentation-ioredis") as typeof import("@opentelemetry/instrumentation-ioredis");
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
      // The command and how many arguments, never the arguments: they carry run events (graph
      // state, messages: large, and the users' data), which the default would copy into spans.
      new IORedisInstrumentation({
        requireParentSpan: true,
        dbStatementSerializer: (command, args) => `${command} [${args.length} arguments]`,
      }),
    ],
  });
  // The instrumentations patch a package when it is require()d. Services import pg and ioredis
  // (ES imports of CommonJS packages, which the require hook does not see); requiring them here
  // patches the one module both share, whenever the import happens.
  require("pg");
  require("ioredis");
  enabled = true;
  return {
    enabled: true,
    async shutdown() {
      await provider.shutdown();
    },
  };
}

/** The tracer of LangOpen's own spans. */
export function tracer(): Tracer {
  return trace.getTracer("langopen");
}

/** Ends a span with its outcome: an error (recorded, status ERROR) or OK. */
export function endSpan(span: Span, err?: unknown): void {
  if (err !== undefined) {
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  }
  span.end();
}

/** The active trace context as a `traceparent` value, to keep with work done later (a run); undefined when none. */
export function currentTraceParent(): string | undefined {
  if (!enabled) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/** The context a kept `traceparent` stands for (ROOT when none). */
export function contextFromTraceParent(traceparent: string | null | undefined): Context {
  if (!enabled || !traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent });
}

/** Runs `fn` inside a new span (child of `parent`, else of the active context), ending it with fn's outcome. */
export async function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Record<string, string | number | boolean>; parent?: Context },
  fn: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (!enabled) return fn(undefined);
  const parent = options.parent ?? context.active();
  const span = tracer().startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, parent);
  try {
    const result = await context.with(trace.setSpan(parent, span), () => fn(span));
    endSpan(span);
    return result;
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
}

export { SpanKind } from "@opentelemetry/api";

const headerGetter = {
  get: (headers: Headers, key: string) => headers.get(key) ?? undefined,
  keys: (headers: Headers) => [...headers.keys()],
};
const headerSetter = { set: (headers: Headers, key: string, value: string) => headers.set(key, value) };

/**
 * Ends `span` when the response's stream ends (or at once for a unary answer), with its outcome.
 * With `bound`, each step of the stream runs in that context: a streaming handler's code runs as
 * its messages are pulled, after the interceptor returned.
 */
function endWithResponse<R extends { stream: boolean; message: unknown }>(span: Span, res: R, bound?: Context): R {
  if (!res.stream) {
    endSpan(span);
    return res;
  }
  const inner = (res.message as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  return {
    ...res,
    message: (async function* () {
      let failure: { err: unknown } | undefined;
      try {
        for (;;) {
          const step = bound ? await context.with(bound, () => inner.next()) : await inner.next();
          if (step.done) break;
          yield step.value;
        }
      } catch (err) {
        failure = { err };
        throw err;
      } finally {
        // Ended, failed, or left early by the consumer: the span ends in every case.
        await inner.return?.();
        endSpan(span, failure?.err);
      }
    })(),
  };
}

const rpcAttributes = (service: string, method: string) => ({
  "rpc.system": "connect_rpc",
  "rpc.service": service,
  "rpc.method": method,
});

/** Health probes run every few seconds on every service: spans of their own would drown the traces that matter. */
const UNTRACED_SERVICES = new Set(["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"]);

/** A client span per RPC, whose context goes along in the call's headers (W3C `traceparent`). */
export function tracingClientInterceptor(): ConnectInterceptor {
  return (next) => async (req) => {
    if (!enabled || UNTRACED_SERVICES.has(req.method.parent.typeName)) return next(req);
    const service = req.method.parent.typeName;
    const span = tracer().startSpan(`${service}/${req.method.name}`, {
      kind: SpanKind.CLIENT,
      attributes: rpcAttributes(service, req.method.name),
    });
    propagation.inject(trace.setSpan(context.active(), span), req.header, headerSetter);
    try {
      return endWithResponse(span, await next(req));
    } catch (err) {
      endSpan(span, err);
      throw err;
    }
  };
}

/**
 * A server span per RPC, child of the caller's span: from the call's `traceparent`, or (a caller
 * in the same process, whose calls carry no headers) from the active context. The handler runs
 * inside it, so its own calls and spans join the trace. `component`: the part of the process
 * serving it (under npm start, where every part shares one service name).
 */
export function tracingServerInterceptor(component?: string): ConnectInterceptor {
  return (next) => async (req) => {
    if (!enabled || UNTRACED_SERVICES.has(req.method.parent.typeName)) return next(req);
    const service = req.method.parent.typeName;
    const parent = req.header.has("traceparent") ? propagation.extract(ROOT_CONTEXT, req.header, headerGetter) : context.active();
    const attributes = rpcAttributes(service, req.method.name);
    const span = tracer().startSpan(
      `${service}/${req.method.name}`,
      { kind: SpanKind.SERVER, attributes: component ? { ...attributes, "langopen.component": component } : attributes },
      parent,
    );
    const inSpanContext = trace.setSpan(parent, span);
    try {
      const res = await context.with(inSpanContext, () => next(req));
      return endWithResponse(span, res, inSpanContext);
    } catch (err) {
      endSpan(span, err);
      throw err;
    }
  };
}
