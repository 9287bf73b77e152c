// What changed between two states of a thread: the top-level keys (channels) added, removed or
// changed, with their values. Lists that only grew (what reducers such as messages do) are told
// as the items appended, not as a whole new list.
import { isJsonObject } from "../../lib/json";

export type StateChange =
  | { kind: "added"; key: string; value: unknown }
  | { kind: "removed"; key: string; value: unknown }
  | { kind: "appended"; key: string; items: unknown[] }
  | { kind: "changed"; key: string; before: unknown; after: unknown };

/** Whether two JSON values are equal (objects compared by keys, in any order). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => jsonEqual(item, b[i]));
  }
  const aKeys = Object.keys(a);
  const bRecord = b as Record<string, unknown>;
  if (aKeys.length !== Object.keys(bRecord).length) return false;
  return aKeys.every((key) => key in bRecord && jsonEqual((a as Record<string, unknown>)[key], bRecord[key]));
}

/** The change of one key whose value differs (undefined when it does not). */
function changeOf(key: string, before: unknown, after: unknown): StateChange | undefined {
  if (jsonEqual(before, after)) return undefined;
  if (Array.isArray(before) && Array.isArray(after) && after.length > before.length) {
    const grew = before.every((item, i) => jsonEqual(item, after[i]));
    if (grew) return { kind: "appended", key, items: after.slice(before.length) };
  }
  return { kind: "changed", key, before, after };
}

/**
 * The changes from `before` to `after`, in the order of `after`'s keys, then the removed ones.
 * Values that are not objects are compared whole (key "").
 */
export function diffState(before: unknown, after: unknown): StateChange[] {
  if (before === undefined && after === undefined) return [];
  if (!isJsonObject(before) || !isJsonObject(after)) {
    // No state before (the first checkpoint): every key of the new one is added.
    if ((before === undefined || before === null) && isJsonObject(after)) return diffState({}, after);
    const whole = changeOf("", before, after);
    return whole ? [whole] : [];
  }
  const changes: StateChange[] = [];
  for (const [key, value] of Object.entries(after)) {
    if (!(key in before)) changes.push({ kind: "added", key, value });
    else {
      const change = changeOf(key, before[key], value);
      if (change) changes.push(change);
    }
  }
  for (const [key, value] of Object.entries(before)) if (!(key in after)) changes.push({ kind: "removed", key, value });
  return changes;
}

/**
 * The keys of `edited` that differ from `original`, with their edited values: what a state
 * update sends so that the channels left alone are not written again (a reducer would apply
 * them a second time). Keys removed in the editor cannot be sent: they are listed apart.
 */
export function editedKeys(original: unknown, edited: unknown): { update: Record<string, unknown>; removed: string[] } {
  const update: Record<string, unknown> = {};
  const removed: string[] = [];
  if (!isJsonObject(edited)) return { update, removed };
  const base = isJsonObject(original) ? original : {};
  for (const [key, value] of Object.entries(edited)) if (!jsonEqual(base[key], value) || !(key in base)) update[key] = value;
  for (const key of Object.keys(base)) if (!(key in edited)) removed.push(key);
  return { update, removed };
}
