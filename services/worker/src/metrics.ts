import { Counter, exemplarsEnabled, Gauge, Histogram, observeWithTrace, type Registry } from "@langopen/common";

/** How an attempt of a run ended, as langopen_run_attempts_total counts it. */
export type AttemptOutcome =
  | "success"
  | "error"
  | "timeout"
  | "interrupted"
  | "cancelled"
  /** Returned to the queue after an infrastructure failure, to be tried again. */
  | "retried"
  /** Out of attempts after infrastructure failures: the run ended `error`. */
  | "gave_up"
  /** Handed back unfinished on shutdown (the attempt is not counted against the run). */
  | "handed_back"
  /** Its lease lapsed and a newer attempt owns the run. */
  | "lease_lost";

/** How a webhook delivery attempt ended. */
export type WebhookOutcome = "delivered" | "retried" | "failed" | "refused";

/** The worker's metrics: the queue as workers see it, each attempt's end, the streams, webhooks. */
export interface WorkerMetrics {
  /** A run's first attempt started, `waitedSeconds` after it became runnable. */
  started(waitedSeconds: number, firstAttempt: boolean): void;
  attemptEnded(outcome: AttemptOutcome, seconds?: number): void;
  /** Events a run's attempt added to its stream. */
  streamEvents(count: number): void;
  webhookDelivery(outcome: WebhookOutcome): void;
  /** Runs this worker drives now, read when scraped. */
  watchBusy(read: () => number, capacity: number): void;
}

/** Waits and durations in seconds: from milliseconds (a hot queue) to an hour (a run's default limit). */
const WAIT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

export function createWorkerMetrics(registry: Registry): WorkerMetrics {
  const queueWait = new Histogram({
    name: "langopen_run_queue_wait_seconds",
    help: "Time from a run becoming runnable (created, or its after_seconds passed) to its first attempt starting.",
    buckets: WAIT_BUCKETS,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "langopen_run_duration_seconds",
    help: "Time one attempt of a run took, from its claim to its end, by how it ended.",
    labelNames: ["outcome"] as const,
    buckets: WAIT_BUCKETS,
    registers: [registry],
    enableExemplars: exemplarsEnabled(),
  });
  const attempts = new Counter({
    name: "langopen_run_attempts_total",
    help: "Attempts of runs that ended, by outcome (success, error, timeout, interrupted, cancelled, retried, gave_up, handed_back, lease_lost).",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const events = new Counter({
    name: "langopen_stream_events_total",
    help: "Events written to runs' streams.",
    registers: [registry],
  });
  const webhooks = new Counter({
    name: "langopen_webhook_deliveries_total",
    help: "Webhook delivery attempts, by outcome (delivered, retried, failed: given up, refused: a target not allowed).",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  // Every outcome is present from the start, so that rates and alerts see zeros rather than nothing.
  for (const outcome of ["success", "error", "timeout", "interrupted", "cancelled", "retried", "gave_up"] as const)
    attempts.inc({ outcome }, 0);
  for (const outcome of ["delivered", "retried", "failed", "refused"] as const) webhooks.inc({ outcome }, 0);
  const busyReaders: Array<() => number> = [];
  let capacityTotal = 0;
  new Gauge({
    name: "langopen_workers_busy",
    help: "Runs the workers of this process are driving now.",
    registers: [registry],
    collect() {
      this.set(busyReaders.reduce((sum, read) => sum + read(), 0));
    },
  });
  const capacity = new Gauge({
    name: "langopen_workers_capacity",
    help: "Runs the workers of this process may drive at once (their concurrency).",
    registers: [registry],
  });
  return {
    started(waitedSeconds, firstAttempt) {
      if (firstAttempt) queueWait.observe(Math.max(0, waitedSeconds));
    },
    attemptEnded(outcome, seconds) {
      attempts.inc({ outcome });
      // Inside the attempt's span: with traces on, its exemplar names the run's trace.
      if (seconds !== undefined) observeWithTrace(duration, { outcome }, seconds);
    },
    streamEvents(count) {
      if (count > 0) events.inc(count);
    },
    webhookDelivery(outcome) {
      webhooks.inc({ outcome });
    },
    watchBusy(read, workerCapacity) {
      busyReaders.push(read);
      capacityTotal += workerCapacity;
      capacity.set(capacityTotal);
    },
  };
}
