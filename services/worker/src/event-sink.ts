import { type Signals, StaleEpochError } from "@langopen/common";

/**
 * Appends a run's events in order, batching those that arrive while an append is in flight, so
 * a fast graph costs one round trip per batch rather than per event.
 */
export function createEventSink(signals: Signals, runId: string, threadId: string, epoch?: bigint) {
  let queue: Array<{ event: string; data: string }> = [];
  let flushing: Promise<void> = Promise.resolve();
  let failure: unknown;

  const flush = async () => {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      await signals.appendEvents(runId, threadId, batch, epoch);
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
    /** Drops what is not appended yet (the attempt lost the run: its events must not land). */
    discard(): void {
      queue = [];
    },
    /** Whether an append failed because a newer attempt of the run has appended. */
    fenced(): boolean {
      return failure instanceof StaleEpochError;
    },
    /** Resolves once everything pushed so far is appended; rethrows an append failure. */
    async drain(): Promise<void> {
      await flushing;
      await flush();
      if (failure) throw failure;
    },
  };
}
