import type { RunnableConfig } from "@langchain/core/runnables";
import type { StateSnapshot } from "@langchain/langgraph";

/**
 * What the runtime needs of a compiled graph. Typed structurally rather than as the Pregel class,
 * because the user's graph may come from another copy of @langchain/langgraph than the runtime's.
 */
export interface CompiledGraphLike {
  checkpointer?: unknown;
  store?: unknown;
  builder?: unknown;
  withConfig(config: Record<string, unknown>): CompiledGraphLike;
  stream(input: unknown, options: Record<string, unknown>): Promise<AsyncIterable<unknown>>;
  streamEvents(input: unknown, options: Record<string, unknown>): AsyncIterable<StreamEventLike>;
  getState(config: RunnableConfig, options?: { subgraphs?: boolean }): Promise<StateSnapshot>;
  getStateHistory(
    config: RunnableConfig,
    options?: { limit?: number; before?: RunnableConfig; filter?: Record<string, unknown> },
  ): AsyncIterable<StateSnapshot>;
  updateState(config: RunnableConfig, values: unknown, asNode?: string): Promise<RunnableConfig>;
  getGraphAsync(config?: Record<string, unknown>): Promise<{ toJSON(): unknown }>;
  getSubgraphsAsync(namespace?: string, recurse?: boolean): AsyncIterable<[string, CompiledGraphLike]>;
}

/** One record of `streamEvents(..., { version: "v2" })`. */
export interface StreamEventLike {
  event: string;
  name?: string;
  run_id?: string;
  tags?: string[];
  metadata?: Record<string, unknown>;
  data?: { chunk?: unknown; input?: unknown; output?: unknown };
  [key: string]: unknown;
}

/** A graph export that builds the graph per run from the run's config. */
export type GraphFactory = (config: RunnableConfig) => unknown;

/** The Command and Send classes of the copy of @langchain/langgraph the user's graphs use. */
export interface LanggraphClasses {
  Command: new (args: { resume?: unknown; update?: unknown; goto?: unknown }) => unknown;
  Send: new (node: string, args: unknown) => unknown;
}
