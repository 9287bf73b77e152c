// What a run's events say about the graph: which nodes run, finished, failed or stopped at an
// interrupt (for highlighting the graph), and a one-line preview of each event (for the list).
// Event names are those of the public SSE stream: `mode`, or `mode|ns1|ns2` from subgraphs,
// where each namespace segment is `node:task_id`.
import { compactPreview, isJsonObject } from "../../lib/json";
import { contentText } from "./chat-messages";

export interface StreamEvent {
  /** Position in this stream, for keys. */
  seq: number;
  /** The event's id (the SSE id). */
  id: string;
  event: string;
  data: unknown;
}

export type NodeStatus = "running" | "done" | "error" | "interrupted";

export interface Progress {
  /** By node id as the graph (xray) names it: `node`, or `subgraph:node` inside a subgraph. */
  nodes: Readonly<Record<string, NodeStatus>>;
  /** Running tasks by task id: several tasks of one node may run at once. */
  running: Readonly<Record<string, string>>;
  /** Whether the stream carried task events (tasks or debug): updates then add nothing. */
  sawTasks: boolean;
  failed: boolean;
  interrupted: boolean;
}

export const EMPTY_PROGRESS: Progress = { nodes: {}, running: {}, sawTasks: false, failed: false, interrupted: false };

export function splitEventName(event: string): { mode: string; namespace: string[] } {
  const [mode = event, ...namespace] = event.split("|");
  return { mode, namespace };
}

/** The graph's id of a node running inside the subgraphs of `namespace`. */
export function nodeIdIn(namespace: string[], node: string): string {
  return [...namespace.map((segment) => segment.split(":")[0] ?? segment), node].join(":");
}

function withNode(progress: Progress, node: string, status: NodeStatus): Progress {
  return progress.nodes[node] === status ? progress : { ...progress, nodes: { ...progress.nodes, [node]: status } };
}

/** A task event (tasks mode, or debug's task/task_result payload) applied. */
function applyTask(progress: Progress, namespace: string[], task: Record<string, unknown>, isResult: boolean): Progress {
  if (typeof task.name !== "string") return progress;
  const node = nodeIdIn(namespace, task.name);
  const taskId = typeof task.id === "string" ? task.id : node;
  let next: Progress = { ...progress, sawTasks: true };
  if (!isResult) {
    next = { ...next, running: { ...next.running, [taskId]: node } };
    return withNode(next, node, "running");
  }
  const { [taskId]: _finished, ...running } = next.running;
  next = { ...next, running };
  const interrupts = task.interrupts;
  let status: NodeStatus = "done";
  if (task.error !== null && task.error !== undefined) status = "error";
  else if (Array.isArray(interrupts) && interrupts.length > 0) status = "interrupted";
  // Another task of the same node still runs: the node stays running.
  if (status === "done" && Object.values(running).includes(node)) return next;
  if (status === "error") next = { ...next, failed: true };
  if (status === "interrupted") next = { ...next, interrupted: true };
  return withNode(next, node, status);
}

/** One event applied to the progress (returns the same object when nothing changed). */
export function applyProgress(progress: Progress, event: { event: string; data: unknown }): Progress {
  const { mode, namespace } = splitEventName(event.event);
  const data = event.data;
  switch (mode) {
    case "metadata":
      return withNode(progress, "__start__", "done");
    case "tasks":
      if (!isJsonObject(data)) return progress;
      return applyTask(progress, namespace, data, "result" in data);
    case "debug":
      if (!isJsonObject(data) || !isJsonObject(data.payload)) return progress;
      if (data.type === "task") return applyTask(progress, namespace, data.payload, false);
      if (data.type === "task_result") return applyTask(progress, namespace, data.payload, true);
      return progress;
    case "updates": {
      if (!isJsonObject(data)) return progress;
      let next = progress;
      if ("__interrupt__" in data) next = { ...next, interrupted: true };
      // Without task events, an update is the only sign that a node ran (and finished).
      if (progress.sawTasks) return next;
      for (const node of Object.keys(data)) if (!node.startsWith("__")) next = withNode(next, nodeIdIn(namespace, node), "done");
      return next;
    }
    case "values":
      return namespace.length === 0 && isJsonObject(data) && "__interrupt__" in data
        ? { ...progress, interrupted: true }
        : progress;
    case "error":
      return namespace.length === 0 ? { ...progress, failed: true } : progress;
    case "end": {
      // The end is reached only by a run that finished: not one that failed, stopped at an
      // interrupt or was cancelled with a node still running.
      const status = isJsonObject(data) ? data.status : undefined;
      const finished = (status === undefined || status === "success") && Object.keys(progress.running).length === 0;
      return namespace.length > 0 || progress.failed || progress.interrupted || !finished
        ? progress
        : withNode(progress, "__end__", "done");
    }
    default:
      return progress;
  }
}

/** The progress after all of `events`. */
export function nodeProgress(events: ReadonlyArray<{ event: string; data: unknown }>): Progress {
  return events.reduce(applyProgress, EMPTY_PROGRESS);
}

/** Once the run has ended: nodes still marked running stopped with it (cancelled, failed, interrupted). */
export function settleProgress(progress: Progress, outcome: "success" | "error" | "interrupted" | "cancelled"): Progress {
  const stopped: NodeStatus = outcome === "error" ? "error" : "interrupted";
  let next: Progress = { ...progress, running: {} };
  for (const [node, status] of Object.entries(progress.nodes)) if (status === "running") next = withNode(next, node, stopped);
  return next;
}

function taskPreview(task: Record<string, unknown>, isResult: boolean): string {
  const name = typeof task.name === "string" ? task.name : "?";
  if (!isResult) return `started ${name}`;
  if (task.error !== null && task.error !== undefined) return `${name} failed: ${compactPreview(task.error, 80)}`;
  if (Array.isArray(task.interrupts) && task.interrupts.length > 0) return `${name} interrupted`;
  return `${name} finished ${compactPreview(task.result, 80)}`;
}

/** One line saying what an event carries. */
export function eventPreview(event: string, data: unknown): string {
  const { mode } = splitEventName(event);
  switch (mode) {
    case "metadata":
      return isJsonObject(data) && typeof data.run_id === "string" ? `run ${data.run_id}` : compactPreview(data);
    case "updates":
      if (isJsonObject(data)) {
        return Object.entries(data)
          .map(([node, update]) => `${node}: ${compactPreview(update, 60)}`)
          .join(", ");
      }
      break;
    case "values":
      if (isJsonObject(data)) {
        return Object.entries(data)
          .map(([key, value]) => (Array.isArray(value) ? `${key} [${value.length}]` : `${key}: ${compactPreview(value, 40)}`))
          .join(", ");
      }
      break;
    case "messages":
      if (Array.isArray(data) && isJsonObject(data[0])) {
        const [message, metadata] = data;
        const node = isJsonObject(metadata) && typeof metadata.langgraph_node === "string" ? `${metadata.langgraph_node}: ` : "";
        const type = typeof message.type === "string" ? message.type : "message";
        return `${node}${type} ${JSON.stringify(contentText(message.content))}`;
      }
      break;
    case "tasks":
      if (isJsonObject(data)) return taskPreview(data, "result" in data);
      break;
    case "debug":
      if (isJsonObject(data)) {
        const step = typeof data.step === "number" ? `step ${data.step} ` : "";
        if (isJsonObject(data.payload) && (data.type === "task" || data.type === "task_result")) {
          return `${step}${taskPreview(data.payload, data.type === "task_result")}`;
        }
        return `${step}${String(data.type ?? "")}`;
      }
      break;
    case "checkpoints":
      if (isJsonObject(data)) {
        const metadata = isJsonObject(data.metadata) ? data.metadata : {};
        const next = Array.isArray(data.next) ? data.next.join(", ") : "";
        return `step ${String(metadata.step ?? "?")}${next ? `, next: ${next}` : ", no next step"}`;
      }
      break;
    case "error":
      if (isJsonObject(data)) return `${String(data.error ?? "Error")}: ${String(data.message ?? "")}`;
      break;
    case "end":
      return "the run ended";
  }
  return compactPreview(data);
}
