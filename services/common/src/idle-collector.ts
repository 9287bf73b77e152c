import v8 from "node:v8";
import vm from "node:vm";
import type { Logger } from "./logger.js";

/**
 * V8 collects garbage when it allocates, not when it waits: a process that handled a few large
 * runs (a 9 MB message makes about 90 MB of events in every mode) keeps their garbage (a runtime
 * process 300 MB of RSS between runs, measured) for as long as it then stays idle, and each
 * process of a runtime pool keeps its own. Once no run is in flight and the process has grown
 * past `growthBytes` since the last collection, a full collection gives it back (a runtime
 * process fell from about 300 MB to 110 MB; a full collection of 550 MB took 50 ms). Runs that
 * grow nothing never pay for one.
 */
export interface IdleCollector {
  /** Counts one run in flight; call what it returns when the run ends (however it ends), once. */
  begin(): () => void;
}

export interface IdleCollectorOptions {
  logger: Logger;
  /** How much the process must have grown (RSS) since the last collection (default 64 MiB). */
  growthBytes?: number;
  /** How long the process must have been idle first (default 1 s): a run that follows at once keeps its warm heap. */
  idleMs?: number;
}

/** V8's full collection, reached without exposing `gc` to graph code's global object. */
function fullCollection(): (() => void) | undefined {
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as unknown;
    return typeof gc === "function" ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

/** How long after a collection the process's size is read again as the new baseline. */
const SETTLE_MS = 2_000;

export function createIdleCollector(options: IdleCollectorOptions): IdleCollector {
  const gc = fullCollection();
  const growth = options.growthBytes ?? 64 * 1024 * 1024;
  const idleMs = options.idleMs ?? 1_000;
  let inFlight = 0;
  let baseline = process.memoryUsage.rss();
  let timer: NodeJS.Timeout | undefined;

  const collectIfIdle = () => {
    timer = undefined;
    if (inFlight > 0 || gc === undefined) return;
    const before = process.memoryUsage.rss();
    if (before - baseline < growth) return;
    const started = performance.now();
    gc();
    const gcMs = Math.round(performance.now() - started);
    baseline = process.memoryUsage.rss();
    // V8 unmaps the freed pages in the background: the process's size settles a moment later.
    setTimeout(() => {
      baseline = Math.min(baseline, process.memoryUsage.rss());
      options.logger.debug(
        { rss_before_mb: Math.round(before / 2 ** 20), rss_after_mb: Math.round(baseline / 2 ** 20), gc_ms: gcMs },
        "Gave back the memory of finished runs",
      );
    }, SETTLE_MS).unref();
  };

  return {
    begin() {
      inFlight++;
      if (timer) clearTimeout(timer);
      timer = undefined;
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        inFlight--;
        if (inFlight === 0 && gc !== undefined) {
          timer = setTimeout(collectIfIdle, idleMs);
          timer.unref();
        }
      };
    },
  };
}
