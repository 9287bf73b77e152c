import { isNamespacePrefix } from "./namespaces.js";
import { isObject, type Namespace, type ProtocolEvent } from "./types.js";

/*
 * What one connection asked for: its channels, namespaces and depth, and `since` (the seq it has
 * already seen). Every connection translates the whole log (so that the numbering is the same on
 * all of them) and then keeps only what matches.
 */

/** What one v2 event stream asked for. */
export interface EventFilter {
  channels: ReadonlySet<string>;
  namespaces?: Namespace[];
  depth?: number;
  since?: number;
}

/** The channel an event belongs to (`custom:<name>` for named custom events). */
export function channelOf(event: ProtocolEvent): string | undefined {
  switch (event.method) {
    case "input.requested":
    case "input.answered":
      return "input";
    case "custom": {
      const data = event.params.data;
      return isObject(data) && typeof data.name === "string" ? `custom:${data.name}` : "custom";
    }
    default:
      return event.method;
  }
}

/** Whether an event is one the stream asked for (its `since` aside). */
export function matchesFilter(filter: EventFilter, event: ProtocolEvent): boolean {
  const channel = channelOf(event);
  if (channel === undefined) return false;
  const wanted = filter.channels.has(channel) || (channel.startsWith("custom:") && filter.channels.has("custom"));
  if (!wanted) return false;
  const namespace = event.params.namespace;
  const prefixes = filter.namespaces !== undefined && filter.namespaces.length > 0 ? filter.namespaces : [[]];
  return prefixes.some(
    (prefix) =>
      isNamespacePrefix(namespace, prefix) && (filter.depth === undefined || namespace.length - prefix.length <= filter.depth),
  );
}
