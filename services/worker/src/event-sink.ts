import { jsonBytes, NULL_JSON_BYTES } from "@langopen/common";
import { EVENTS_DROPPED, type EventInit, type Signals, StaleEpochError } from "@langopen/data-plane";

interface Pending extends EventInit {
  /** The runtime's number of the event, told to onDurable once appended. */
  seq?: number;
}

/**
 * Appends a run's events in order, batching those that arrive while an append is in flight, so
 * a fast graph costs one round trip per batch rather than per event. `onDurable` hears the
 * highest runtime number appended after each batch (the acknowledgement the runtime waits for).
 *
 * The event log only serves streams: the run's truth (its checkpoints, outcome and result) is
 * in Postgres. So an append the log refuses for any reason but a newer attempt (Redis full
 * under `maxmemory`, or away) costs the stream those events, never the run: the batch counts as
 * handled, `onLost` hears of it, and the next append that succeeds first says how many events
 * went missing (an `error` event EventsDropped), so no reader meets a silent gap.
 */
export function createEventSink(
  signals: Signals,
  runId: string,
  threadId: string | null,
  epoch?: bigint,
  onDurable?: (seq: number) => void,
  onLost?: (err: unknown, events: number) => void,
  onAppended?: (events: number) => void,
) {
  let queue: Pending[] = [];
  let flushing: Promise<void> = Promise.resolve();
  let failure: unknown;
  /** Events the log refused since the last append that succeeded. */
  let lost = 0;

  const flush = async () => {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      const gap = lost;
      const appended = gap > 0 ? [lostNotice(gap), ...batch] : batch;
      try {
        await signals.appendEvents(runId, threadId, appended, epoch);
        lost -= gap;
        onAppended?.(appended.length);
      } catch (err) {
        if (err instanceof StaleEpochError) throw err;
        lost += batch.length;
        onLost?.(err, batch.length);
      }
      let durable: number | undefined;
      for (const e of batch) if (e.seq !== undefined) durable = e.seq;
      if (durable !== undefined) onDurable?.(durable);
    }
  };

  return {
    /** Queues an event; data is the bytes of its JSON text, kept as they are (never decoded here). */
    push(event: string, data: Uint8Array, seq?: number): void {
      queue.push({ event, data: data.length === 0 ? NULL_JSON_BYTES : data, seq });
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
    /** How many events the log refused and no later append has reported yet. */
    lost(): number {
      return lost;
    },
    /** Resolves once everything pushed so far is appended (or given up); rethrows a newer attempt's fence. */
    async drain(): Promise<void> {
      await flushing;
      await flush();
      if (failure) throw failure;
    },
  };
}

/** The event that stands, in a run's stream, for events its log refused. */
function lostNotice(count: number): EventInit {
  return {
    event: "error",
    data: jsonBytes({
      error: EVENTS_DROPPED,
      message: `${count} event(s) of this run could not be kept in its event log (it refused them, e.g. Redis at its maxmemory); the events after this one follow. The run's outcome and state are unaffected: read them from the run and its thread.`,
      lost_events: count,
    }),
  };
}
