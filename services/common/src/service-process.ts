import { ConfigError } from "./config.js";
import type { Logger } from "./logger.js";

/**
 * Runs a service's entry point. A start-up failure is printed to stderr (a configuration error
 * as its message alone, anything else with its stack), followed by `usage` when given, and the
 * process exits with status 1.
 */
export function runMain(main: () => Promise<void>, usage?: string): void {
  main().catch((err: unknown) => {
    const text = err instanceof ConfigError ? err.message : ((err as Error | undefined)?.stack ?? String(err));
    process.stderr.write(`${text}\n${usage ? `${usage}\n` : ""}`);
    process.exit(1);
  });
}

export interface StopOnSignalsOptions {
  /** Exit with status 1 when stopping takes longer than this. */
  forceAfterMs?: number;
}

/**
 * Stops the service once, on the first SIGTERM or SIGINT (or when the returned function is
 * called), then exits: 0 after a clean stop, 1 when stopping failed or outlasted `forceAfterMs`.
 */
export function stopOnSignals(
  logger: Logger,
  service: string,
  stop: () => Promise<void>,
  options: StopOnSignalsOptions = {},
): (reason: string) => void {
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) return;
    stopping = true;
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
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  return onSignal;
}
