/*
 * Protocol v2 events from a thread's log: the stateful engine behind
 * POST /threads/{thread_id}/stream/events. A translator (translator.ts) turns the log's run events
 * into numbered v2 events (ids.ts); messages.ts assembles message chunks into content blocks,
 * payloads.ts shapes the passthrough channels, run-state.ts is what a stream keeps about its run,
 * namespaces.ts reads subgraph paths, and filter.ts picks what one connection asked for.
 */
export type { AgentStatus } from "../mappers/run-status.js";
export { channelOf, type EventFilter, matchesFilter } from "./filter.js";
export { isNamespacePrefix, parseEventName, segmentName } from "./namespaces.js";
export { ProtocolEventTranslator } from "./translator.js";
export type { LogEvent, Namespace, ProtocolEvent } from "./types.js";
