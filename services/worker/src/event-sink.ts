import { type Signals, StaleEpochError } from "@langopen/data-plane";

interface Pending {
  event: string;
  data: string;
  /** The runtime's number of the event, told to onDurable once appended. */
  seq?: number;
}

/**
 * Appends a run's events in order, batching those that arrive while an append is in flight, so
 * a fast graph costs one round trip per batch rather than per event. `onDurable` hears the
 * highest runtime number appended after each batch (the acknowledgement the runtime waits for).
 */
export function createEventSink(
  signals: Signals,
  runId: string,
  threadId: string,
  epoch?: bigint,
  onDurable?: (seq: number) => void,
) {
  let queue: Pending[] = [];
  let flushing: Promise<void> = Promise.resolve();
  let failure: unknown;

  const flush = async () => {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      await signals.appendEvents(runId, threadId, batch, epoch);
      let durable: number | undefined;
      for (const e of batch) if (e.seq !== undefined) durable = e.seq;
      if (durable !== undefined) onDurable?.(durable);
    }
  };

  return {
    push(event: string, data: string, seq?: number): void {
      queue.push({ event, data, seq });
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
