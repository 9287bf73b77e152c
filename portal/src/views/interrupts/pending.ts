// The interrupts a thread waits on, from its interrupts_json (task id -> the interrupts raised by
// that task, each {id?, value, ...}), and the resume that answers one of them.
import { isJsonObject } from "../../lib/json";

export interface PendingInterrupt {
  taskId: string;
  /** The interrupt's id, when the graph's version records one. */
  id?: string;
  value: unknown;
  /** The whole record, as stored (when/resumable/ns in older versions). */
  raw: unknown;
}

/** The pending interrupts, task by task, in the order stored. */
export function pendingInterrupts(interrupts: unknown): PendingInterrupt[] {
  if (!isJsonObject(interrupts)) return [];
  const pending: PendingInterrupt[] = [];
  for (const [taskId, list] of Object.entries(interrupts)) {
    for (const raw of Array.isArray(list) ? list : [list]) {
      if (isJsonObject(raw)) {
        pending.push({
          taskId,
          id: typeof raw.id === "string" ? raw.id : undefined,
          value: "value" in raw ? raw.value : raw,
          raw,
        });
      } else pending.push({ taskId, value: raw, raw });
    }
  }
  return pending;
}

/**
 * The Command's resume that answers `chosen` with `value`, and the interrupt ids it answers: the
 * value itself when the thread waits on that interrupt alone, else a map from the interrupt's
 * id to the value (the others stay pending).
 */
export function resumeFor(
  pending: PendingInterrupt[],
  chosen: PendingInterrupt,
  value: unknown,
): { resume: unknown; interruptIds: string[] } {
  if (chosen.id === undefined) return { resume: value, interruptIds: [] };
  if (pending.length <= 1) return { resume: value, interruptIds: [chosen.id] };
  return { resume: { [chosen.id]: value }, interruptIds: [chosen.id] };
}
