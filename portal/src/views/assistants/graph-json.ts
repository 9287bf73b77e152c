// Reading the drawable graph GetAssistantGraph answers ({nodes, edges}, as LangChain's
// Graph.toJSON()) without laying it out: the layout (dagre) loads with the graph view only.
import { isJsonObject } from "../../lib/json";

/** A node id as the JSON holds it: a name, or a number for nodes that had a random id. */
export function idOf(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  return undefined;
}

/** The node names a run may be interrupted before or after (not the start and end markers, nor xray's inner nodes). */
export function interruptibleNodes(graph: unknown): string[] {
  if (!isJsonObject(graph) || !Array.isArray(graph.nodes)) return [];
  return graph.nodes
    .map((raw) => (isJsonObject(raw) ? idOf(raw.id) : undefined))
    .filter((id): id is string => id !== undefined && !id.startsWith("__") && !id.includes(":"));
}
