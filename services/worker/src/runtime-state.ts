/** The parts of a ThreadState JSON the worker needs to settle a thread. */
export interface SettledState {
  valuesJson: string;
  interruptsJson: string;
  hasNext: boolean;
  interruptList: unknown[];
}

interface ThreadStateJson {
  values?: unknown;
  next?: unknown[];
  tasks?: Array<{ id?: string; interrupts?: unknown[] }>;
}

/** Reads values, pending nodes and interrupts (by task id) out of a ThreadState JSON. */
export function settledFromState(stateJson: string): SettledState {
  const state = JSON.parse(stateJson) as ThreadStateJson;
  const interrupts: Record<string, unknown[]> = {};
  for (const task of state.tasks ?? []) {
    if (task.id && task.interrupts && task.interrupts.length > 0) interrupts[task.id] = task.interrupts;
  }
  return {
    valuesJson: JSON.stringify(state.values ?? {}),
    interruptsJson: JSON.stringify(interrupts),
    hasNext: (state.next ?? []).length > 0,
    interruptList: Object.values(interrupts).flat(),
  };
}

/** Flattens a task id -> interrupts map. */
export function interruptList(interruptsJson: string): unknown[] {
  if (!interruptsJson) return [];
  const parsed = JSON.parse(interruptsJson) as Record<string, unknown[]> | null;
  return parsed ? Object.values(parsed).flat() : [];
}
