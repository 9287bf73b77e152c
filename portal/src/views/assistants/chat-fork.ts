// Where a chat forks when a human message is edited or the last answer regenerated: the newest
// checkpoint of the thread's current branch whose messages are exactly the messages before the
// fork (compared by id). The run starts from there, so the old branch stays in the history.
import type { Checkpoint } from "../threads/checkpoints";
import { type ChatMessage, messagesOfValues } from "./chat-messages";

/** Searching the history loaded so far: the checkpoint, "absent" (the branch's first checkpoint has been passed), or "older" (the branch goes on in older pages). */
export type BranchSearch = Checkpoint | "absent" | "older";

/** Reads the thread's history newest first: its newest page, or the page older than the checkpoint `before`. */
export type HistoryReader = (before: string | undefined) => Promise<Checkpoint[]>;

function messageIdsOf(checkpoint: Checkpoint): string[] {
  // A checkpoint from before the first message (the first run's input) has no messages yet.
  return (messagesOfValues(checkpoint.values) ?? []).map((message) => message.id);
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

/**
 * Walks the current branch of `history` (newest first, as GetThreadHistory lists it, every branch
 * mixed): from the newest checkpoint back through its parents, for the first whose messages are `ids`.
 */
export function searchBranch(history: readonly Checkpoint[], ids: readonly string[]): BranchSearch {
  const byId = new Map(history.map((checkpoint) => [checkpoint.checkpointId, checkpoint]));
  let checkpoint = history[0];
  // Bounded by the history's length: a parent link that loops would otherwise never end.
  for (let step = 0; checkpoint !== undefined && step < history.length; step++) {
    if (sameIds(messageIdsOf(checkpoint), ids)) return checkpoint;
    if (checkpoint.parentId === undefined) return "absent";
    const parent = byId.get(checkpoint.parentId);
    if (parent === undefined) return "older";
    checkpoint = parent;
  }
  return "absent";
}

/** How many pages of history a fork may read: a thread longer than that is not searched to its start. */
const MAX_HISTORY_PAGES = 200;

/** The checkpoint to fork from for `ids`, reading older pages of the history only while the branch needs them. */
export async function findForkCheckpoint(ids: readonly string[], read: HistoryReader): Promise<Checkpoint | undefined> {
  const history: Checkpoint[] = [];
  let before: string | undefined;
  for (let pages = 0; pages < MAX_HISTORY_PAGES; pages++) {
    const page = await read(before);
    const oldest = page.at(-1);
    if (oldest === undefined || oldest.checkpointId === before) return undefined;
    history.push(...page);
    const found = searchBranch(history, ids);
    if (found !== "older") return found === "absent" ? undefined : found;
    before = oldest.checkpointId;
  }
  return undefined;
}

/** Editing the human message at `index`: the fork holds the messages before it. */
export function editForkIds(messages: readonly ChatMessage[], index: number): string[] {
  return messages.slice(0, index).map((message) => message.id);
}

export interface RegenerateTarget {
  /** The answer regenerated: the last AI message. */
  answerId: string;
  /** The messages up to and including the human message that prompted it: the fork holds them. */
  forkIds: string[];
}

/** The last AI answer and where regenerating it forks; none without an AI message that a human message comes before. */
export function regenerateTarget(messages: readonly ChatMessage[]): RegenerateTarget | undefined {
  let answer = messages.length - 1;
  while (answer >= 0 && messages[answer]?.role !== "ai") answer--;
  let prompt = answer - 1;
  while (prompt >= 0 && messages[prompt]?.role !== "human") prompt--;
  const answerMessage = messages[answer];
  if (answerMessage === undefined || prompt < 0) return undefined;
  return { answerId: answerMessage.id, forkIds: messages.slice(0, prompt + 1).map((message) => message.id) };
}
