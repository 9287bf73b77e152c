import type { RunnableConfig } from "@langchain/core/runnables";
import type { StateSnapshot } from "@langchain/langgraph";
import { errorBody, toPlain } from "./plain-json.js";

/** The public CheckpointConfig. */
export interface CheckpointJson {
  thread_id: string;
  checkpoint_ns: string;
  checkpoint_id: string | null;
  checkpoint_map: Record<string, unknown> | null;
}

export interface InterruptJson {
  id?: string;
  value: unknown;
  [key: string]: unknown;
}

export interface ThreadTaskJson {
  id: string;
  name: string;
  error: string | null;
  interrupts: InterruptJson[];
  checkpoint: CheckpointJson | null;
  state: ThreadStateJson | null;
  result?: unknown;
}

/** The public ThreadState. */
export interface ThreadStateJson {
  values: unknown;
  next: string[];
  tasks: ThreadTaskJson[];
  checkpoint: CheckpointJson | null;
  metadata: Record<string, unknown> | null;
  created_at: string | null;
  parent_checkpoint: CheckpointJson | null;
  interrupts: InterruptJson[];
}

/**
 * The checkpoint address in a config, or null. With `requireId` (a saved checkpoint) a config
 * without checkpoint_id gives null; without it (a subgraph task) the id may be missing.
 */
export function configToCheckpoint(config: RunnableConfig | null | undefined, requireId = true): CheckpointJson | null {
  const configurable = config?.configurable;
  if (!configurable || typeof configurable.thread_id !== "string" || configurable.thread_id === "") return null;
  const id =
    typeof configurable.checkpoint_id === "string" && configurable.checkpoint_id !== "" ? configurable.checkpoint_id : null;
  if (requireId && id === null) return null;
  const map = configurable.checkpoint_map;
  return {
    thread_id: configurable.thread_id,
    checkpoint_ns: typeof configurable.checkpoint_ns === "string" ? configurable.checkpoint_ns : "",
    checkpoint_id: id,
    checkpoint_map: map && typeof map === "object" ? (toPlain(map) as Record<string, unknown>) : null,
  };
}

function isSnapshot(value: unknown): value is StateSnapshot {
  return typeof value === "object" && value !== null && "values" in value && "next" in value;
}

function interruptsOf(value: unknown): InterruptJson[] {
  return Array.isArray(value) ? (toPlain(value) as InterruptJson[]) : [];
}

/** A StateSnapshot as the public ThreadState JSON (plain JSON throughout). */
export function toThreadState(snapshot: StateSnapshot): ThreadStateJson {
  const tasks: ThreadTaskJson[] = snapshot.tasks.map((task) => {
    const out: ThreadTaskJson = {
      id: task.id,
      name: task.name,
      error: task.error != null ? errorBody(task.error).message : null,
      interrupts: interruptsOf(task.interrupts),
      checkpoint: isSnapshot(task.state) ? null : configToCheckpoint(task.state as RunnableConfig | undefined, false),
      state: isSnapshot(task.state) ? toThreadState(task.state) : null,
    };
    if (task.result !== undefined) out.result = toPlain(task.result) ?? null;
    return out;
  });
  const values = toPlain(snapshot.values);
  return {
    values: values === undefined ? {} : values,
    next: [...snapshot.next],
    tasks,
    checkpoint: configToCheckpoint(snapshot.config),
    metadata: snapshot.metadata ? (toPlain(snapshot.metadata) as Record<string, unknown>) : null,
    created_at: snapshot.createdAt ?? null,
    parent_checkpoint: configToCheckpoint(snapshot.parentConfig),
    interrupts: tasks.flatMap((task) => task.interrupts),
  };
}

/** The interrupts waiting on a state, by task id (the Thread's `interrupts`). */
export function interruptsByTask(state: ThreadStateJson): Record<string, InterruptJson[]> {
  const out: Record<string, InterruptJson[]> = {};
  for (const task of state.tasks) if (task.interrupts.length > 0) out[task.id] = task.interrupts;
  return out;
}
