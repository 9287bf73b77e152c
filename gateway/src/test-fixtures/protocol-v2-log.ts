import { ProtocolEventTranslator } from "../protocol-v2/translator.js";
import type { LogEvent, ProtocolEvent } from "../protocol-v2/types.js";

// Helpers the protocol-v2 engine's tests share: a run's log as the data plane keeps it, and what
// the engine makes of it.

export const RUN = "run-1";

/** Log entries with ids 1000-0, 1000-1, ... */
export function log(...entries: Array<[string, unknown]>): LogEvent[] {
  return entries.map(([event, data], i) => ({ id: `1000-${i}`, event, data }));
}

/** The events one translator makes of a whole log. */
export function translate(entries: LogEvent[]): ProtocolEvent[] {
  const translator = new ProtocolEventTranslator();
  return entries.flatMap((e) => translator.translate(e));
}

/** A `messages` event's data: a chunk of an AI message from node "model". */
export const chunk = (content: unknown, extra: Record<string, unknown> = {}) => [
  { type: "ai", id: "m1", content, tool_call_chunks: [], tool_calls: [], response_metadata: {}, ...extra },
  { langgraph_node: "model", ls_provider: "openai", ls_model_name: "gpt" },
];

/** The data of the events of one method. */
export const data = (events: ProtocolEvent[], method: string) =>
  events.filter((e) => e.method === method).map((e) => e.params.data);
export const messageEvents = (events: ProtocolEvent[]) => data(events, "messages") as Array<Record<string, unknown>>;
