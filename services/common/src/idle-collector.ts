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
 *
 * A process that is never idle (runs back to back, a pool kept busy) would keep growing until
 * V8 itself collects, which for the external memory of large events (their bytes, encoded and
 * framed) is late: a runtime process reached 700-950 MB under a stream of 9 MB runs while its
 * live data was a fraction of that. With `pressureBytes`, a run that ends with the process grown
 * past it since the last collection collects at once, runs in flight or not (a pause of tens of
 * milliseconds for the runs beside it, against hundreds of megabytes kept). The process's size
 * is read at most every PRESSURE_CHECK_MS for this: reading it costs 0.2-0.3 ms under load (a
 * /proc read), 1-2 % of a small run's CPU when paid at every run's end.
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
  /** Growth since the last collection past which a run's end collects at once, runs in flight or not (default: never). */
  pressureBytes?: number;
  /** The process's resident size and V8's full collection: the defaults, or stand-ins where a test counts what they do. */
  rss?: () => number;
  gc?: () => void;
  /** Milliseconds of a monotonic clock: the default, or a stand-in where a test moves time. */
  now?: () => number;
}

/**
 * The thresholds of a process that relays run streams on its own (a gateway or an api-server
 * started alone): it holds events while it passes them on, and runs nothing itself.
 */
export const STREAM_RELAY_COLLECTION = { growthBytes: 64 * 1024 * 1024, pressureBytes: 128 * 1024 * 1024 } as const;

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
/** At most one read of the process's size per this many milliseconds for the pressure check of runs' ends. */
export const PRESSURE_CHECK_MS = 250;

export function createIdleCollector(options: IdleCollectorOptions): IdleCollector {
  const gc = options.gc ?? fullCollection();
  const rss = options.rss ?? (() => process.memoryUsage.rss());
  const growth = options.growthBytes ?? 64 * 1024 * 1024;
  const idleMs = options.idleMs ?? 1_000;
  const now = options.now ?? (() => performance.now());
  let lastPressureCheck = Number.NEGATIVE_INFINITY;
  let inFlight = 0;
  let baseline = rss();
  let timer: NodeJS.Timeout | undefined;

  const collectIfIdle = () => {
    timer = undefined;
    if (inFlight === 0) collectPast(growth, "Gave back the memory of finished runs");
  };

  /** A full collection when the process grew `threshold` bytes or more since the last one. */
  const collectPast = (threshold: number, message: string) => {
    if (gc === undefined) return;
    const before = rss();
    if (before - baseline < threshold) return;
    const started = performance.now();
    gc();
    const gcMs = Math.round(performance.now() - started);
    baseline = rss();
    // V8 unmaps the freed pages in the background: the process's size settles a moment later.
    setTimeout(() => {
      baseline = Math.min(baseline, rss());
      options.logger.debug(
        { rss_before_mb: Math.round(before / 2 ** 20), rss_after_mb: Math.round(baseline / 2 ** 20), gc_ms: gcMs },
        message,
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
        // Runs back to back never leave the process idle for long: past the pressure, now.
        const at = now();
        if (options.pressureBytes !== undefined && at - lastPressureCheck >= PRESSURE_CHECK_MS) {
          lastPressureCheck = at;
          collectPast(options.pressureBytes, "Gave back the memory of a finished run");
        }
        if (inFlight === 0 && gc !== undefined) {
          timer = setTimeout(collectIfIdle, idleMs);
          timer.unref();
        }
      };
    },
  };
}
