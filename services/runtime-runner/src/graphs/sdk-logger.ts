import { AsyncLocalStorageProviderSingleton } from "@langchain/core/singletons";
import type { Logger } from "@langopen/common";

/**
 * Where `getLogger()` of `@langchain/langgraph-sdk/logging` looks for the platform's logger: a
 * global under this registered symbol, so any copy of the SDK a project installs finds it.
 */
const SDK_LOGGER = Symbol.for("langgraph.api.sdk-logger");

/** The SDK's levels (winston's names) and the pino level each is logged at. */
const LEVELS = {
  error: "error",
  warn: "warn",
  help: "info",
  data: "info",
  info: "info",
  http: "info",
  prompt: "info",
  input: "info",
  verbose: "debug",
  debug: "debug",
  silly: "trace",
} as const;

type SdkLogMethod = (message: unknown, ...meta: unknown[]) => SdkLogger;
export type SdkLogger = { -readonly [level in keyof typeof LEVELS]: SdkLogMethod };

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The ids of the run (and node) whose code is logging, when a graph logs inside a run. */
function runFields(): Record<string, unknown> {
  const config = AsyncLocalStorageProviderSingleton.getRunnableConfig() as
    | { configurable?: Record<string, unknown>; metadata?: Record<string, unknown> }
    | undefined;
  const out: Record<string, unknown> = {};
  for (const key of ["run_id", "thread_id", "graph_id", "assistant_id"]) {
    const value = config?.configurable?.[key] ?? config?.metadata?.[key];
    if (typeof value === "string") out[key] = value;
  }
  const node = config?.metadata?.langgraph_node;
  if (typeof node === "string") out.langgraph_node = node;
  return out;
}

/** A logger with the SDK's interface that writes to the runtime's own log, with the run's ids. */
export function createSdkLogger(logger: Logger): SdkLogger {
  const graphLog = logger.child({ source: "graph" });
  const sdk = {} as SdkLogger;
  for (const [name, level] of Object.entries(LEVELS) as [keyof typeof LEVELS, (typeof LEVELS)[keyof typeof LEVELS]][]) {
    sdk[name] = (message, ...meta) => {
      const fields: Record<string, unknown> = { ...runFields() };
      let text: string | undefined;
      if (typeof message === "string") text = message;
      else if (isRecord(message)) {
        const { message: inner, ...rest } = message;
        Object.assign(fields, rest);
        text = typeof inner === "string" ? inner : undefined;
      } else fields.value = message;
      for (const extra of meta) {
        if (isRecord(extra)) Object.assign(fields, extra);
        else if (extra instanceof Error) fields.err = extra;
      }
      graphLog[level](fields, text ?? "");
      return sdk;
    };
  }
  return sdk;
}

/** Makes the SDK's `getLogger()` answer for graphs loaded in this process. */
export function registerSdkLogger(logger: Logger): void {
  (globalThis as unknown as Record<symbol, SdkLogger>)[SDK_LOGGER] = createSdkLogger(logger);
}
