import type { Json, Namespace } from "./types.js";

/*
 * The state a stream keeps about the run its log is in: the subgraphs announced and not yet
 * ended, the messages being assembled, the interrupts already reported, and whether its
 * terminal lifecycle event went out. One run at a time: a run's `metadata` starts it afresh and
 * its `end` drops it.
 */

export type BlockKind = "text" | "reasoning" | "tool" | "other";

/** One content block of a message being assembled. */
export interface Block {
  index: number;
  kind: BlockKind;
  /** Text, reasoning or tool-call arguments so far. */
  text: string;
  id?: string | null;
  name?: string | null;
  /** A block passed through as it came (images, files, ...). */
  content?: unknown;
}

/** A message being assembled from its chunks. */
export interface MessageState {
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

export interface RunState {
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

export function newRunState(runId: string): RunState {
  return {
    runId,
    namespaces: new Map(),
    messages: new Map(),
    byNode: new Map(),
    interruptIds: new Set(),
    terminal: false,
    legacyMetadata: new Map(),
  };
}
