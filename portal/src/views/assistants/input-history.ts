// The inputs a person sent to a graph from the Run tab, newest first, to send again (Studio's
// arrows above its input). Kept in the tab's sessionStorage, as the key is: inputs may hold data a
// shared machine should not keep after the tab is closed. Bounded in count and size.
import { isJsonObject } from "../../lib/json";

/** Inputs kept per graph. */
export const MAX_INPUTS = 20;
/** The longest input kept (its JSON): a larger one is sent, not remembered. */
export const MAX_INPUT_CHARS = 64 * 1024;

/** What the history needs of sessionStorage (a test passes a Map-backed one). */
export type InputStorage = Pick<Storage, "getItem" | "setItem">;

const keyOf = (graphId: string) => `langopen.portal.inputs.${graphId}`;

/** The graph's inputs, newest first; nothing when the stored list is missing or not one. */
export function inputHistory(storage: InputStorage, graphId: string): unknown[] {
  try {
    const stored: unknown = JSON.parse(storage.getItem(keyOf(graphId)) ?? "[]");
    return Array.isArray(stored) ? stored.slice(0, MAX_INPUTS) : [];
  } catch {
    return [];
  }
}

/**
 * Puts `input` first in the graph's history (moving it there when it was sent before) and
 * returns the new history. No input (null: continuing a thread) and oversized ones are not kept;
 * a full or refused storage leaves the history as it was.
 */
export function rememberInput(storage: InputStorage, graphId: string, input: unknown): unknown[] {
  const history = inputHistory(storage, graphId);
  if (input === null || input === undefined) return history;
  const text = JSON.stringify(input);
  if (text === undefined || text.length > MAX_INPUT_CHARS) return history;
  const next = [input, ...history.filter((earlier) => JSON.stringify(earlier) !== text)].slice(0, MAX_INPUTS);
  try {
    storage.setItem(keyOf(graphId), JSON.stringify(next));
    return next;
  } catch {
    return history;
  }
}

/** A short line naming an input in the history (its first fields), for the arrows' label. */
export function describeInput(input: unknown, max = 60): string {
  const text = isJsonObject(input)
    ? Object.entries(input)
        .map(([key, value]) => `${key}: ${JSON.stringify(value)}`)
        .join(", ")
    : JSON.stringify(input);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
