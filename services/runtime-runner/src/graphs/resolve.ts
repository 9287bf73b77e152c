import type { CompiledGraphLike, GraphFactory } from "./types.js";

/** What a langgraph.json export turned out to be. */
export type GraphTarget = { kind: "compiled"; graph: CompiledGraphLike } | { kind: "factory"; factory: GraphFactory };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

export function isCompiledGraph(value: unknown): value is CompiledGraphLike {
  return (
    isObject(value) &&
    typeof value.invoke === "function" &&
    typeof value.stream === "function" &&
    typeof value.getState === "function"
  );
}

function isUncompiledGraph(value: unknown): value is { compile(): unknown } {
  return isObject(value) && typeof value.compile === "function" && !isCompiledGraph(value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (isObject(value)) return `an object (${value.constructor?.name ?? "Object"})`;
  return `a ${typeof value}`;
}

/**
 * A compiled graph from a graph-like value: a compiled graph as is, an uncompiled StateGraph
 * compiled, and an agent wrapper (such as `createAgent`'s) unwrapped to the graph it holds.
 */
export function toCompiledGraph(value: unknown, what: string): CompiledGraphLike {
  if (isObject(value) && isCompiledGraph(value.graph) && !("nodes" in value && "channels" in value)) return value.graph;
  if (isCompiledGraph(value)) return value;
  if (isUncompiledGraph(value)) {
    const compiled = value.compile();
    if (isCompiledGraph(compiled)) return compiled;
    throw new Error(`${what}: compile() did not return a compiled graph`);
  }
  throw new Error(
    `${what} is not a graph: expected a compiled graph, a StateGraph, or a function returning one, got ${describe(value)}`,
  );
}

/** Classifies an export: a graph (compiled here if needed) or a factory to call per run. */
export async function toGraphTarget(exported: unknown, what: string): Promise<GraphTarget> {
  const value = exported instanceof Promise ? await exported : exported;
  if (typeof value === "function" && !isCompiledGraph(value)) return { kind: "factory", factory: value as GraphFactory };
  return { kind: "compiled", graph: toCompiledGraph(value, what) };
}

/** The graph a factory builds for a config (factories may be async and may return a StateGraph). */
export async function callFactory(
  factory: GraphFactory,
  config: Parameters<GraphFactory>[0],
  what: string,
): Promise<CompiledGraphLike> {
  return toCompiledGraph(await factory(config), `${what} (factory result)`);
}
