import type { CompiledGraphLike } from "../graphs/types.js";
import { toPlain } from "./plain-json.js";

/** The public GraphSchemaNoId: JSON schemas of a graph, where they can be made. */
export interface GraphSchemas {
  input_schema?: unknown;
  output_schema?: unknown;
  state_schema: unknown;
  config_schema?: unknown;
  context_schema?: unknown;
}

type SchemaFn = (graph: unknown) => unknown;

/** LangGraph's own schema extraction (`@langchain/langgraph/zod/schema`) of the user's copy. */
export interface SchemaModule {
  getStateTypeSchema?: SchemaFn;
  getInputTypeSchema?: SchemaFn;
  getOutputTypeSchema?: SchemaFn;
  getConfigTypeSchema?: SchemaFn;
}

interface BuilderLike {
  channels?: Record<string, unknown>;
  _schemaDefinitions?: Map<unknown, Record<string, unknown>>;
  _inputDefinition?: unknown;
  _outputDefinition?: unknown;
}

function attempt(fn: SchemaFn | undefined, graph: unknown): unknown {
  if (typeof fn !== "function") return undefined;
  try {
    return toPlain(fn(graph));
  } catch {
    return undefined;
  }
}

function isPublicChannel(name: string): boolean {
  return !name.startsWith("__") && !name.includes(":");
}

/** An object schema naming the channels, for graphs whose state has no runtime schema (Annotation). */
function channelSchema(title: string, names: string[]): Record<string, unknown> {
  return {
    type: "object",
    title,
    properties: Object.fromEntries(names.filter(isPublicChannel).map((name) => [name, {}])),
  };
}

function channelNames(definition: unknown): string[] | undefined {
  return definition && typeof definition === "object" ? Object.keys(definition) : undefined;
}

/**
 * The schemas of a graph: from its zod / StateSchema state definitions through LangGraph's
 * extraction when it has them, else objects listing the state channels (the schemas of
 * Annotation-based state cannot be known at run time).
 */
export function graphSchemas(graph: CompiledGraphLike, title: string, module: SchemaModule | undefined): GraphSchemas {
  const builder = graph.builder as BuilderLike | undefined;
  const stateNames = channelNames(builder?.channels) ?? channelNames((graph as { channels?: unknown }).channels) ?? [];
  const inputNames = channelNames(builder?._schemaDefinitions?.get(builder._inputDefinition)) ?? stateNames;
  const outputNames = channelNames(builder?._schemaDefinitions?.get(builder._outputDefinition)) ?? stateNames;
  const config = attempt(module?.getConfigTypeSchema, graph);
  return {
    input_schema: attempt(module?.getInputTypeSchema, graph) ?? channelSchema(`${title}.input`, inputNames),
    output_schema: attempt(module?.getOutputTypeSchema, graph) ?? channelSchema(`${title}.output`, outputNames),
    state_schema: attempt(module?.getStateTypeSchema, graph) ?? channelSchema(`${title}.state`, stateNames),
    config_schema: config,
    context_schema: config,
  };
}
