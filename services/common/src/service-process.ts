import { ConfigError } from "./config.js";
import type { Logger } from "./logger.js";

/**
 * A start-up failure its message explains in full (a user's broken graph, say): printed alone,
 * without a stack trace or the usage.
 */
export class StartupError extends Error {
  override readonly name = "StartupError";
}

/**
 * Runs a service's entry point. A start-up failure is printed to stderr (a configuration error
 * as its message followed by `usage` when given, a StartupError as its message alone, anything
 * else with its stack), and the process exits with status 1.
 */
export function runMain(main: () => Promise<void>, usage?: string): void {
  main().catch((err: unknown) => {
    let text: string;
    if (err instanceof StartupError) text = err.message;
    else if (err instanceof ConfigError) text = `${err.message}${usage ? `\n${usage}` : ""}`;
    else text = `${(err as Error | undefined)?.stack ?? String(err)}${usage ? `\n${usage}` : ""}`;
    process.stderr.write(`${text}\n`);
    process.exit(1);
  });
}

export interface StopOnSignalsOptions {
  /** Exit with status 1 when stopping takes longer than this. */
  forceAfterMs?: number;
  /** The signals that stop the service. Default: SIGTERM and SIGINT. */
  signals?: NodeJS.Signals[];
}

/**
 * Stops the service once, on the first SIGTERM or SIGINT (or when the returned function is
 * called), then exits: 0 after a clean stop, 1 when stopping failed or outlasted `forceAfterMs`.
 * A second signal while stopping (Ctrl-C pressed again) exits at once, with status 1; one within
 * a second of the first is taken for the same Ctrl-C (delivered to the process group and also
 * forwarded by a parent such as npm) and ignored.
 */
export function stopOnSignals(
  logger: Logger,
  service: string,
  stop: () => Promise<void>,
  options: StopOnSignalsOptions = {},
): (reason: string) => void {
  let stopping = false;
  let stoppedAt = 0;
  const onSignal = (signal: string) => {
    if (stopping) {
      if (signal.startsWith("SIG") && Date.now() - stoppedAt > 1_000) {
        logger.warn({ signal }, `Forced ${service} exit before it stopped`);
        process.exit(1);
      }
      return;
    }
    stopping = true;
    stoppedAt = Date.now();
    logger.info({ signal }, `Stopping ${service}`);
    if (options.forceAfterMs !== undefined) {
      setTimeout(() => {
        logger.error({ grace_ms: options.forceAfterMs }, `Forced ${service} exit after the grace period`);
        process.exit(1);
      }, options.forceAfterMs).unref();
    }
    stop().then(
      () => {
        logger.info(`Stopped ${service}`);
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, `Failed to stop ${service} cleanly`);
        process.exit(1);
      },
    );
  };
  for (const signal of options.signals ?? ["SIGTERM", "SIGINT"]) process.on(signal, onSignal);
  return onSignal;
}
