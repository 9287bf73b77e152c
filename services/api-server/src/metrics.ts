import { Gauge, type Registry } from "@langopen/common";
import type { RunStore } from "@langopen/data-plane";

/** Counted up to this many: beyond it the gauges stay there (the count's cost stays bounded). */
const COUNT_CAP = 1_000_000;

/**
 * The queue as the database holds it: `langopen_runs_pending` (waiting, due or scheduled),
 * `langopen_runs_runnable` (what a worker could start now: what workers scale on) and
 * `langopen_runs_running`, counted when scraped, at most once per `refreshMs` (scrapes of several
 * Prometheus replicas, or a dashboard's, share one count).
 */
export function registerRunGauges(registry: Registry, runs: Pick<RunStore, "countActive">, refreshMs = 1_000): void {
  let last: { at: number; counts: Promise<{ pending: number; running: number; runnable: number }> } | undefined;
  const counts = () => {
    if (!last || Date.now() - last.at >= refreshMs) {
      const counting = runs.countActive(COUNT_CAP);
      last = { at: Date.now(), counts: counting };
      // A failed count is not kept: the next scrape tries again.
      counting.catch(() => {
        if (last?.counts === counting) last = undefined;
      });
    }
    return last.counts;
  };
  const gauge = (name: string, help: string, key: "pending" | "running" | "runnable") =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        // Unknown while the database cannot answer: no sample rather than a stale one (the rest of the scrape stands).
        const known = await counts().catch(() => undefined);
        if (known) this.set(known[key]);
        else this.reset();
      },
    });
  gauge("langopen_runs_pending", "Runs waiting to be started (pending), due now or scheduled later.", "pending");
  gauge(
    "langopen_runs_runnable",
    "Runs a worker could start now: due, first in their thread's queue, their thread not busy (what workers scale on).",
    "runnable",
  );
  gauge("langopen_runs_running", "Runs being executed by a worker now.", "running");
}
