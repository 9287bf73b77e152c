import type { CompiledGraphLike } from "../graphs/types.js";
import type { StaticGraphSchema } from "../schemas/static.js";
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
  getUpdateTypeSchema?: SchemaFn;
  getInputTypeSchema?: SchemaFn;
  getOutputTypeSchema?: SchemaFn;
  getConfigTypeSchema?: SchemaFn;
}

interface BuilderLike {
  channels?: Record<string, unknown>;
  _schemaDefinitions?: Map<unknown, Record<string, unknown>>;
  _inputDefinition?: unknown;
  _outputDefinition?: unknown;
  _schemaRuntimeDefinition?: unknown;
  _inputRuntimeDefinition?: unknown;
  _outputRuntimeDefinition?: unknown;
}

/** A StateSchema (LangGraph's own state definition): it describes itself as JSON Schema. */
interface StateSchemaLike {
  getJsonSchema(): unknown;
  getInputJsonSchema(): unknown;
}

function attempt(fn: SchemaFn | undefined, graph: unknown): unknown {
  if (typeof fn !== "function") return undefined;
  try {
    return toPlain(fn(graph));
  } catch {
    return undefined;
  }
}

function isStateSchemaLike(value: unknown): value is StateSchemaLike {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Partial<StateSchemaLike>).getJsonSchema === "function" &&
    typeof (value as Partial<StateSchemaLike>).getInputJsonSchema === "function"
  );
}

function call(fn: () => unknown): unknown {
  try {
    return toPlain(fn());
  } catch {
    return undefined;
  }
}

// How LangGraph marks an input that is the state made partial.
const PartialStateSchema = Symbol.for("langgraph.state.partial");

interface Derived {
  state?: unknown;
  input?: unknown;
  output?: unknown;
  config?: unknown;
}

/** The schemas a StateSchema-defined graph gives itself. */
function fromStateSchema(builder: BuilderLike | undefined): Derived | undefined {
  if (!builder) return undefined;
  const { _schemaRuntimeDefinition: state, _inputRuntimeDefinition: input, _outputRuntimeDefinition: output } = builder;
  if (!isStateSchemaLike(state) && !isStateSchemaLike(input) && !isStateSchemaLike(output)) return undefined;
  return {
    state: isStateSchemaLike(state) ? call(() => state.getJsonSchema()) : undefined,
    input: isStateSchemaLike(input)
      ? call(() => input.getInputJsonSchema())
      : input === PartialStateSchema && isStateSchemaLike(state)
        ? call(() => state.getInputJsonSchema())
        : undefined,
    output: isStateSchemaLike(output) ? call(() => output.getJsonSchema()) : undefined,
  };
}

/** The schemas LangGraph's zod extraction gives (zod state, input, output and config schemas). */
function fromZod(graph: CompiledGraphLike, module: SchemaModule | undefined): Derived | undefined {
  if (!module) return undefined;
  const derived = {
    // The state's update type, as upstream answers: every key is optional in what a client sends.
    state: attempt(module.getUpdateTypeSchema ?? module.getStateTypeSchema, graph),
    input: attempt(module.getInputTypeSchema, graph),
    output: attempt(module.getOutputTypeSchema, graph),
    config: attempt(module.getConfigTypeSchema, graph),
  };
  return Object.values(derived).some((v) => v != null) ? derived : undefined;
}

function isPublicChannel(name: string): boolean {
  return !name.startsWith("__") && !name.includes(":");
}

/** An object schema naming the channels, for graphs whose state has no known schema. */
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
 * The schemas of a graph, from the best source there is, as upstream chooses: the graph's own
 * StateSchema or zod definitions when it has them; else the schemas derived from its TypeScript
 * types at start (`typed`; Annotation states); else objects listing the state channels.
 */
export function graphSchemas(
  graph: CompiledGraphLike,
  title: string,
  module: SchemaModule | undefined,
  typed?: StaticGraphSchema,
): GraphSchemas {
  const builder = graph.builder as BuilderLike | undefined;
  const derived = fromStateSchema(builder) ?? fromZod(graph, module) ?? typed;
  const stateNames = channelNames(builder?.channels) ?? channelNames((graph as { channels?: unknown }).channels) ?? [];
  const inputNames = channelNames(builder?._schemaDefinitions?.get(builder._inputDefinition)) ?? stateNames;
  const outputNames = channelNames(builder?._schemaDefinitions?.get(builder._outputDefinition)) ?? stateNames;
  const config = derived?.config;
  return {
    input_schema: derived?.input ?? channelSchema(`${title}.input`, inputNames),
    output_schema: derived?.output ?? channelSchema(`${title}.output`, outputNames),
    state_schema: derived?.state ?? channelSchema(`${title}.state`, stateNames),
    config_schema: config,
    // A JS graph's config and context schemas cannot be told apart: the same one answers both.
    context_schema: config,
  };
}
