/*
 * The shapes of the protocol v2 event engine: the thread log's entries it reads, and the
 * numbered v2 events it makes from them. Plus the two JSON helpers every part of it uses.
 */

/** A subgraph path: `["child:<task id>", "inner:<task id>"]`; `[]` is the root graph. */
export type Namespace = string[];

/** A v2 event, as the data of one SSE frame. */
export interface ProtocolEvent {
  type: "event";
  event_id: string;
  seq: number;
  method: string;
  params: { namespace: Namespace; timestamp: number; node?: string; data: unknown };
}

/** One entry of the thread's log: its id ("ms-seq"), the run event's name and its parsed data. */
export interface LogEvent {
  id: string;
  event: string;
  data: unknown;
}

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);
