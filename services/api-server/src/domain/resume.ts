import { failedPrecondition, notFound, Reason } from "@langopen/common";
import type { ThreadForRun } from "@langopen/data-plane";

/*
 * Whether a run created on a thread resumes the interrupt the thread waits on, and with which
 * assistant: the rules of CreateOrResumeRun, decided from the thread as it is under its lock.
 */

/** When a thread counts as waiting on an interrupt (proto InterruptedWhen). */
export type InterruptedWhenName = "status" | "pending";

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The interrupts a thread records (JSON text: task id to its interrupts), as lists. */
function interruptLists(interruptsText: string): unknown[][] {
  let byTask: unknown;
  try {
    byTask = JSON.parse(interruptsText);
  } catch {
    return [];
  }
  return isObject(byTask) ? Object.values(byTask).filter((list): list is unknown[] => Array.isArray(list)) : [];
}

/** The ids of the interrupts a thread records (those that have one). */
export function pendingInterruptIds(interruptsText: string): Set<string> {
  const ids = new Set<string>();
  for (const list of interruptLists(interruptsText)) {
    for (const interrupt of list) if (isObject(interrupt) && typeof interrupt.id === "string") ids.add(interrupt.id);
  }
  return ids;
}

/** Whether a thread waits on an interrupt: by its status, or (`pending`) also by the interrupts it still records. */
export function waitsOnInterrupt(thread: Pick<ThreadForRun, "status" | "interrupts_text">, when: InterruptedWhenName): boolean {
  if (thread.status === "interrupted") return true;
  return when === "pending" && interruptLists(thread.interrupts_text).some((list) => list.length > 0);
}

/** The assistant of a thread: its latest run's, else the assistant_id or graph_id of its metadata. */
export function threadAssistant(thread: ThreadForRun | undefined): string | undefined {
  if (thread === undefined) return undefined;
  if (thread.latest_assistant_id) return thread.latest_assistant_id;
  for (const key of ["assistant_id", "graph_id"]) {
    const value = thread.metadata[key];
    if (typeof value === "string" && value !== "") return value;
  }
  return undefined;
}

/** The first answered interrupt id the thread does not wait on; none when it records no ids (they cannot be checked). */
export function unknownInterrupt(answered: readonly string[], pending: ReadonlySet<string>): string | undefined {
  if (pending.size === 0) return undefined;
  return answered.find((id) => !pending.has(id));
}

/** What a CreateOrResumeRun asks for, as the decision needs it. */
export interface ResumeAsk {
  threadId: string;
  /** A resume command was given: the run may resume. */
  canResume: boolean;
  /** Resume, or refuse. */
  resumeOnly: boolean;
  when: InterruptedWhenName;
  /** The interrupts the resume answers. */
  interruptIds: readonly string[];
  /** The assistant given (an id or a graph id); empty for the thread's. */
  assistant: string;
}

/** Whether the run resumes, and the assistant it runs (as given, or the thread's). */
export interface ResumeDecision {
  resumed: boolean;
  assistant: string;
}

/**
 * Decides from the thread as it is under its lock (undefined: missing), or refuses: a missing
 * thread is NOT_FOUND; resume-only on a thread that waits on no interrupt, no assistant to run,
 * and answers to interrupts the thread does not wait on are FAILED_PRECONDITION, in that order.
 */
export function decideResume(thread: ThreadForRun | undefined, ask: ResumeAsk): ResumeDecision {
  const { threadId } = ask;
  if (thread === undefined) throw notFound("Thread", threadId);
  const resumed = ask.canResume && waitsOnInterrupt(thread, ask.when);
  if (ask.resumeOnly && !resumed) {
    throw failedPrecondition(Reason.ThreadNotInterrupted, `Thread ${threadId} waits on no interrupt`, { thread_id: threadId });
  }
  const assistant = ask.assistant !== "" ? ask.assistant : threadAssistant(thread);
  if (assistant === undefined) {
    throw failedPrecondition(
      Reason.ThreadAssistantUnknown,
      `Thread ${threadId} has no run and no assistant in its metadata: give assistant_id`,
      { thread_id: threadId },
    );
  }
  const unknown = resumed ? unknownInterrupt(ask.interruptIds, pendingInterruptIds(thread.interrupts_text)) : undefined;
  if (unknown !== undefined) {
    throw failedPrecondition(Reason.InterruptNotPending, `No pending interrupt has the id ${JSON.stringify(unknown)}`, {
      thread_id: threadId,
      interrupt_id: unknown,
    });
  }
  return { resumed, assistant };
}
