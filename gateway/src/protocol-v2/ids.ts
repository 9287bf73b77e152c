import { nsKey } from "./namespaces.js";
import type { Namespace, ProtocolEvent } from "./types.js";

/*
 * Ids and numbering. A translator numbers every event it makes, 1, 2, 3, ..., reading the log
 * from its start; `event_id` is that number too, and `timestamp` the wall-clock time of the log
 * entry the event came from. The translation depends only on the log, so every connection that
 * reads the same log gives the same event the same `seq` and `event_id`; that is what makes
 * `since` (resume after a seq) and the client's de-duplication across connections work. The
 * numbering holds while the thread's log keeps its start (it is kept for the thread retention
 * after its newest event, up to its length cap). Ids made up for interrupts and messages that
 * come without one depend only on the log too.
 */

/** The wall-clock milliseconds of a log id (`1712345678901-3`); now for an id of another shape. */
export function timestampOf(id: string): number {
  const ms = Number(id.split("-")[0]);
  return Number.isSafeInteger(ms) && ms > 0 ? ms : Date.now();
}

/** The id of an interrupt that has none (those of older LangGraph versions): stable for the log. */
export const madeUpInterruptId = (runId: string, namespace: Namespace, index: number) =>
  `${runId || "run"}:${nsKey(namespace)}:${index}`;

/** The numbered events of one stream, made one log entry at a time. */
export class EventSequence {
  private seq = 0;
  private out: ProtocolEvent[] = [];
  private timestamp = 0;

  /** Starts the events of one log entry. */
  begin(logId: string): void {
    this.out = [];
    this.timestamp = timestampOf(logId);
  }

  /** The events made since `begin`. */
  taken(): ProtocolEvent[] {
    return this.out;
  }

  /** The seq the next event gets (what a message without an id is named after). */
  get next(): number {
    return this.seq + 1;
  }

  emit(method: string, namespace: Namespace, data: unknown, node?: string): void {
    this.seq += 1;
    this.out.push({
      type: "event",
      event_id: String(this.seq),
      seq: this.seq,
      method,
      params: { namespace, timestamp: this.timestamp, ...(node === undefined ? {} : { node }), data },
    });
  }
}
