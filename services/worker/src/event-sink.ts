import type { Signals } from "@langopen/common";

/**
 * Appends a run's events in order, batching those that arrive while an append is in flight, so
 * a fast graph costs one round trip per batch rather than per event.
 */
export function createEventSink(signals: Signals, runId: string, threadId: string) {
  let queue: Array<{ event: string; data: string }> = [];
  let flushing: Promise<void> = Promise.resolve();
  let failure: unknown;

  const flush = async () => {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      await signals.appendEvents(runId, threadId, batch);
    }
  };

  return {
    push(event: string, data: string): void {
      queue.push({ event, data });
      if (queue.length === 1) {
        flushing = flushing.then(flush).catch((err: unknown) => {
          failure = err;
        });
      }
    },
    /** Resolves once everything pushed so far is appended; rethrows an append failure. */
    async drain(): Promise<void> {
      await flushing;
      await flush();
      if (failure) throw failure;
    },
  };
}
