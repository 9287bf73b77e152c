// A run started from the portal and watched live: create the thread when asked, then
// CreateAndStreamRun (its first message is the run, every later one an event). Events are
// folded as they come into the graph's node progress and the chat transcript, and handed to
// React in batches so that token streams do not re-render once per token.
import { createConnectQueryKey } from "@connectrpc/connect-query";
import type { Run } from "@langopen/gen/langopen/data/v1/run_pb";
import { RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";
import { CancelAction } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { decodeJsonLenient, encodeJson } from "../../lib/json";
import { runClient, threadClient } from "../../rpc";
import { applyChatEvent, EMPTY_TRANSCRIPT, type Transcript } from "./chat-messages";
import { applyProgress, EMPTY_PROGRESS, type Progress, type StreamEvent, settleProgress } from "./run-events";

export interface RunRequest {
  /** Absent: a new thread is created for the run. */
  threadId?: string;
  input?: unknown;
  /** A Command ({resume, update, goto}) instead of, or beside, the input. */
  command?: unknown;
  streamModes: string[];
  streamSubgraphs: boolean;
  interruptBefore: string[];
  interruptAfter: string[];
}

export type RunPhase = "idle" | "starting" | "streaming" | "cancelling" | "ended";
export type RunOutcome = "success" | "error" | "interrupted" | "cancelled";

export interface RunState {
  phase: RunPhase;
  outcome?: RunOutcome;
  threadId?: string;
  run?: Run;
  /** The latest events (the oldest are dropped past MAX_EVENTS_KEPT). */
  events: StreamEvent[];
  droppedEvents: number;
  progress: Progress;
  transcript: Transcript;
  /** The root graph's latest values event. */
  lastValues?: unknown;
  /** A call that failed (creating the thread or the run, the stream itself, the cancel). */
  error?: unknown;
  startedAt?: number;
  endedAt?: number;
}

export interface StartOptions {
  /** The transcript the run's messages add to (a chat's messages so far, and the one just sent). */
  transcript?: Transcript;
  /** Told the id of the thread created for the run. */
  onThread?: (threadId: string) => void;
}

const IDLE: RunState = { phase: "idle", events: [], droppedEvents: 0, progress: EMPTY_PROGRESS, transcript: EMPTY_TRANSCRIPT };
/** Events kept for the list; progress and transcript are folded from every event regardless. */
const MAX_EVENTS_KEPT = 2000;
/** How often buffered events reach React while a run streams: once a frame, so an event is on screen
 * within about one frame of arriving and a token stream re-renders at most once per frame. */
const FLUSH_MS = 16;
/** How long a cancelled run's stream may take to end before it is dropped. */
const CANCEL_GRACE_MS = 10_000;

interface LiveRun {
  abort: AbortController;
  buffer: StreamEvent[];
  timer?: ReturnType<typeof setTimeout>;
  threadId?: string;
  runId?: string;
  cancelled: boolean;
  /** The stream is over (ended, failed or dropped). */
  done: boolean;
}

function withEvents(state: RunState, batch: StreamEvent[]): RunState {
  let { progress, transcript, lastValues } = state;
  for (const event of batch) {
    progress = applyProgress(progress, event);
    transcript = applyChatEvent(transcript, event);
    if (event.event === "values") lastValues = event.data;
  }
  const all = state.events.concat(batch);
  const dropped = Math.max(0, all.length - MAX_EVENTS_KEPT);
  return {
    ...state,
    events: dropped > 0 ? all.slice(dropped) : all,
    droppedEvents: state.droppedEvents + dropped,
    progress,
    transcript,
    lastValues,
  };
}

function outcomeOf(status: RunStatus | undefined, live: LiveRun, progress: Progress): RunOutcome {
  if (live.cancelled) return "cancelled";
  switch (status) {
    case RunStatus.ERROR:
    case RunStatus.TIMEOUT:
      return "error";
    case RunStatus.INTERRUPTED:
      return "interrupted";
    case RunStatus.SUCCESS:
      // A run that stopped at an interrupt ended well: the thread waits, the run's status says success.
      return progress.interrupted ? "interrupted" : "success";
    default:
      return progress.failed ? "error" : progress.interrupted ? "interrupted" : "success";
  }
}

export function useRun(assistantId: string, graphId: string) {
  const [state, setState] = useState<RunState>(IDLE);
  const live = useRef<LiveRun | null>(null);
  const queryClient = useQueryClient();

  // Leaving the page stops watching; the run itself goes on (the Threads page still has it).
  useEffect(
    () => () => {
      const current = live.current;
      live.current = null;
      if (current?.timer) clearTimeout(current.timer);
      current?.abort.abort();
    },
    [],
  );

  const flush = useCallback((run: LiveRun) => {
    run.timer = undefined;
    if (run.buffer.length === 0 || live.current !== run) return;
    const batch = run.buffer;
    run.buffer = [];
    setState((current) => withEvents(current, batch));
  }, []);

  const start = useCallback(
    async (request: RunRequest, options: StartOptions = {}) => {
      live.current?.abort.abort();
      const run: LiveRun = {
        abort: new AbortController(),
        buffer: [],
        threadId: request.threadId,
        cancelled: false,
        done: false,
      };
      live.current = run;
      const signal = run.abort.signal;
      setState({
        ...IDLE,
        phase: "starting",
        threadId: request.threadId,
        transcript: options.transcript ?? EMPTY_TRANSCRIPT,
        startedAt: Date.now(),
      });
      let seq = 0;
      let finalRun: Run | undefined;
      try {
        if (request.threadId === undefined) {
          const { thread } = await threadClient.createThread(
            { metadata: { graph_id: graphId, assistant_id: assistantId } },
            { signal },
          );
          if (thread === undefined) throw new Error("CreateThread answered no thread");
          run.threadId = thread.threadId;
          setState((current) => ({ ...current, threadId: thread.threadId }));
          options.onThread?.(thread.threadId);
        }
        const stream = runClient.createAndStreamRun(
          {
            run: {
              threadId: run.threadId,
              spec: {
                assistantId,
                inputJson: encodeJson(request.input),
                commandJson: encodeJson(request.command),
                streamModes: request.streamModes,
                streamSubgraphs: request.streamSubgraphs,
                interruptBefore: request.interruptBefore,
                interruptAfter: request.interruptAfter,
              },
            },
          },
          { signal },
        );
        for await (const message of stream) {
          if (live.current !== run) return;
          if (message.kind.case === "run") {
            const created = message.kind.value;
            run.runId = created.runId;
            setState((current) => ({
              ...current,
              phase: current.phase === "starting" ? "streaming" : current.phase,
              run: created,
            }));
          } else if (message.kind.case === "event") {
            const event = message.kind.value;
            run.buffer.push({ seq: seq++, id: event.id, event: event.event, data: decodeJsonLenient(event.dataJson) });
            run.timer ??= setTimeout(() => flush(run), FLUSH_MS);
          }
        }
        if (run.timer) clearTimeout(run.timer);
        flush(run);
        if (run.runId && run.threadId) {
          // The stream says the run ended, not how: its status does.
          finalRun = (await runClient.getRun({ threadId: run.threadId, runId: run.runId }, { signal })).run;
        }
        if (live.current !== run) return;
        setState((current) => {
          const outcome = outcomeOf(finalRun?.status, run, current.progress);
          return {
            ...current,
            phase: "ended",
            outcome,
            run: finalRun ?? current.run,
            progress: settleProgress(current.progress, outcome),
            endedAt: Date.now(),
          };
        });
      } catch (error) {
        if (run.timer) clearTimeout(run.timer);
        flush(run);
        if (signal.aborted || live.current !== run) return;
        setState((current) => {
          const outcome = run.cancelled ? "cancelled" : "error";
          return {
            ...current,
            phase: "ended",
            outcome,
            error,
            progress: settleProgress(current.progress, outcome),
            endedAt: Date.now(),
          };
        });
      } finally {
        run.done = true;
        if (run.threadId) {
          void queryClient.invalidateQueries({
            queryKey: createConnectQueryKey({ schema: ThreadService, cardinality: undefined }),
          });
        }
      }
    },
    [assistantId, graphId, flush, queryClient],
  );

  const cancel = useCallback(async () => {
    const run = live.current;
    if (run === null || run.cancelled) return;
    run.cancelled = true;
    if (!run.runId || !run.threadId) {
      // Not created yet (or its first message is still on the way): stop waiting for it.
      run.abort.abort();
      live.current = null;
      setState((current) => ({ ...current, phase: "ended", outcome: "cancelled", endedAt: Date.now() }));
      return;
    }
    setState((current) => ({ ...current, phase: "cancelling" }));
    try {
      await runClient.cancelRun({ threadId: run.threadId, runId: run.runId, action: CancelAction.INTERRUPT });
      // The stream ends by itself once the run has stopped; this only guards against it never doing so.
      setTimeout(() => {
        if (live.current !== run || run.done) return;
        run.abort.abort();
        live.current = null;
        setState((current) => ({ ...current, phase: "ended", outcome: "cancelled", endedAt: Date.now() }));
      }, CANCEL_GRACE_MS);
    } catch (error) {
      run.cancelled = false;
      if (live.current === run) setState((current) => ({ ...current, phase: "streaming", error }));
    }
  }, []);

  /** Forgets the last run (its events, its transcript), e.g. when the thread changes. */
  const reset = useCallback(() => {
    live.current?.abort.abort();
    live.current = null;
    setState(IDLE);
  }, []);

  return { state, start, cancel, reset };
}

export type RunController = ReturnType<typeof useRun>;

export function isActive(phase: RunPhase): boolean {
  return phase === "starting" || phase === "streaming" || phase === "cancelling";
}
