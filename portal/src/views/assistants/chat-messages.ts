// The chat transcript of a messages graph: the thread's `messages` as its values hold them,
// plus the AI messages still streaming token by token (`messages` tuple events), plus the
// human message just sent until the values include it.
import { isJsonObject } from "../../lib/json";

export type ChatRole = "human" | "ai" | "tool" | "system" | "other";

export interface ToolCallView {
  id?: string;
  name: string;
  /** The parsed arguments, or their text while they still stream. */
  args: unknown;
}

export interface ChatMessage {
  id: string;
  role: ChatRole;
  text: string;
  toolCalls: ToolCallView[];
  /** For a tool message: the call it answers. */
  toolCallId?: string;
  name?: string;
}

interface ToolCallChunk {
  index?: number;
  id?: string;
  name: string;
  args: string;
}

/** A message while it streams: its tool calls arrive as argument text. */
interface StreamingMessage extends ChatMessage {
  chunks: ToolCallChunk[];
}

export interface Transcript {
  /** The messages of the latest values. */
  base: ChatMessage[];
  streaming: StreamingMessage[];
  /** The human message sent, shown until the values hold it. */
  pending?: ChatMessage;
}

export const EMPTY_TRANSCRIPT: Transcript = { base: [], streaming: [] };

/** The text of a message content: a string, or the text parts of a list of parts. */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return content === undefined || content === null ? "" : JSON.stringify(content);
  return content
    .map((part) => {
      if (typeof part === "string") return part;
      if (isJsonObject(part) && typeof part.text === "string") return part.text;
      return "";
    })
    .join("");
}

const ROLES: Record<string, ChatRole> = {
  human: "human",
  user: "human",
  HumanMessage: "human",
  HumanMessageChunk: "human",
  ai: "ai",
  assistant: "ai",
  AIMessage: "ai",
  AIMessageChunk: "ai",
  tool: "tool",
  ToolMessage: "tool",
  ToolMessageChunk: "tool",
  system: "system",
  SystemMessage: "system",
};

function toolCallsOf(raw: Record<string, unknown>): ToolCallView[] {
  if (!Array.isArray(raw.tool_calls)) return [];
  return raw.tool_calls.filter(isJsonObject).map((call) => ({
    id: typeof call.id === "string" ? call.id : undefined,
    name: typeof call.name === "string" ? call.name : "tool",
    args: call.args,
  }));
}

function chunksOf(raw: Record<string, unknown>): ToolCallChunk[] {
  if (!Array.isArray(raw.tool_call_chunks)) return [];
  return raw.tool_call_chunks.filter(isJsonObject).map((chunk) => ({
    index: typeof chunk.index === "number" ? chunk.index : undefined,
    id: typeof chunk.id === "string" ? chunk.id : undefined,
    name: typeof chunk.name === "string" ? chunk.name : "",
    args: typeof chunk.args === "string" ? chunk.args : "",
  }));
}

/** A message dict (or LangChain's serialized form) as the transcript shows it. */
export function toChatMessage(raw: unknown, fallbackId: string): ChatMessage | undefined {
  if (!isJsonObject(raw)) return undefined;
  // {lc: 1, type: "constructor", id: [..., "AIMessage"], kwargs: {...}}
  if (raw.lc !== undefined && isJsonObject(raw.kwargs) && Array.isArray(raw.id)) {
    return toChatMessage({ ...raw.kwargs, type: raw.id.at(-1) }, fallbackId);
  }
  const kind = typeof raw.type === "string" ? raw.type : typeof raw.role === "string" ? raw.role : "";
  const message: ChatMessage = {
    id: typeof raw.id === "string" && raw.id !== "" ? raw.id : fallbackId,
    role: ROLES[kind] ?? "other",
    text: contentText(raw.content),
    toolCalls: toolCallsOf(raw),
  };
  if (typeof raw.tool_call_id === "string") message.toolCallId = raw.tool_call_id;
  if (typeof raw.name === "string" && raw.name !== "") message.name = raw.name;
  return message;
}

/** The messages held by a state's values (`values.messages`). */
export function messagesOfValues(values: unknown): ChatMessage[] | undefined {
  if (!isJsonObject(values) || !Array.isArray(values.messages)) return undefined;
  return values.messages.flatMap((raw, i) => toChatMessage(raw, `message-${i}`) ?? []);
}

function argsOfChunks(chunks: ToolCallChunk[]): ToolCallView[] {
  return chunks.map((chunk) => {
    let args: unknown = chunk.args;
    try {
      args = chunk.args === "" ? {} : JSON.parse(chunk.args);
    } catch {
      // Still streaming: the text so far.
    }
    return { id: chunk.id, name: chunk.name || "tool", args };
  });
}

function mergeChunks(into: ToolCallChunk[], chunks: ToolCallChunk[]): ToolCallChunk[] {
  const merged = [...into];
  for (const chunk of chunks) {
    const at = merged.findIndex((known) =>
      chunk.index !== undefined ? known.index === chunk.index : chunk.id !== undefined && known.id === chunk.id,
    );
    const known = merged[at];
    if (known === undefined) merged.push(chunk);
    else merged[at] = { ...known, id: known.id ?? chunk.id, name: known.name || chunk.name, args: known.args + chunk.args };
  }
  return merged;
}

/** One `messages` tuple event ([message chunk, metadata]) added to the streaming messages. */
function addChunk(transcript: Transcript, raw: unknown, fallbackId: string): Transcript {
  if (!isJsonObject(raw)) return transcript;
  const message = toChatMessage(raw, fallbackId);
  if (message === undefined || transcript.base.some((known) => known.id === message.id)) return transcript;
  const chunks = chunksOf(raw);
  const at = transcript.streaming.findIndex((known) => known.id === message.id);
  const known = transcript.streaming[at];
  let next: StreamingMessage;
  if (known === undefined || message.role !== "ai") {
    next = { ...message, chunks, toolCalls: message.toolCalls.length > 0 ? message.toolCalls : argsOfChunks(chunks) };
  } else {
    const merged = mergeChunks(known.chunks, chunks);
    next = {
      ...known,
      text: known.text + message.text,
      chunks: merged,
      toolCalls: merged.length > 0 ? argsOfChunks(merged) : message.toolCalls.length > 0 ? message.toolCalls : known.toolCalls,
    };
  }
  const streaming = [...transcript.streaming];
  if (known === undefined) streaming.push(next);
  else streaming[at] = next;
  return { ...transcript, streaming };
}

/** One run event applied to the transcript; only the root graph's events count. */
export function applyChatEvent(transcript: Transcript, event: { event: string; data: unknown; seq: number }): Transcript {
  if (event.event === "values") {
    const base = messagesOfValues(event.data);
    if (base === undefined) return transcript;
    const ids = new Set(base.map((message) => message.id));
    return { base, streaming: transcript.streaming.filter((message) => !ids.has(message.id)) };
  }
  if (event.event === "messages" && Array.isArray(event.data)) return addChunk(transcript, event.data[0], `chunk-${event.seq}`);
  return transcript;
}

/** The messages to show, in order. */
export function visibleMessages(transcript: Transcript): ChatMessage[] {
  const ids = new Set(transcript.base.map((message) => message.id));
  return [
    ...transcript.base,
    ...(transcript.pending ? [transcript.pending] : []),
    ...transcript.streaming.filter((message) => !ids.has(message.id)),
  ];
}
