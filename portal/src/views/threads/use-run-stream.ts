// A run on a thread watched live from the data pages: a re-run from a checkpoint
// (CreateAndStreamRun), a resume of an interrupt (CreateOrResumeRun, then StreamRun), or an
// existing run joined from its first event (StreamRun). The events are folded into the graph's
// node progress with the assistants' run-event helpers and handed to React in batches.
import { createConnectQueryKey } from "@connectrpc/connect-query";
import type { Run, RunEvent } from "@langopen/gen/langopen/data/v1/run_pb";
import { RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";
import { CancelAction, RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { decodeJsonLenient, encodeJson } from "../../lib/json";
import { runClient } from "../../rpc";
import { applyProgress, EMPTY_PROGRESS, type Progress, type StreamEvent, settleProgress } from "../assistants/run-events";
import type { RunOutcome, RunPhase } from "../assistants/use-run";

/** StreamRun's last_event_id for "every event from the run's first" (empty would be live only). */
export const FROM_FIRST_EVENT = "-1";
/** What a re-run or a resume streams: the state (values), each node's output, and the tasks that light the graph. */
export const WATCH_MODES = ["values", "updates", "tasks"];

export interface LiveRunState {
  phase: RunPhase;
  outcome?: RunOutcome;
  threadId?: string;
  run?: Run;
  events: StreamEvent[];
  droppedEvents: number;
  progress: Progress;
  lastValues?: unknown;
  error?: unknown;
  startedAt?: number;
  endedAt?: number;
}

/** One message of a watched stream: the run (when it becomes known) or one of its events. */
export type StreamItem = { run: Run } | { event: RunEvent };

/** How to reach a run's stream. */
export interface StreamSource {
  threadId: string;
  /** Known at once when joining an existing run. */
  runId?: string;
  open(signal: AbortSignal): AsyncIterable<StreamItem>;
}

const IDLE: LiveRunState = { phase: "idle", events: [], droppedEvents: 0, progress: EMPTY_PROGRESS };
const MAX_EVENTS_KEPT = 2000;
/** How often buffered events reach React while a run streams: once a frame, so an event is on screen
 * within about one frame of arriving and a token stream re-renders at most once per frame. */
const FLUSH_MS = 16;
const CANCEL_GRACE_MS = 10_000;

interface Live {
  abort: AbortController;
  buffer: StreamEvent[];
  timer?: ReturnType<typeof setTimeout>;
  threadId: string;
  runId?: string;
  cancelled: boolean;
  done: boolean;
}

function withEvents(state: LiveRunState, batch: StreamEvent[]): LiveRunState {
  let { progress, lastValues } = state;
  for (const event of batch) {
    progress = applyProgress(progress, event);
    if (event.event === "values") lastValues = event.data;
  }
  const all = state.events.concat(batch);
  const dropped = Math.max(0, all.length - MAX_EVENTS_KEPT);
  return {
    ...state,
    events: dropped > 0 ? all.slice(dropped) : all,
    droppedEvents: state.droppedEvents + dropped,
    progress,
    lastValues,
  };
}

/** How a run ended, from its final status (and what its events said when the status does not tell). */
export function outcomeOf(status: RunStatus | undefined, cancelled: boolean, progress: Progress): RunOutcome {
  if (cancelled) return "cancelled";
  switch (status) {
    case RunStatus.ERROR:
    case RunStatus.TIMEOUT:
      return "error";
    case RunStatus.INTERRUPTED:
      return "interrupted";
    case RunStatus.SUCCESS:
      return progress.interrupted ? "interrupted" : "success";
    default:
      return progress.failed ? "error" : progress.interrupted ? "interrupted" : "success";
  }
}

export function useRunStream() {
  const [state, setState] = useState<LiveRunState>(IDLE);
  const live = useRef<Live | null>(null);
  const queryClient = useQueryClient();

  // Leaving the page stops watching; the run goes on.
  useEffect(
    () => () => {
      const current = live.current;
      live.current = null;
      if (current?.timer) clearTimeout(current.timer);
      current?.abort.abort();
    },
    [],
  );

  const flush = useCallback((run: Live) => {
    run.timer = undefined;
    if (run.buffer.length === 0 || live.current !== run) return;
    const batch = run.buffer;
    run.buffer = [];
    setState((current) => withEvents(current, batch));
  }, []);

  const refresh = useCallback(() => {
    void queryClient.invalidateQueries({ queryKey: createConnectQueryKey({ schema: ThreadService, cardinality: undefined }) });
    void queryClient.invalidateQueries({ queryKey: createConnectQueryKey({ schema: RunService, cardinality: undefined }) });
  }, [queryClient]);

  const watch = useCallback(
    async (source: StreamSource) => {
      live.current?.abort.abort();
      const run: Live = {
        abort: new AbortController(),
        buffer: [],
        threadId: source.threadId,
        runId: source.runId,
        cancelled: false,
        done: false,
      };
      live.current = run;
      const signal = run.abort.signal;
      setState({ ...IDLE, phase: "starting", threadId: source.threadId, startedAt: Date.now() });
      let seq = 0;
      let finalRun: Run | undefined;
      try {
        for await (const item of source.open(signal)) {
          if (live.current !== run) return;
          if ("run" in item) {
            run.runId = item.run.runId;
            const known = item.run;
            setState((current) => ({
              ...current,
              phase: current.phase === "starting" ? "streaming" : current.phase,
              run: known,
            }));
            // The run exists: the thread is busy now, its lists say so.
            refresh();
          } else {
            const { event } = item;
            if (seq === 0) setState((current) => (current.phase === "starting" ? { ...current, phase: "streaming" } : current));
            run.buffer.push({ seq: seq++, id: event.id, event: event.event, data: decodeJsonLenient(event.dataJson) });
            run.timer ??= setTimeout(() => flush(run), FLUSH_MS);
          }
        }
        if (run.timer) clearTimeout(run.timer);
        flush(run);
        if (run.runId) finalRun = (await runClient.getRun({ threadId: run.threadId, runId: run.runId }, { signal })).run;
        if (live.current !== run) return;
        setState((current) => {
          const outcome = outcomeOf(finalRun?.status, run.cancelled, current.progress);
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
        refresh();
      }
    },
    [flush, refresh],
  );

  const cancel = useCallback(async () => {
    const run = live.current;
    if (run === null || run.cancelled) return;
    run.cancelled = true;
    if (!run.runId) {
      run.abort.abort();
      live.current = null;
      setState((current) => ({ ...current, phase: "ended", outcome: "cancelled", endedAt: Date.now() }));
      return;
    }
    setState((current) => ({ ...current, phase: "cancelling" }));
    try {
      await runClient.cancelRun({ threadId: run.threadId, runId: run.runId, action: CancelAction.INTERRUPT });
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

  /** Stops watching and forgets the run. */
  const reset = useCallback(() => {
    live.current?.abort.abort();
    live.current = null;
    setState(IDLE);
  }, []);

  return { state, watch, cancel, reset };
}

export type RunStreamController = ReturnType<typeof useRunStream>;

// The three ways the data pages reach a run's stream.

/** A new run on the thread from one of its checkpoints, with no input (CreateAndStreamRun). */
export function rerunFromCheckpoint(
  threadId: string,
  assistantId: string,
  checkpoint: { checkpointNs: string; checkpointId: string },
): StreamSource {
  return {
    threadId,
    async *open(signal) {
      const stream = runClient.createAndStreamRun(
        {
          run: {
            threadId,
            spec: {
              assistantId,
              streamModes: WATCH_MODES,
              checkpoint: { threadId, checkpointNs: checkpoint.checkpointNs, checkpointId: checkpoint.checkpointId },
            },
          },
        },
        { signal },
      );
      for await (const message of stream) {
        if (message.kind.case === "run") yield { run: message.kind.value };
        else if (message.kind.case === "event") yield { event: message.kind.value };
      }
    },
  };
}

/** An existing run, every event from its first on (StreamRun), the run itself first. */
export function joinRun(threadId: string, runId: string): StreamSource {
  return {
    threadId,
    runId,
    async *open(signal) {
      const { run } = await runClient.getRun({ threadId, runId }, { signal });
      if (run) yield { run };
      for await (const message of runClient.streamRun({ threadId, runId, lastEventId: FROM_FIRST_EVENT }, { signal })) {
        if (message.event) yield { event: message.event };
      }
    },
  };
}

/**
 * Answers the interrupt(s) the thread waits on with `resume` (the value of a Command's resume:
 * the value itself, or a map of interrupt id to value) and streams the run that resumes it. The
 * thread's own assistant runs it; a thread waiting on nothing is refused, never run afresh.
 */
export function resumeInterrupt(threadId: string, resume: unknown, interruptIds: string[]): StreamSource {
  return {
    threadId,
    async *open(signal) {
      const { run } = await runClient.createOrResumeRun(
        {
          run: { threadId, spec: { streamModes: WATCH_MODES } },
          resumeCommandJson: encodeJson({ resume }),
          resumeOnly: true,
          interruptIds,
        },
        { signal },
      );
      if (!run) throw new Error("CreateOrResumeRun answered no run");
      yield { run };
      for await (const message of runClient.streamRun(
        { threadId, runId: run.runId, lastEventId: FROM_FIRST_EVENT },
        { signal },
      )) {
        if (message.event) yield { event: message.event };
      }
    },
  };
}

export function isLive(phase: RunPhase): boolean {
  return phase === "starting" || phase === "streaming" || phase === "cancelling";
}
