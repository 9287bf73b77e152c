import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { invalidArgument, jsonBytes, jsonText, notFound, textBytes } from "@langopen/common";
import {
  fromStart,
  isEventId,
  type RunStore,
  requireUuid,
  type Signals,
  type ThreadStore,
  type ThreadStreamEvent,
} from "@langopen/data-plane";
import type { RunEventSchema } from "@langopen/gen/langopen/data/v1/run_pb";
import type { StreamThreadRequest, StreamThreadResponseSchema } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { authOf } from "../caller.js";

/*
 * ThreadService.StreamThread: one long-lived stream of every run on a thread, read from the
 * thread's event log (Signals.readThreadEvents), which the workers fill as they append each
 * run's events. Every event carries the id of the entry it comes from in the thread's log, so
 * `Last-Event-ID` resumes strictly after it. The stream stays open until the caller leaves, or
 * ends (without an `end` of its own) when the thread is deleted.
 *
 * Modes (several may be asked for at once; events derived from one log entry share its id):
 *
 * - `run_modes` (the default): every event of every run as the run's own stream carries it
 *   (`metadata` first, then `values`, `updates`, ..., `error`, and `end`), one run after another.
 *   A run's `metadata` event holds its `run_id`; its `end` event is the run-done marker.
 *
 * - `lifecycle`: one `lifecycle` event when a run starts (from its `metadata` event) and one
 *   when it ends (from its `end` event):
 *
 *     event: lifecycle
 *     data: {"run_id": "<uuid>", "thread_id": "<uuid>", "event": "started", "status": "running",
 *            "attempt": 1, "namespace": []}
 *
 *     event: lifecycle
 *     data: {"run_id": "<uuid>", "thread_id": "<uuid>", "event": "completed" | "failed" | "interrupted",
 *            "status": "success" | "error" | "timeout" | "interrupted", "namespace": [],
 *            "error"?: {"error": "<name>", "message": "<text>"}}
 *
 *   `event` uses the words of the SDK's run-stream lifecycle events (completed for success,
 *   failed for error and timeout); `status` is the run's final status; `error` is the run's
 *   `error` event, when it had one. A run retried after losing its worker starts again (with
 *   its next `attempt`); a run cancelled before it started only ends.
 *
 * - `state_update`: the thread's state after each run, as one `values` event when the run
 *   ends. Its data is the values that run left behind (the run's stored result), or the
 *   thread's current values when the run stored none (a failed run, a rolled-back one).
 *
 * The first message of the stream carries no event: it says the thread exists and the stream
 * is reading, so the gateway can still answer 404 with a plain JSON error before it starts SSE.
 */

export const THREAD_STREAM_MODES = ["run_modes", "lifecycle", "state_update"] as const;
export type ThreadStreamMode = (typeof THREAD_STREAM_MODES)[number];

export interface ThreadStreamDeps {
  threads: ThreadStore;
  runs: RunStore;
  signals: Signals;
  /** How long one read of the thread's log waits for news before it checks the thread is still there. */
  pollMs?: number;
}

type ResponseInit = MessageInitShape<typeof StreamThreadResponseSchema>;
type RunEventInit = MessageInitShape<typeof RunEventSchema>;

const LIFECYCLE_EVENT: Record<string, string> = {
  success: "completed",
  error: "failed",
  timeout: "failed",
  interrupted: "interrupted",
};

/** The asked modes, checked; none means `run_modes`. */
export function threadStreamModes(asked: readonly string[]): ThreadStreamMode[] {
  const modes = new Set<ThreadStreamMode>();
  for (const mode of asked) {
    if (!(THREAD_STREAM_MODES as readonly string[]).includes(mode)) {
      throw invalidArgument(`stream_modes must be among ${THREAD_STREAM_MODES.join(", ")}, got ${JSON.stringify(mode)}`, [
        { field: "stream_modes", description: "unknown mode" },
      ]);
    }
    modes.add(mode as ThreadStreamMode);
  }
  return modes.size === 0 ? ["run_modes"] : [...modes];
}

/** The object an event's data holds (metadata, error, end: small events), if it is one. */
function parseObject(data: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(jsonText(data));
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function event(id: string, name: string, data: Uint8Array): RunEventInit {
  return { id, event: name, dataJson: data };
}

export function createStreamThread(deps: ThreadStreamDeps) {
  const { threads, runs, signals } = deps;
  const pollMs = deps.pollMs ?? 5_000;

  /** The values a run left behind: its stored result, else the thread's current values. */
  const stateAfter = async (threadId: string, runId: string): Promise<Uint8Array> => {
    const run = runId ? await runs.get(runId, threadId) : undefined;
    const result = run?.result;
    if (result !== null && typeof result === "object" && !Array.isArray(result)) return jsonBytes(result);
    const thread = await threads.get(threadId);
    return textBytes(thread?.values_text ?? "{}");
  };

  return async function* streamThread(req: StreamThreadRequest, ctx: HandlerContext): AsyncGenerator<ResponseInit> {
    const threadId = requireUuid("thread_id", req.threadId);
    const modes = threadStreamModes(req.streamModes);
    const asked = req.lastEventId.trim();
    if (asked !== "" && !fromStart(asked) && !isEventId(asked)) {
      throw invalidArgument(`Last-Event-ID must be "-" or an event id of this stream, got ${JSON.stringify(asked)}`, [
        { field: "last_event_id", description: "not an event id" },
      ]);
    }
    // A thread the caller may not read is NOT_FOUND, as if absent; once streaming, only its deletion ends the stream.
    if (!(await threads.get(threadId, authOf(ctx)))) throw notFound("Thread", threadId);
    // Absent: only what comes from now on; "-" (or "-1"): everything still kept; else strictly after.
    let cursor = asked === "" ? await signals.threadEventsTail(threadId) : fromStart(asked) ? "-" : asked;
    yield {};

    const errors = new Map<string, unknown>();
    const translate = async (e: ThreadStreamEvent): Promise<RunEventInit[]> => {
      const out: RunEventInit[] = [];
      if (modes.includes("run_modes")) out.push(event(e.id, e.event, e.data));
      if (modes.includes("lifecycle")) {
        if (e.event === "metadata") {
          const meta = parseObject(e.data);
          out.push(
            event(
              e.id,
              "lifecycle",
              jsonBytes({
                run_id: e.runId,
                thread_id: threadId,
                event: "started",
                status: "running",
                attempt: typeof meta?.attempt === "number" ? meta.attempt : 1,
                namespace: [],
              }),
            ),
          );
        } else if (e.event === "error") {
          errors.set(e.runId, parseObject(e.data) ?? jsonText(e.data));
        } else if (e.event === "end") {
          const data = parseObject(e.data);
          const status =
            typeof data?.status === "string" ? data.status : ((await runs.get(e.runId, threadId))?.status ?? "success");
          const error = errors.get(e.runId);
          errors.delete(e.runId);
          out.push(
            event(
              e.id,
              "lifecycle",
              jsonBytes({
                run_id: e.runId,
                thread_id: threadId,
                event: LIFECYCLE_EVENT[status] ?? "completed",
                status,
                namespace: [],
                ...(error === undefined ? {} : { error }),
              }),
            ),
          );
        }
      }
      if (modes.includes("state_update") && e.event === "end") {
        out.push(event(e.id, "values", await stateAfter(threadId, e.runId)));
      }
      return out;
    };

    while (!ctx.signal.aborted) {
      const batch = await signals.readThreadEvents(threadId, cursor, pollMs, ctx.signal);
      for (const e of batch) {
        cursor = e.id;
        for (const out of await translate(e)) yield { event: out };
      }
      if (batch.length === 0 && !ctx.signal.aborted && !(await threads.get(threadId))) return;
    }
  };
}
