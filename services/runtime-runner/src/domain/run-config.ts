import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { RunnableConfig } from "@langchain/core/runnables";
import { invalidArgument } from "@langopen/common";
import { Durability, type RunSpec } from "@langopen/gen/langopen/data/v1/run_pb";
import type { CheckpointRef } from "@langopen/gen/langopen/data/v1/thread_pb";
import type { LanggraphClasses } from "../graphs/types.js";

/** The ids a run is known by; they go into `configurable` and the run's metadata. */
export interface RunIds {
  runId: string;
  threadId: string;
  graphId: string;
  assistantId: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function objectOr(value: unknown): Record<string, unknown> {
  return isObject(value) ? value : {};
}

/** The address of a checkpoint as `configurable` keys; empty fields are left out. */
export function checkpointConfigurable(ref: CheckpointRef | undefined): Record<string, unknown> {
  if (!ref) return {};
  const out: Record<string, unknown> = { checkpoint_ns: ref.checkpointNs };
  if (ref.checkpointId) out.checkpoint_id = ref.checkpointId;
  if (ref.checkpointMap && Object.keys(ref.checkpointMap).length > 0) out.checkpoint_map = ref.checkpointMap;
  return out;
}

/**
 * A RunnableConfig from a public config object ({configurable, tags, recursion_limit, metadata,
 * run_name, max_concurrency}; camelCase spellings are accepted too). Absent keys stay absent,
 * so they do not override what the graph was compiled with (a bound recursion limit, say).
 */
export function fromPublicConfig(config: JsonObject | undefined): RunnableConfig {
  const source = objectOr(config);
  const out: RunnableConfig = { configurable: { ...objectOr(source.configurable) } };
  if (Array.isArray(source.tags)) out.tags = source.tags.filter((tag): tag is string => typeof tag === "string");
  const recursionLimit = source.recursion_limit ?? source.recursionLimit;
  if (typeof recursionLimit === "number") out.recursionLimit = recursionLimit;
  const maxConcurrency = source.max_concurrency ?? source.maxConcurrency;
  if (typeof maxConcurrency === "number") out.maxConcurrency = maxConcurrency;
  const runName = source.run_name ?? source.runName;
  if (typeof runName === "string") out.runName = runName;
  if (isObject(source.metadata)) out.metadata = { ...source.metadata };
  return out;
}

/** The config of a state read or update: the caller's config addressed to a thread/checkpoint. */
export function stateConfig(
  config: JsonObject | undefined,
  threadId: string,
  checkpoint: CheckpointRef | undefined,
): RunnableConfig {
  const base = fromPublicConfig(config);
  return {
    ...base,
    configurable: { ...base.configurable, thread_id: threadId, checkpoint_ns: "", ...checkpointConfigurable(checkpoint) },
  };
}

function interruptNodes(nodes: readonly string[]): "*" | string[] | undefined {
  if (nodes.length === 0) return undefined;
  return nodes.includes("*") ? "*" : [...nodes];
}

const DURABILITY: Partial<Record<Durability, string>> = {
  [Durability.SYNC]: "sync",
  [Durability.ASYNC]: "async",
  [Durability.EXIT]: "exit",
};

/** The graph's version, for the run's metadata as the reference server records it. */
export interface RunConfigOptions {
  langgraphVersion?: string;
}

/**
 * The RunnableConfig of a run: the spec's config with the run's ids in `configurable` and
 * `metadata`, its context, checkpoint, breakpoints and durability. The run's own id is also
 * the root run id of the graph's stream, so root events can be told from nested ones.
 */
export function buildRunConfig(
  spec: RunSpec,
  ids: RunIds,
  options: RunConfigOptions = {},
): RunnableConfig & Record<string, unknown> {
  const base = fromPublicConfig(spec.config);
  const idKeys = { run_id: ids.runId, thread_id: ids.threadId, graph_id: ids.graphId, assistant_id: ids.assistantId };
  const config: RunnableConfig & Record<string, unknown> = {
    ...base,
    configurable: { ...base.configurable, ...idKeys, ...checkpointConfigurable(spec.checkpoint) },
    metadata: {
      ...base.metadata,
      ...objectOr(spec.metadata),
      ...idKeys,
      langgraph_version: options.langgraphVersion ?? "0.0.0",
      langgraph_plan: "developer",
      langgraph_host: "self-hosted",
    },
    runId: ids.runId,
  };
  if (spec.context !== undefined) config.context = spec.context;
  const before = interruptNodes(spec.interruptBefore);
  if (before) config.interruptBefore = before;
  const after = interruptNodes(spec.interruptAfter);
  if (after) config.interruptAfter = after;
  // Unless the run asks otherwise, a superstep starts only once the checkpoint before it is
  // written (and, through the caller link, the events before that): an attempt that loses its
  // worker then cannot run ahead of what its successor resumes from, so no node that finished
  // runs again. LangGraph's own default, "async", is one request option away.
  config.durability = DURABILITY[spec.durability] ?? "sync";
  return config;
}

const decoder = new TextDecoder();

function parseJson(bytes: Uint8Array, field: string): JsonValue {
  try {
    return JSON.parse(decoder.decode(bytes)) as JsonValue;
  } catch (err) {
    throw invalidArgument(`${field} is not valid JSON: ${(err as Error).message}`, [{ field, description: "invalid JSON" }]);
  }
}

/** A Send's wire form. */
interface SendJson {
  node: string;
  input?: unknown;
}

function toGoto(goto: unknown, langgraph: LanggraphClasses): unknown[] {
  const items = Array.isArray(goto) ? goto : [goto];
  return items.map((item, i) => {
    if (typeof item === "string") return item;
    if (isObject(item) && typeof item.node === "string")
      return new langgraph.Send((item as unknown as SendJson).node, item.input);
    throw invalidArgument("command.goto must be a node name, a Send {node, input}, or a list of them", [
      { field: `command.goto[${i}]`, description: "not a node name or Send" },
    ]);
  });
}

/** The graph input of a run: its JSON input, or the Command built from its JSON command. */
export function runInput(spec: RunSpec, langgraph: LanggraphClasses): unknown {
  if (spec.commandJson.length > 0) {
    const command = parseJson(spec.commandJson, "command");
    if (!isObject(command))
      throw invalidArgument("command must be an object", [{ field: "command", description: "not an object" }]);
    const args: { resume?: unknown; update?: unknown; goto?: unknown } = {};
    if (command.resume !== undefined) args.resume = command.resume;
    if (command.update !== undefined && command.update !== null) args.update = command.update;
    if (command.goto !== undefined && command.goto !== null) args.goto = toGoto(command.goto, langgraph);
    return new langgraph.Command(args);
  }
  return spec.inputJson.length > 0 ? parseJson(spec.inputJson, "input") : null;
}
