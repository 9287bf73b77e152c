import { randomUUID } from "node:crypto";
import { textBytes } from "@langopen/common";
import type { StreamEventLike } from "../graphs/types.js";
import { isMessage, messageToDict, toPlain } from "./plain-json.js";
import { configToCheckpoint } from "./thread-state.js";

/** An SSE event as the runtime emits it: the event name and its plain-JSON data. */
export interface OutEvent {
  event: string;
  data: unknown;
}

/** LangGraph stream modes passed through under their own name. */
const PASS_THROUGH = new Set(["values", "updates", "custom", "debug", "tasks", "checkpoints", "tools"]);

/** The public stream modes the runtime understands. */
export const KNOWN_MODES = new Set([...PASS_THROUGH, "messages", "messages-tuple", "events"]);

export interface StreamPlan {
  /** The modes asked of LangGraph's stream. */
  libModes: string[];
  /** Whether the run must go through streamEvents (for `events` and legacy `messages`). */
  useEvents: boolean;
}

/**
 * Which LangGraph modes serve the requested public modes. `values` is always streamed: the
 * runtime keeps the last root values for runs without a checkpointer, and legacy `messages`
 * finds completed messages in them.
 */
export function planStream(modes: ReadonlySet<string>): StreamPlan {
  const lib = new Set<string>(["values"]);
  for (const mode of modes) if (PASS_THROUGH.has(mode)) lib.add(mode);
  if (modes.has("messages-tuple")) lib.add("messages");
  return { libModes: [...lib], useEvents: modes.has("events") || modes.has("messages") };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A config as clients may see it: no callbacks, no internal `__`-prefixed configurable keys. */
function publicConfig(config: unknown): unknown {
  if (!isObject(config)) return toPlain(config) ?? null;
  const { callbacks: _callbacks, ...rest } = config;
  const configurable = isObject(rest.configurable)
    ? Object.fromEntries(Object.entries(rest.configurable).filter(([key]) => !key.startsWith("__")))
    : rest.configurable;
  return toPlain({ ...rest, configurable });
}

/** A debug/tasks task record, its subgraph config turned into a checkpoint address. */
function publicTask(task: unknown): unknown {
  if (!isObject(task)) return toPlain(task);
  const { state, ...rest } = task;
  if (isObject(state) && isObject(state.configurable)) {
    return toPlain({ ...rest, checkpoint: configToCheckpoint(state as { configurable: Record<string, unknown> }, false) });
  }
  return toPlain(task);
}

/** A checkpoint record of the `checkpoints`/`debug` modes in the shape clients read. */
function publicCheckpoint(payload: unknown): unknown {
  if (!isObject(payload)) return toPlain(payload);
  const { parentConfig, config, tasks, ...rest } = payload;
  return {
    ...(toPlain(rest) as Record<string, unknown>),
    config: publicConfig(config),
    parent_config: parentConfig === undefined ? null : publicConfig(parentConfig),
    checkpoint: configToCheckpoint(config as never),
    parent_checkpoint: configToCheckpoint(parentConfig as never),
    tasks: Array.isArray(tasks) ? tasks.map(publicTask) : [],
  };
}

function isCheckpointEnvelope(payload: unknown): boolean {
  return (
    isObject(payload) &&
    typeof payload.id === "string" &&
    ("source" in payload || typeof payload.step === "number") &&
    !("values" in payload) &&
    !("config" in payload)
  );
}

function messagesIn(values: unknown): unknown[] {
  if (!isObject(values) || isMessage(values) || !("messages" in values)) return [];
  const messages = values.messages;
  return Array.isArray(messages) ? messages : [messages];
}

interface ChunkMessage {
  id?: string;
  concat?(other: unknown): unknown;
}

export interface StreamTranslatorOptions {
  /** The public modes requested (default ["values"]). */
  modes: ReadonlySet<string>;
  /** Whether subgraph events are forwarded, named `<mode>|<ns1>|<ns2>`. */
  subgraphs: boolean;
  /** The root run id of the graph's stream (events of nested runs carry others). */
  runId: string;
}

/**
 * Turns what LangGraph streams into the public SSE events:
 * - values, updates, custom, debug, tasks, checkpoints (and tools): under the mode's name;
 * - `messages-tuple`: LangGraph's `messages` mode, as `messages` with [message dict, metadata];
 * - legacy `messages`: `messages/metadata` once per message id, `messages/partial` with the
 *   message accumulated so far on every token, `messages/complete` when a message first
 *   appears in the root values;
 * - `events`: every streamEvents v2 record except the root graph's own stream chunks.
 * Subgraph events (with `subgraphs`) are named `<mode>|<ns...>`. Data is plain JSON.
 */
export class StreamTranslator {
  /** The last full root values seen (interrupt-only chunks excluded). */
  lastValues: unknown = undefined;
  private readonly modes: ReadonlySet<string>;
  private readonly subgraphs: boolean;
  private readonly runId: string;
  private readonly partials = new Map<string, ChunkMessage>();
  private readonly completed = new Set<string>();

  constructor(options: StreamTranslatorOptions) {
    this.modes = options.modes;
    this.subgraphs = options.subgraphs;
    this.runId = options.runId;
  }

  /** One chunk of graph.stream: [ns, mode, payload] with subgraphs, [mode, payload] without. */
  fromStreamChunk(chunk: unknown): OutEvent[] {
    if (!Array.isArray(chunk)) return [];
    if (chunk.length === 3) return this.fromChunk((chunk[0] as string[] | null) ?? [], chunk[1] as string, chunk[2]);
    return this.fromChunk([], chunk[0] as string, chunk[1]);
  }

  /** One record of streamEvents v2; the root graph's `on_chain_stream` records carry its chunks. */
  fromEvent(event: StreamEventLike): OutEvent[] {
    if (event.tags?.includes("langsmith:hidden")) return [];
    if (event.event === "on_chain_stream" && event.run_id === this.runId) return this.fromStreamChunk(event.data?.chunk);
    const out: OutEvent[] = [];
    if (this.modes.has("events")) out.push({ event: "events", data: toPlain(event) });
    if (this.modes.has("messages") && event.event === "on_chat_model_stream" && !event.tags?.includes("nostream")) {
      out.push(...this.partial(event));
    }
    return out;
  }

  fromChunk(ns: string[], mode: string, payload: unknown): OutEvent[] {
    const root = ns.length === 0;
    if (!root && !this.subgraphs) return [];
    const name = (event: string) => (root ? event : `${event}|${ns.join("|")}`);
    const out: OutEvent[] = [];
    switch (mode) {
      case "values":
        if (root && !(isObject(payload) && Object.keys(payload).length === 1 && "__interrupt__" in payload))
          this.lastValues = payload;
        if (this.modes.has("values")) out.push({ event: name("values"), data: toPlain(payload) ?? null });
        if (root && this.modes.has("messages")) out.push(...this.complete(payload));
        break;
      case "messages":
        if (this.modes.has("messages-tuple")) out.push({ event: name("messages"), data: toPlain(payload) ?? null });
        break;
      case "checkpoints":
        if (this.modes.has("checkpoints") && !isCheckpointEnvelope(payload))
          out.push({ event: name("checkpoints"), data: publicCheckpoint(payload) });
        break;
      case "tasks":
        if (this.modes.has("tasks")) out.push({ event: name("tasks"), data: publicTask(payload) });
        break;
      case "debug":
        if (this.modes.has("debug")) out.push({ event: name("debug"), data: this.debug(payload) });
        break;
      default:
        if (this.modes.has(mode)) out.push({ event: name(mode), data: toPlain(payload) ?? null });
    }
    return out;
  }

  private debug(payload: unknown): unknown {
    if (!isObject(payload)) return toPlain(payload);
    if (payload.type === "checkpoint") return { ...(toPlain(payload) as object), payload: publicCheckpoint(payload.payload) };
    if (payload.type === "task_result" || payload.type === "task")
      return { ...(toPlain(payload) as object), payload: publicTask(payload.payload) };
    return toPlain(payload);
  }

  private partial(event: StreamEventLike): OutEvent[] {
    const chunk = event.data?.chunk as ChunkMessage | undefined;
    if (!isMessage(chunk) || typeof chunk.id !== "string") return [];
    const out: OutEvent[] = [];
    const previous = this.partials.get(chunk.id);
    let accumulated: ChunkMessage = chunk;
    if (previous === undefined) {
      out.push({ event: "messages/metadata", data: { [chunk.id]: { metadata: toPlain(event.metadata) ?? {} } } });
    } else if (typeof previous.concat === "function") {
      accumulated = previous.concat(chunk) as ChunkMessage;
    }
    this.partials.set(chunk.id, accumulated);
    out.push({ event: "messages/partial", data: [messageToDict(accumulated as never)] });
    return out;
  }

  private complete(values: unknown): OutEvent[] {
    const fresh: unknown[] = [];
    for (const message of messagesIn(values)) {
      if (!isMessage(message) || typeof message.id !== "string" || this.completed.has(message.id)) continue;
      this.completed.add(message.id);
      fresh.push(messageToDict(message));
    }
    return fresh.length > 0 ? [{ event: "messages/complete", data: fresh }] : [];
  }
}

/** Strings at least this long are encoded once per run, however many events carry them. */
const SHARED_STRING_CHARS = 64 * 1024;
/** How many such strings a run's encoder remembers (a run's state seldom holds more big ones at once). */
const SHARED_STRINGS_KEPT = 16;
/** Marks a big string's place in an event's text; the random part keeps user data from forging one. */
const PLACEHOLDER = `\u0000${randomUUID()}:`;
const PLACEHOLDER_IN_JSON = new RegExp(
  `"${JSON.stringify(PLACEHOLDER).slice(1, -1).replaceAll("\\", "\\\\")}(\\d+)\\\\u0000"`,
  "g",
);

/**
 * Encodes a run's event data as JSON bytes. One graph step puts the same state in several
 * events (values, updates, messages, debug's checkpoint and task), so a big message would be
 * escaped and encoded to UTF-8 once per event; here each big string is encoded once per run and
 * its bytes reused wherever it appears again. The bytes are those JSON.stringify would give.
 */
export class EventEncoder {
  private readonly shared = new Map<string, Uint8Array>();

  encode(data: unknown): Uint8Array {
    const big: string[] = [];
    const marked = markBigStrings(data, big);
    if (big.length === 0) return textBytes(JSON.stringify(data) ?? "null");
    const text = JSON.stringify(marked) ?? "null";
    const parts: Uint8Array[] = [];
    let from = 0;
    for (const found of text.matchAll(PLACEHOLDER_IN_JSON)) {
      parts.push(textBytes(text.slice(from, found.index)));
      parts.push(this.quoted(big[Number(found[1])] as string));
      from = found.index + found[0].length;
    }
    parts.push(textBytes(text.slice(from)));
    const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  /** The string as JSON bytes, from the run's memory when it came before (a Map hashes long strings by length: no scan). */
  private quoted(value: string): Uint8Array {
    let bytes = this.shared.get(value);
    if (bytes === undefined) {
      bytes = textBytes(JSON.stringify(value));
      if (this.shared.size >= SHARED_STRINGS_KEPT) this.shared.delete(this.shared.keys().next().value as string);
      this.shared.set(value, bytes);
    }
    return bytes;
  }
}

/** The value with each big string replaced by its placeholder (copying only what holds one); the strings go to `big`. */
function markBigStrings(value: unknown, big: string[]): unknown {
  if (typeof value === "string") {
    if (value.length < SHARED_STRING_CHARS) return value;
    big.push(value);
    return `${PLACEHOLDER}${big.length - 1}\u0000`;
  }
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const marked = markBigStrings(item, big);
      if (marked !== item) {
        copy ??= [...value];
        copy[i] = marked;
      }
    });
    return copy ?? value;
  }
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const marked = markBigStrings(item, big);
    if (marked !== item) {
      copy ??= { ...value };
      // Defined, not assigned: a key named __proto__ stays a key.
      Object.defineProperty(copy, key, { value: marked, enumerable: true, writable: true, configurable: true });
    }
  }
  return copy ?? value;
}
