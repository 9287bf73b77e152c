import type { Thread } from "@langopen/gen/langopen/data/v1/thread_pb";
import { ThreadStatus } from "@langopen/gen/langopen/data/v1/thread_pb";

export const THREAD_STATUS_NAMES: Record<ThreadStatus, string> = {
  [ThreadStatus.UNSPECIFIED]: "unknown",
  [ThreadStatus.IDLE]: "idle",
  [ThreadStatus.BUSY]: "busy",
  [ThreadStatus.INTERRUPTED]: "interrupted",
  [ThreadStatus.ERROR]: "error",
};

/** The assistant a thread belongs to, from the metadata runs leave on it (assistant_id, else graph_id). */
export function threadAssistant(thread: Thread): string | undefined {
  const metadata = thread.metadata ?? {};
  for (const key of ["assistant_id", "graph_id"]) {
    const value = metadata[key];
    if (typeof value === "string" && value !== "") return value;
  }
  return undefined;
}

/** What to call a thread's assistant in a list: its graph, the readable name runs leave. */
export function threadGraphLabel(thread: Thread): string | undefined {
  const graph = thread.metadata?.graph_id;
  return typeof graph === "string" && graph !== "" ? graph : threadAssistant(thread);
}

/** Where a thread's runs are watched and continued: its assistant's Run tab on that thread. */
export function threadRunLink(thread: Thread): string | undefined {
  const assistant = threadAssistant(thread);
  if (assistant === undefined) return undefined;
  return `/assistants/${encodeURIComponent(assistant)}/run?thread=${encodeURIComponent(thread.threadId)}`;
}
