// A thread's history as the timeline shows it: each checkpoint (a ThreadState JSON, as
// GetThreadHistory answers them) with what wrote it. The nodes that wrote a checkpoint are its
// parent's tasks (they ran from the parent and their results made this one), or the writes its
// metadata records when the graph's version records them.
import { isJsonObject } from "../../lib/json";

export interface CheckpointTask {
  id: string;
  name: string;
  error?: unknown;
  interrupts: unknown[];
  /** Present once the task has finished (history includes results). */
  result?: unknown;
}

export interface Checkpoint {
  checkpointId: string;
  checkpointNs: string;
  parentId?: string;
  step?: number;
  /** input, loop, update or fork. */
  source?: string;
  values: unknown;
  next: string[];
  tasks: CheckpointTask[];
  metadata: Record<string, unknown>;
  createdAt?: string;
  interrupts: unknown[];
}

const strings = (list: unknown): string[] =>
  Array.isArray(list) ? list.filter((item): item is string => typeof item === "string") : [];

/** One ThreadState JSON as a checkpoint; undefined when it has no checkpoint id. */
export function toCheckpoint(state: unknown): Checkpoint | undefined {
  if (!isJsonObject(state) || !isJsonObject(state.checkpoint)) return undefined;
  const { checkpoint } = state;
  if (typeof checkpoint.checkpoint_id !== "string") return undefined;
  const metadata = isJsonObject(state.metadata) ? state.metadata : {};
  const parent = isJsonObject(state.parent_checkpoint) ? state.parent_checkpoint : undefined;
  const tasks: CheckpointTask[] = [];
  if (Array.isArray(state.tasks)) {
    for (const task of state.tasks) {
      if (!isJsonObject(task) || typeof task.name !== "string") continue;
      tasks.push({
        id: typeof task.id === "string" ? task.id : task.name,
        name: task.name,
        error: task.error ?? undefined,
        interrupts: Array.isArray(task.interrupts) ? task.interrupts : [],
        ...("result" in task ? { result: task.result } : {}),
      });
    }
  }
  return {
    checkpointId: checkpoint.checkpoint_id,
    checkpointNs: typeof checkpoint.checkpoint_ns === "string" ? checkpoint.checkpoint_ns : "",
    parentId: parent && typeof parent.checkpoint_id === "string" ? parent.checkpoint_id : undefined,
    step: typeof metadata.step === "number" ? metadata.step : undefined,
    source: typeof metadata.source === "string" ? metadata.source : undefined,
    values: state.values,
    next: strings(state.next),
    tasks,
    metadata,
    createdAt: typeof state.created_at === "string" ? state.created_at : undefined,
    interrupts: Array.isArray(state.interrupts) ? state.interrupts : [],
  };
}

export interface Writers {
  /** What made the checkpoint: the graph's input, its nodes (loop), a state update, or a fork. */
  kind: "input" | "nodes" | "update" | "fork" | "unknown";
  /** The nodes that wrote it, when known. */
  nodes: string[];
}

/**
 * What wrote `checkpoint`, given its parent when that is known. A state update's node is not
 * recorded by every graph version: it is then only known to be an update.
 */
export function writersOf(checkpoint: Checkpoint, parent: Checkpoint | undefined): Writers {
  const recorded = checkpoint.metadata.writes;
  const written = isJsonObject(recorded) ? Object.keys(recorded) : [];
  switch (checkpoint.source) {
    case "input":
      return { kind: "input", nodes: written };
    case "update":
      return { kind: "update", nodes: written };
    case "fork":
      return { kind: "fork", nodes: written };
    default: {
      if (written.length > 0) return { kind: "nodes", nodes: written };
      if (parent === undefined) return { kind: checkpoint.source === "loop" ? "nodes" : "unknown", nodes: [] };
      // The parent's tasks that finished made this checkpoint; without results (older servers), all of them.
      const finished = parent.tasks.filter((task) => "result" in task);
      const names = (finished.length > 0 ? finished : parent.tasks).map((task) => task.name);
      return { kind: "nodes", nodes: [...new Set(names)] };
    }
  }
}

/** A checkpoint's address for the RPCs' CheckpointRef. */
export function checkpointRef(threadId: string, checkpoint: Pick<Checkpoint, "checkpointId" | "checkpointNs">) {
  return { threadId, checkpointNs: checkpoint.checkpointNs, checkpointId: checkpoint.checkpointId };
}
