import type { Namespace } from "./types.js";

/*
 * Namespaces: how run event names carry them (`values|child:1|inner:2`), the key they are kept
 * under, the subgraph names in their segments, and prefix matching for event filters.
 */

/** `values|child:1|inner:2` -> method `values`, namespace `["child:1", "inner:2"]`. */
export function parseEventName(name: string): { method: string; namespace: Namespace } {
  const [method = "", ...namespace] = name.split("|");
  return { method, namespace };
}

/** The key a namespace is kept under in maps. */
export const nsKey = (namespace: Namespace) => namespace.join("\u0000");

/** The subgraph's name in a namespace segment (`child:<task id>` -> `child`). */
export const segmentName = (segment: string) => {
  const colon = segment.indexOf(":");
  return colon === -1 ? segment : segment.slice(0, colon);
};

/**
 * Whether a namespace starts with a prefix. A prefix segment without `:` also matches a
 * segment carrying a task id (`child` matches `child:<task id>`).
 */
export function isNamespacePrefix(namespace: Namespace, prefix: Namespace): boolean {
  if (prefix.length > namespace.length) return false;
  return prefix.every((segment, i) => {
    const candidate = namespace[i] ?? "";
    return candidate === segment || (!segment.includes(":") && segmentName(candidate) === segment);
  });
}
