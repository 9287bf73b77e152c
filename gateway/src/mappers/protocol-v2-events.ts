/*
 * Protocol v2 events from the thread's log.
 *
 * The api-server's StreamThread gives every event of every run on a thread, in order, as the
 * runs' own streams carry them (`metadata`, `values`, `updates`, `messages` tuples, `custom`,
 * `tasks`, `tools`, `checkpoints`, `error`, `end`, subgraph events named `<mode>|<ns>...`).
 * The translator turns them into v2 events: `lifecycle` for run (and subgraph) starts and ends,
 * `input.requested` for interrupts, content-block `messages` events assembled from the message
 * chunks, and the passthrough channels in their v2 shapes.
 *
 * Sequence numbers: a translator numbers every event it makes, 1, 2, 3, ..., reading the log
 * from its start. The translation depends only on the log, so every connection that reads the
 * same log gives the same event the same `seq` and `event_id`; that is what makes `since`
 * (resume after a seq) and the client's de-duplication across connections work. The numbering
 * holds while the thread's log keeps its start (it is kept for the thread retention after its
 * newest event, up to its length cap).
 */

export type Namespace = string[];

/** A v2 event, as the data of one SSE frame. */
export interface ProtocolEvent {
  type: "event";
  event_id: string;
  seq: number;
  method: string;
  params: { namespace: Namespace; timestamp: number; node?: string; data: unknown };
}

/** One entry of the thread's log: its id ("ms-seq"), the run event's name and its parsed data. */
export interface LogEvent {
  id: string;
  event: string;
  data: unknown;
}

export type AgentStatus = "started" | "running" | "completed" | "failed" | "interrupted";

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/** `values|child:1|inner:2` -> method `values`, namespace `["child:1", "inner:2"]`. */
export function parseEventName(name: string): { method: string; namespace: Namespace } {
  const [method = "", ...namespace] = name.split("|");
  return { method, namespace };
}

const nsKey = (namespace: Namespace) => namespace.join("\u0000");

/** The subgraph's name in a namespace segment (`child:<task id>` -> `child`). */
export const segmentName = (segment: string) => {
  const colon = segment.indexOf(":");
  return colon === -1 ? segment : segment.slice(0, colon);
};

/** The wall-clock milliseconds of a log id (`1712345678901-3`); now for an id of another shape. */
function timestampOf(id: string): number {
  const ms = Number(id.split("-")[0]);
  return Number.isSafeInteger(ms) && ms > 0 ? ms : Date.now();
}

/** A run's final status (from its `end` event) as a lifecycle status. */
export function lifecycleOfRunStatus(status: string | undefined, interrupted: boolean): AgentStatus {
  switch (status) {
    case "error":
    case "timeout":
      return "failed";
    case "interrupted":
      return "interrupted";
    case "pending":
    case "running":
      return "running";
    default:
      return interrupted ? "interrupted" : "completed";
  }
}

// Messages.

type BlockKind = "text" | "reasoning" | "tool" | "other";

interface Block {
  index: number;
  kind: BlockKind;
  /** Text, reasoning or tool-call arguments so far. */
  text: string;
  id?: string | null;
  name?: string | null;
  /** A block passed through as it came (images, files, ...). */
  content?: unknown;
}

interface MessageState {
  key: string;
  id: string;
  namespace: Namespace;
  node?: string;
  blocks: Map<string, Block>;
  /** The block receiving content; blocks never interleave, so switching finishes it. */
  current?: string;
  nextIndex: number;
  /** Whether tool calls came as chunks (then the parsed `tool_calls` of chunks are ignored). */
  toolChunks: boolean;
  /** Text of a legacy `messages/partial` message so far, to find each partial's new text. */
  legacyText: string;
  usage?: unknown;
  reason?: string;
}

interface RunState {
  runId: string;
  /** Open subgraph namespaces, by key. */
  namespaces: Map<string, Namespace>;
  /** Open messages, by namespace and message id. */
  messages: Map<string, MessageState>;
  /** The open message of each namespace and node. */
  byNode: Map<string, string>;
  interruptIds: Set<string>;
  /** A root terminal lifecycle event was sent (for a failed run, at its `error`). */
  terminal: boolean;
  /** `messages/metadata` of the legacy messages mode, by message id. */
  legacyMetadata: Map<string, Json>;
}

const ROLES: Record<string, string> = {
  ai: "ai",
  AIMessageChunk: "ai",
  assistant: "ai",
  human: "human",
  user: "human",
  HumanMessageChunk: "human",
  system: "system",
  SystemMessageChunk: "system",
  tool: "tool",
  ToolMessageChunk: "tool",
};

/** Text of message content given as a string or as content blocks. */
function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part) => (typeof part === "string" ? part : isObject(part) && part.type === "text" ? (str(part.text) ?? "") : ""))
    .join("");
}

/** The ids of the messages in a state (or node update) payload. */
function messageIdsIn(values: unknown): Set<string> {
  const ids = new Set<string>();
  if (!isObject(values)) return ids;
  const messages = values.messages;
  for (const message of Array.isArray(messages) ? messages : [messages]) {
    const id = isObject(message) ? str(message.id) : undefined;
    if (id !== undefined) ids.add(id);
  }
  return ids;
}

/** A finished block as `content-block-finish` carries it. */
function finalBlock(block: Block): unknown {
  switch (block.kind) {
    case "text":
      return { type: "text", text: block.text };
    case "reasoning":
      return { type: "reasoning", reasoning: block.text };
    case "tool": {
      const id = block.id ?? null;
      const name = block.name ?? "";
      if (block.text.trim() === "") return { type: "tool_call", id, name, args: {} };
      try {
        const args: unknown = JSON.parse(block.text);
        if (isObject(args)) return { type: "tool_call", id, name, args };
      } catch {
        // Not JSON: an invalid tool call, below.
      }
      return { type: "invalid_tool_call", id, name, args: block.text, error: "Tool call arguments are not a JSON object" };
    }
    default:
      return block.content;
  }
}

/** The lightweight checkpoint envelope of the `checkpoints` channel, from a full checkpoint record. */
function checkpointEnvelope(data: unknown): unknown {
  if (!isObject(data)) return undefined;
  if (typeof data.id === "string" && ("source" in data || typeof data.step === "number")) return data;
  const checkpoint = isObject(data.checkpoint) ? data.checkpoint : undefined;
  const id = str(checkpoint?.checkpoint_id);
  if (id === undefined) return undefined;
  const metadata = isObject(data.metadata) ? data.metadata : {};
  const parentId = str(isObject(data.parent_checkpoint) ? data.parent_checkpoint.checkpoint_id : undefined);
  return {
    id,
    ...(parentId === undefined ? {} : { parent_id: parentId }),
    step: typeof metadata.step === "number" ? metadata.step : -1,
    source: str(metadata.source) ?? "loop",
  };
}

/** A `tools` stream-mode record (on_tool_start, ...) in the v2 tools shape. */
function toolsData(data: unknown): unknown {
  if (!isObject(data)) return { event: "tool-error", tool_call_id: "", message: "Unexpected tools payload" };
  if (typeof data.event === "string" && data.event.startsWith("tool-")) return data;
  const toolCallId = str(data.toolCallId) ?? str(data.tool_call_id) ?? str(data.id) ?? "";
  switch (data.event) {
    case "on_tool_start":
      return { event: "tool-started", tool_call_id: toolCallId, tool_name: str(data.name) ?? "tool", input: data.input };
    case "on_tool_event":
      return {
        event: "tool-output-delta",
        tool_call_id: toolCallId,
        delta: typeof data.data === "string" ? data.data : JSON.stringify(data.data ?? null),
      };
    case "on_tool_end":
      return { event: "tool-finished", tool_call_id: toolCallId, output: data.output };
    case "on_tool_error": {
      const error = data.error;
      const message = isObject(error) && typeof error.message === "string" ? error.message : String(error ?? "Tool error");
      return { event: "tool-error", tool_call_id: toolCallId, message };
    }
    default:
      return { event: "tool-error", tool_call_id: toolCallId, message: `Unknown tool event: ${String(data.event)}` };
  }
}

/** The error message of a run's `error` event ({error, message}). */
function errorMessageOf(data: unknown): string {
  if (isObject(data) && typeof data.message === "string") return data.message;
  return typeof data === "string" ? data : "Run failed";
}

/**
 * Turns the thread log's run events into numbered v2 events. One translator per connection,
 * fed the log from its start.
 */
export class ProtocolEventTranslator {
  private seq = 0;
  private run: RunState | undefined;
  private out: ProtocolEvent[] = [];
  private timestamp = 0;

  /** The v2 events of one log entry, numbered on from the previous ones. */
  translate(entry: LogEvent): ProtocolEvent[] {
    this.out = [];
    this.timestamp = timestampOf(entry.id);
    const { method, namespace } = parseEventName(entry.event);
    const data = entry.data;
    switch (method) {
      case "metadata":
        this.startRun(data);
        break;
      case "end":
        this.endRun(data);
        break;
      case "error":
        this.failRun(data);
        break;
      case "values":
        this.onValues(namespace, data);
        break;
      case "updates":
        this.onUpdates(namespace, data);
        break;
      case "messages":
        this.onMessageTuple(namespace, data);
        break;
      case "messages/metadata":
        this.onLegacyMetadata(data);
        break;
      case "messages/partial":
        this.onLegacyMessages(namespace, data, false);
        break;
      case "messages/complete":
        this.onLegacyMessages(namespace, data, true);
        break;
      case "custom": {
        this.ensureNamespace(namespace);
        const named = isObject(data) && typeof data.name === "string" && "payload" in data;
        this.emit("custom", namespace, named ? data : { payload: data });
        break;
      }
      case "tasks":
        this.ensureNamespace(namespace);
        this.emit("tasks", namespace, data);
        break;
      case "tools":
        this.ensureNamespace(namespace);
        this.emit("tools", namespace, toolsData(data));
        break;
      case "checkpoints": {
        const envelope = checkpointEnvelope(data);
        if (envelope !== undefined) {
          this.ensureNamespace(namespace);
          this.emit("checkpoints", namespace, envelope);
        }
        break;
      }
      default:
        if (method.startsWith("custom:") && method.length > "custom:".length) {
          this.ensureNamespace(namespace);
          this.emit("custom", namespace, { name: method.slice("custom:".length), payload: data });
        }
      // Other modes (events, debug, feedback, ...) have no v2 channel.
    }
    return this.out;
  }

  private emit(method: string, namespace: Namespace, data: unknown, node?: string): void {
    this.seq += 1;
    this.out.push({
      type: "event",
      event_id: String(this.seq),
      seq: this.seq,
      method,
      params: { namespace, timestamp: this.timestamp, ...(node === undefined ? {} : { node }), data },
    });
  }

  private currentRun(runId?: string): RunState {
    if (this.run === undefined) {
      // A log read from part-way through a run: its events without its start.
      this.run = {
        runId: runId ?? "",
        namespaces: new Map(),
        messages: new Map(),
        byNode: new Map(),
        interruptIds: new Set(),
        terminal: false,
        legacyMetadata: new Map(),
      };
    }
    return this.run;
  }

  // Runs and subgraphs.

  private startRun(data: unknown): void {
    const meta = isObject(data) ? data : {};
    const runId = str(meta.run_id) ?? "";
    // A run whose end never reached the log (or one retried) starts over.
    this.run = undefined;
    this.currentRun(runId);
    this.emit("lifecycle", [], {
      event: "running",
      run_id: runId,
      ...(typeof meta.attempt === "number" ? { attempt: meta.attempt } : {}),
    });
  }

  private failRun(data: unknown): void {
    const run = this.currentRun();
    const message = errorMessageOf(data);
    for (const state of [...run.messages.values()]) this.abortMessage(run, state, message);
    this.closeNamespaces(run, "failed");
    if (!run.terminal) {
      run.terminal = true;
      this.emit("lifecycle", [], { event: "failed", run_id: run.runId, error: message });
    }
  }

  private endRun(data: unknown): void {
    const end = isObject(data) ? data : {};
    const run = this.currentRun(str(end.run_id));
    for (const state of [...run.messages.values()]) this.finishMessage(run, state);
    const status = lifecycleOfRunStatus(str(end.status), run.interruptIds.size > 0);
    this.closeNamespaces(run, status);
    if (!run.terminal) this.emit("lifecycle", [], { event: status, run_id: run.runId || str(end.run_id) || "" });
    this.run = undefined;
  }

  /** Announces (`started`) each subgraph namespace the first time one of its events comes. */
  private ensureNamespace(namespace: Namespace): void {
    if (namespace.length === 0) return;
    const run = this.currentRun();
    for (let length = 1; length <= namespace.length; length++) {
      const prefix = namespace.slice(0, length);
      const key = nsKey(prefix);
      if (run.namespaces.has(key)) continue;
      run.namespaces.set(key, prefix);
      this.emit("lifecycle", prefix, { event: "started", graph_name: segmentName(prefix.at(-1) ?? "") });
    }
  }

  /** Ends open subgraph namespaces under `parent` (all when absent) with a status, deepest first. */
  private closeNamespaces(run: RunState, status: AgentStatus, under?: { parent: Namespace; node: string }): void {
    const closing = [...run.namespaces.values()].filter((ns) => {
      if (under === undefined) return true;
      const { parent, node } = under;
      if (ns.length <= parent.length || !parent.every((segment, i) => ns[i] === segment)) return false;
      return segmentName(ns[parent.length] ?? "") === node;
    });
    closing.sort((a, b) => b.length - a.length);
    for (const ns of closing) {
      run.namespaces.delete(nsKey(ns));
      this.emit("lifecycle", ns, { event: status, graph_name: segmentName(ns.at(-1) ?? "") });
    }
  }

  // State channels.

  private emitInterrupts(namespace: Namespace, value: unknown): void {
    const run = this.currentRun();
    const interrupts = Array.isArray(value) ? value : value === undefined ? [] : [value];
    for (const [i, interrupt] of interrupts.entries()) {
      const record: Json = isObject(interrupt) ? interrupt : { value: interrupt };
      // Interrupts of older LangGraph versions have no id: one is made up, stable for the log.
      const id = str(record.id) ?? str(record.interrupt_id) ?? `${run.runId || "run"}:${nsKey(namespace)}:${i}`;
      if (run.interruptIds.has(id)) continue;
      run.interruptIds.add(id);
      this.emit("input.requested", namespace, { interrupt_id: id, payload: "value" in record ? record.value : undefined });
    }
  }

  private onValues(namespace: Namespace, data: unknown): void {
    this.ensureNamespace(namespace);
    let values = data;
    if (isObject(data) && "__interrupt__" in data) {
      const { __interrupt__: interrupts, ...rest } = data;
      this.emitInterrupts(namespace, interrupts);
      values = rest;
    }
    const run = this.currentRun();
    const ids = messageIdsIn(values);
    for (const state of [...run.messages.values()]) {
      if (nsKey(state.namespace) === nsKey(namespace) && ids.has(state.id)) this.finishMessage(run, state);
    }
    if (isObject(values) && Object.keys(values).length === 0) return;
    this.emit("values", namespace, values);
  }

  private onUpdates(namespace: Namespace, data: unknown): void {
    this.ensureNamespace(namespace);
    if (!isObject(data)) return;
    const run = this.currentRun();
    for (const [node, value] of Object.entries(data)) {
      if (node === "__interrupt__") {
        this.emitInterrupts(namespace, value);
        continue;
      }
      // The node's step is over: so are its messages and its subgraphs.
      const ids = messageIdsIn(value);
      for (const state of [...run.messages.values()]) {
        if (nsKey(state.namespace) === nsKey(namespace) && (state.node === node || ids.has(state.id))) {
          this.finishMessage(run, state);
        }
      }
      this.closeNamespaces(run, "completed", { parent: namespace, node });
      this.emit("updates", namespace, { node, values: isObject(value) ? value : { value } }, node);
    }
  }

  // Messages.

  private openMessage(namespace: Namespace, node: string | undefined, message: Json, metadata: Json): MessageState {
    const run = this.currentRun();
    const id = str(message.id) ?? `message-${this.seq + 1}`;
    const key = `${nsKey(namespace)}\u0001${id}`;
    const open = run.messages.get(key);
    if (open !== undefined) return open;
    // One message at a time per namespace and node: the previous one is complete.
    const nodeKey = `${nsKey(namespace)}\u0001${node ?? ""}`;
    const previous = run.byNode.get(nodeKey);
    const previousState = previous === undefined ? undefined : run.messages.get(previous);
    if (previousState !== undefined) this.finishMessage(run, previousState);
    const state: MessageState = {
      key,
      id,
      namespace,
      node,
      blocks: new Map(),
      nextIndex: 0,
      toolChunks: false,
      legacyText: "",
    };
    run.messages.set(key, state);
    run.byNode.set(nodeKey, key);
    this.ensureNamespace(namespace);
    const role = ROLES[str(message.type) ?? str(message.role) ?? "ai"] ?? "ai";
    const model: Json = {};
    if (typeof metadata.ls_provider === "string") model.provider = metadata.ls_provider;
    if (typeof metadata.ls_model_name === "string") model.model = metadata.ls_model_name;
    if (typeof metadata.ls_model_type === "string") model.model_type = metadata.ls_model_type;
    this.emit(
      "messages",
      namespace,
      {
        event: "message-start",
        role,
        id,
        ...(Object.keys(model).length > 0 ? { metadata: model } : {}),
        ...(role === "tool" && typeof message.tool_call_id === "string" ? { tool_call_id: message.tool_call_id } : {}),
      },
      node,
    );
    return state;
  }

  private openBlock(state: MessageState, key: string, kind: BlockKind, start: unknown, fields: Partial<Block> = {}): Block {
    if (state.current === key) {
      const current = state.blocks.get(key);
      if (current !== undefined) return current;
    }
    this.finishBlock(state);
    const block: Block = { index: state.nextIndex++, kind, text: "", ...fields };
    state.blocks.set(key, block);
    state.current = key;
    this.emit("messages", state.namespace, { event: "content-block-start", index: block.index, content: start }, state.node);
    return block;
  }

  private finishBlock(state: MessageState): void {
    const key = state.current;
    if (key === undefined) return;
    state.current = undefined;
    const block = state.blocks.get(key);
    if (block === undefined) return;
    this.emit(
      "messages",
      state.namespace,
      { event: "content-block-finish", index: block.index, content: finalBlock(block) },
      state.node,
    );
  }

  private appendText(state: MessageState, key: string, kind: "text" | "reasoning", text: string): void {
    if (text === "") return;
    const start = kind === "text" ? { type: "text", text: "" } : { type: "reasoning", reasoning: "" };
    const block = this.openBlock(state, key, kind, start);
    block.text += text;
    const delta = kind === "text" ? { type: "text-delta", text } : { type: "reasoning-delta", reasoning: text };
    this.emit("messages", state.namespace, { event: "content-block-delta", index: block.index, delta }, state.node);
  }

  private appendToolArgs(state: MessageState, key: string, id: unknown, name: unknown, args: string): void {
    const current = state.current === key ? state.blocks.get(key) : undefined;
    const block =
      current ??
      this.openBlock(
        state,
        key,
        "tool",
        { type: "tool_call_chunk", id: str(id) ?? null, name: str(name) ?? null, args: "" },
        { id: str(id) ?? null, name: str(name) ?? null },
      );
    if (typeof id === "string" && id !== "") block.id = id;
    if (typeof name === "string" && name !== "") block.name = name;
    if (args === "") return;
    block.text += args;
    this.emit(
      "messages",
      state.namespace,
      { event: "content-block-delta", index: block.index, delta: { type: "tool-call-delta", args } },
      state.node,
    );
  }

  /** Adds a message chunk's (or a whole message's) content to its message. */
  private applyContent(state: MessageState, message: Json): void {
    const content = message.content;
    if (typeof content === "string") this.appendText(state, "text", "text", content);
    else if (Array.isArray(content)) {
      for (const [i, part] of content.entries()) {
        if (typeof part === "string") {
          this.appendText(state, "text", "text", part);
          continue;
        }
        if (!isObject(part)) continue;
        const slot = typeof part.index === "number" || typeof part.index === "string" ? String(part.index) : String(i);
        switch (part.type) {
          case "text":
          case "text_delta":
            this.appendText(state, `text:${slot}`, "text", str(part.text) ?? "");
            break;
          case "reasoning":
          case "thinking":
            this.appendText(state, `reasoning:${slot}`, "reasoning", str(part.reasoning) ?? str(part.thinking) ?? "");
            break;
          case "tool_use":
          case "input_json_delta":
          case "tool_call_chunk":
          case "tool_call":
            // Tool calls are read from tool_call_chunks / tool_calls.
            break;
          default: {
            const block = this.openBlock(state, `part:${slot}:${state.nextIndex}`, "other", part, { content: part });
            block.content = part;
            this.finishBlock(state);
          }
        }
      }
    }
    const chunks = Array.isArray(message.tool_call_chunks) ? message.tool_call_chunks : [];
    if (chunks.length > 0) state.toolChunks = true;
    for (const [i, chunk] of chunks.entries()) {
      if (!isObject(chunk)) continue;
      const slot = typeof chunk.index === "number" ? String(chunk.index) : (str(chunk.id) ?? String(i));
      this.appendToolArgs(state, `tool:${slot}`, chunk.id, chunk.name, str(chunk.args) ?? "");
    }
    const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
    if (!state.toolChunks) {
      for (const [i, call] of calls.entries()) {
        if (!isObject(call)) continue;
        const key = `call:${str(call.id) ?? String(i)}`;
        if (state.blocks.has(key)) continue;
        this.appendToolArgs(state, key, call.id, call.name, JSON.stringify(isObject(call.args) ? call.args : {}));
        this.finishBlock(state);
      }
    }
    if (message.usage_metadata !== undefined && message.usage_metadata !== null) state.usage = message.usage_metadata;
    const responseMetadata = isObject(message.response_metadata) ? message.response_metadata : {};
    const reason = str(responseMetadata.finish_reason) ?? str(responseMetadata.stop_reason);
    if (reason !== undefined) state.reason = reason;
  }

  private closeMessage(run: RunState, state: MessageState): void {
    run.messages.delete(state.key);
    const nodeKey = `${nsKey(state.namespace)}\u0001${state.node ?? ""}`;
    if (run.byNode.get(nodeKey) === state.key) run.byNode.delete(nodeKey);
  }

  private finishMessage(run: RunState, state: MessageState): void {
    this.finishBlock(state);
    this.closeMessage(run, state);
    this.emit(
      "messages",
      state.namespace,
      {
        event: "message-finish",
        ...(state.reason === undefined ? {} : { reason: state.reason }),
        ...(state.usage === undefined ? {} : { usage: state.usage }),
      },
      state.node,
    );
  }

  private abortMessage(run: RunState, state: MessageState, message: string): void {
    this.closeMessage(run, state);
    this.emit("messages", state.namespace, { event: "error", message }, state.node);
  }

  /** A `messages` tuple of the messages-tuple mode: [message chunk or message, metadata]. */
  private onMessageTuple(namespace: Namespace, data: unknown): void {
    if (!Array.isArray(data)) return;
    const [message, meta] = data;
    if (!isObject(message)) return;
    const metadata = isObject(meta) ? meta : {};
    const state = this.openMessage(namespace, str(metadata.langgraph_node), message, metadata);
    this.applyContent(state, message);
    // Human, system and tool messages come whole; a model's stream says when it is over.
    const role = ROLES[str(message.type) ?? "ai"] ?? "ai";
    if (role !== "ai" || message.chunk_position === "last" || state.reason !== undefined) {
      this.finishMessage(this.currentRun(), state);
    }
  }

  /** `messages/metadata` of the legacy messages mode: kept for the message's start. */
  private onLegacyMetadata(data: unknown): void {
    if (!isObject(data)) return;
    const run = this.currentRun();
    for (const [id, value] of Object.entries(data)) {
      const metadata = isObject(value) && isObject(value.metadata) ? value.metadata : isObject(value) ? value : {};
      run.legacyMetadata.set(id, metadata);
    }
  }

  /**
   * `messages/partial` (the message so far, on every token) and `messages/complete` (whole
   * messages) of the legacy messages mode, as content-block events.
   */
  private onLegacyMessages(namespace: Namespace, data: unknown, complete: boolean): void {
    if (!Array.isArray(data)) return;
    const run = this.currentRun();
    for (const message of data) {
      if (!isObject(message)) continue;
      const metadata = run.legacyMetadata.get(str(message.id) ?? "") ?? {};
      const state = this.openMessage(namespace, str(metadata.langgraph_node), message, metadata);
      const text = textOf(message.content);
      if (text.startsWith(state.legacyText)) {
        this.appendText(state, "text", "text", text.slice(state.legacyText.length));
        state.legacyText = text;
      }
      if (complete) {
        this.applyContent(state, { tool_calls: message.tool_calls, usage_metadata: message.usage_metadata });
        this.finishMessage(run, state);
      }
    }
  }
}

// Filters.

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
