import { Code, ConnectError } from "@connectrpc/connect";
import { context, trace } from "@opentelemetry/api";
import {
  type DestinationStream,
  type LevelWithSilent,
  type Logger,
  type LoggerOptions as LoggerSettings,
  pino,
  stdSerializers,
} from "pino";
import pretty from "pino-pretty";
import { errorInfo } from "./errors.js";
import { tracingEnabled } from "./telemetry.js";

/** The active span's ids, for a log line (none outside spans). */
function traceFields(): Record<string, string> {
  const span = trace.getSpan(context.active())?.spanContext();
  return span && trace.isSpanContextValid(span) ? { trace_id: span.traceId, span_id: span.spanId } : {};
}

export type { Logger } from "pino";

export interface LoggerOptions {
  service: string;
  level: LevelWithSilent;
  version?: string;
  /** Human-readable lines instead of JSON. Default: when stdout is a terminal. */
  pretty?: boolean;
  /** Where the lines go. Default: stdout. */
  destination?: DestinationStream;
}

type SerializedError = Record<string, unknown>;

/**
 * The `err` field of a log line. A ConnectError shows its code, message and the reason, domain
 * and metadata of its ErrorInfo, rather than its raw (binary) details and headers; any other
 * error as pino shows it. Causes are serialized the same way.
 */
export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof ConnectError)) {
    const out = stdSerializers.err(err as Error) as unknown as SerializedError;
    const cause = (err as { cause?: unknown } | undefined)?.cause;
    if (cause instanceof ConnectError && out && typeof out === "object") out.cause = serializeError(cause);
    return out;
  }
  const out: SerializedError = { type: "ConnectError", code: Code[err.code] ?? err.code, message: err.rawMessage };
  const info = errorInfo(err);
  if (info) {
    out.reason = info.reason;
    if (info.domain) out.domain = info.domain;
    if (Object.keys(info.metadata).length > 0) out.metadata = { ...info.metadata };
  }
  out.stack = err.stack;
  if (err.cause !== undefined) out.cause = err.cause instanceof Error ? serializeError(err.cause) : String(err.cause);
  return out;
}

const chindingsSym = pino.symbols.chindingsSym;

/**
 * A child's bindings replace the same keys of its parent's (a service composed into another
 * process rebinds `service`): pino would append them, writing the key twice on every line.
 */
function dropRebound(child: Logger): void {
  const holder = child as unknown as Record<symbol, string>;
  const text = holder[chindingsSym] ?? "";
  if (text.length === 0) return;
  const merged = JSON.parse(`{${text.slice(1)}}`) as Record<string, unknown>;
  let rebuilt = "";
  for (const [key, value] of Object.entries(merged)) rebuilt += `,${JSON.stringify(key)}:${JSON.stringify(value)}`;
  // Same length: no key was bound twice (values are written alike both ways).
  if (rebuilt.length !== text.length) holder[chindingsSym] = rebuilt;
}

/**
 * Log lines for a person at a terminal: time, level, `service/component: message`, other fields
 * after it. Formatted as each line is written (pino-pretty's stream would write them later, and
 * lose the last ones at process.exit).
 */
function humanReadable(out: DestinationStream): DestinationStream {
  const format = pretty.prettyFactory({
    colorize: pretty.isColorSupported,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "service,version,component,pid",
    messageFormat: (log, messageKey) => `${log.component ? `${log.service}/${log.component}` : log.service}: ${log[messageKey]}`,
    singleLine: true,
  });
  return { write: (line: string) => out.write(format(line)) };
}

/**
 * The root logger of a process: JSON lines (or, on a terminal, human-readable ones), secrets
 * redacted, each key once per line.
 */
export function createLogger(options: LoggerOptions): Logger {
  // Written synchronously: a line logged just before process.exit (a "Stopped" line) is neither
  // lost nor overtaken by the exit flush of a later one.
  const out = options.destination ?? pino.destination({ dest: 1, sync: true });
  const human = options.pretty ?? process.stdout.isTTY === true;
  const destination = human ? humanReadable(out) : out;
  const settings: LoggerSettings = {
    level: options.level,
    // pid: several processes (a launcher and its runtimes) write to one stdout.
    base: { service: options.service, version: options.version ?? "0.1.0", pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: serializeError },
    onChild: dropRebound,
    // With traces on, every line written inside a span names it: one grep finds a request's lines and its trace.
    mixin: tracingEnabled() ? traceFields : undefined,
    redact: {
      paths: [
        "req.headers.authorization",
        'req.headers["x-api-key"]',
        "req.headers.cookie",
        "*.password",
        "*.token",
        "databaseUrl",
        "redisUrl",
      ],
      censor: "[redacted]",
    },
  };
  return pino(settings, destination);
}
