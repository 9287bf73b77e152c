import type { EventSequence } from "./ids.js";
import { nsKey } from "./namespaces.js";
import type { Block, BlockKind, MessageState, RunState } from "./run-state.js";
import { isObject, type Json, type Namespace, str } from "./types.js";

/*
 * Messages: the chunks of the messages-tuple mode (and the whole messages of the legacy
 * `messages/partial` and `messages/complete` events) assembled into content-block `messages`
 * events: `message-start`, per block `content-block-start`, its deltas and
 * `content-block-finish`, then `message-finish` (or `error` when the run fails first).
 */

/** What the assembler needs of the translator: the current run, and the announcement of subgraphs. */
export interface MessageScope {
  run(): RunState;
  ensureNamespace(namespace: Namespace): void;
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
export function messageIdsIn(values: unknown): Set<string> {
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

/** Assembles the messages of a stream's runs into `messages` events. */
export class MessageAssembler {
  constructor(
    private readonly events: EventSequence,
    private readonly scope: MessageScope,
  ) {}

  /** A `messages` tuple of the messages-tuple mode: [message chunk or message, metadata]. */
  onTuple(namespace: Namespace, data: unknown): void {
    if (!Array.isArray(data)) return;
    const [message, meta] = data;
    if (!isObject(message)) return;
    const metadata = isObject(meta) ? meta : {};
    const state = this.open(namespace, str(metadata.langgraph_node), message, metadata);
    this.applyContent(state, message);
    // Human, system and tool messages come whole; a model's stream says when it is over.
    const role = ROLES[str(message.type) ?? "ai"] ?? "ai";
    if (role !== "ai" || message.chunk_position === "last" || state.reason !== undefined) {
      this.finish(this.scope.run(), state);
    }
  }

  /** `messages/metadata` of the legacy messages mode: kept for the message's start. */
  onLegacyMetadata(data: unknown): void {
    if (!isObject(data)) return;
    const run = this.scope.run();
    for (const [id, value] of Object.entries(data)) {
      const metadata = isObject(value) && isObject(value.metadata) ? value.metadata : isObject(value) ? value : {};
      run.legacyMetadata.set(id, metadata);
    }
  }

  /**
   * `messages/partial` (the message so far, on every token) and `messages/complete` (whole
   * messages) of the legacy messages mode, as content-block events.
   */
  onLegacy(namespace: Namespace, data: unknown, complete: boolean): void {
    if (!Array.isArray(data)) return;
    const run = this.scope.run();
    for (const message of data) {
      if (!isObject(message)) continue;
      const metadata = run.legacyMetadata.get(str(message.id) ?? "") ?? {};
      const state = this.open(namespace, str(metadata.langgraph_node), message, metadata);
      const text = textOf(message.content);
      if (text.startsWith(state.legacyText)) {
        this.appendText(state, "text", "text", text.slice(state.legacyText.length));
        state.legacyText = text;
      }
      if (complete) {
        this.applyContent(state, { tool_calls: message.tool_calls, usage_metadata: message.usage_metadata });
        this.finish(run, state);
      }
    }
  }

  /** Ends a message: its open block, then `message-finish` with its finish reason and usage. */
  finish(run: RunState, state: MessageState): void {
    this.finishBlock(state);
    this.close(run, state);
    this.events.emit(
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

  /** Cuts a message short with an `error` (its run failed). */
  abort(run: RunState, state: MessageState, message: string): void {
    this.close(run, state);
    this.events.emit("messages", state.namespace, { event: "error", message }, state.node);
  }

  private open(namespace: Namespace, node: string | undefined, message: Json, metadata: Json): MessageState {
    const run = this.scope.run();
    const id = str(message.id) ?? `message-${this.events.next}`;
    const key = `${nsKey(namespace)}\u0001${id}`;
    const open = run.messages.get(key);
    if (open !== undefined) return open;
    // One message at a time per namespace and node: the previous one is complete.
    const nodeKey = `${nsKey(namespace)}\u0001${node ?? ""}`;
    const previous = run.byNode.get(nodeKey);
    const previousState = previous === undefined ? undefined : run.messages.get(previous);
    if (previousState !== undefined) this.finish(run, previousState);
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
    this.scope.ensureNamespace(namespace);
    const role = ROLES[str(message.type) ?? str(message.role) ?? "ai"] ?? "ai";
    const model: Json = {};
    if (typeof metadata.ls_provider === "string") model.provider = metadata.ls_provider;
    if (typeof metadata.ls_model_name === "string") model.model = metadata.ls_model_name;
    if (typeof metadata.ls_model_type === "string") model.model_type = metadata.ls_model_type;
    this.events.emit(
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
    this.events.emit(
      "messages",
      state.namespace,
      { event: "content-block-start", index: block.index, content: start },
      state.node,
    );
    return block;
  }

  private finishBlock(state: MessageState): void {
    const key = state.current;
    if (key === undefined) return;
    state.current = undefined;
    const block = state.blocks.get(key);
    if (block === undefined) return;
    this.events.emit(
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
    this.events.emit("messages", state.namespace, { event: "content-block-delta", index: block.index, delta }, state.node);
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
    this.events.emit(
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

  private close(run: RunState, state: MessageState): void {
    run.messages.delete(state.key);
    const nodeKey = `${nsKey(state.namespace)}\u0001${state.node ?? ""}`;
    if (run.byNode.get(nodeKey) === state.key) run.byNode.delete(nodeKey);
  }
}
