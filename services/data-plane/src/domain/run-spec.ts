import { create, fromBinary, type JsonObject, type JsonValue, toBinary } from "@bufbuild/protobuf";
import { NULL_JSON_BYTES, parseJsonBytes } from "@langopen/common";
import { Durability, type RunSpec, RunSpecSchema } from "@langopen/gen/langopen/data/v1/run_pb";

/**
 * A run's config over its assistant's: configurable and metadata merge key by key, tags add up,
 * the run's other keys win.
 */
export function mergeConfig(assistant: JsonObject, run: JsonObject | undefined): JsonObject {
  if (!run) return assistant;
  const merged: JsonObject = { ...assistant, ...run };
  for (const key of ["configurable", "metadata"]) {
    const a = assistant[key];
    const r = run[key];
    if (isObject(a) || isObject(r)) merged[key] = { ...(isObject(a) ? a : {}), ...(isObject(r) ? r : {}) };
  }
  const tags = [assistant.tags, run.tags].flatMap((t) => (Array.isArray(t) ? t : []));
  if (tags.length > 0) merged.tags = [...new Set(tags)];
  return merged;
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The spec as stored for a run: the assistant's config and context merged in. */
export function resolveSpec(spec: RunSpec, assistantId: string, assistant: { config: JsonObject; context: JsonObject }): RunSpec {
  return create(RunSpecSchema, {
    ...spec,
    assistantId,
    config: mergeConfig(assistant.config, spec.config),
    context: { ...assistant.context, ...(spec.context ?? {}) },
    streamModes: spec.streamModes.length > 0 ? spec.streamModes : ["values"],
  });
}

export const encodeSpec = (spec: RunSpec) => toBinary(RunSpecSchema, spec);
export const decodeSpec = (bytes: Uint8Array) => fromBinary(RunSpecSchema, bytes);

const DURABILITY: Record<Durability, string | undefined> = {
  [Durability.UNSPECIFIED]: undefined,
  [Durability.SYNC]: "sync",
  [Durability.ASYNC]: "async",
  [Durability.EXIT]: "exit",
};

/** The public `kwargs` of a run: the stored create body. */
export function specToKwargs(spec: RunSpec): JsonObject {
  return kwargsOf(spec, parseJsonBytes<JsonValue>(spec.inputJson, null), parseJsonBytes<JsonValue>(spec.commandJson, null));
}

const encoder = new TextEncoder();
/** How the JSON of kwargsOf(spec, null, null) starts: its first two keys. */
const KWARGS_HEAD = '{"input":null,"command":null';

/**
 * The JSON of specToKwargs(spec), with the input and the command as stored (JSON bytes) instead of
 * parsed and printed again: they may be megabytes (a run's whole input), the rest is small.
 */
export function specToKwargsJson(spec: RunSpec): Uint8Array {
  const text = JSON.stringify(kwargsOf(spec, null, null));
  if (!text.startsWith(KWARGS_HEAD)) throw new Error("kwargs must start with input and command");
  const parts = [
    encoder.encode('{"input":'),
    spec.inputJson.length > 0 ? spec.inputJson : NULL_JSON_BYTES,
    encoder.encode(',"command":'),
    spec.commandJson.length > 0 ? spec.commandJson : NULL_JSON_BYTES,
    encoder.encode(text.slice(KWARGS_HEAD.length)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function kwargsOf(spec: RunSpec, input: JsonValue, command: JsonValue): JsonObject {
  const kwargs: JsonObject = {
    input,
    command,
    config: spec.config ?? {},
    context: spec.context ?? {},
    stream_mode: spec.streamModes,
    stream_subgraphs: spec.streamSubgraphs,
    stream_resumable: spec.streamResumable,
    interrupt_before: spec.interruptBefore.length === 1 && spec.interruptBefore[0] === "*" ? "*" : spec.interruptBefore,
    interrupt_after: spec.interruptAfter.length === 1 && spec.interruptAfter[0] === "*" ? "*" : spec.interruptAfter,
    webhook: spec.webhook || null,
    feedback_keys: spec.feedbackKeys,
  };
  if (spec.checkpoint) {
    kwargs.checkpoint = {
      thread_id: spec.checkpoint.threadId,
      checkpoint_ns: spec.checkpoint.checkpointNs,
      checkpoint_id: spec.checkpoint.checkpointId,
      checkpoint_map: spec.checkpoint.checkpointMap ?? null,
    };
  }
  const durability = DURABILITY[spec.durability];
  if (durability) kwargs.durability = durability;
  return kwargs;
}
