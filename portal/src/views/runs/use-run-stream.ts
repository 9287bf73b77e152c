// A run watched live: its stream read from whatever source starts or joins it (a new run, a
// re-run from a checkpoint, a resume, an existing run), its events folded as they come into the
// graph's node progress and the chat transcript and handed to React in batches, so that token
// streams do not re-render once per token. Cancel asks the server, then gives the stream a grace
// period to end by itself; leaving the page stops watching (the run itself goes on).
import type { DescService, MessageInitShape } from "@bufbuild/protobuf";
import { createConnectQueryKey } from "@connectrpc/connect-query";
import type { Run, RunEvent, RunSpecSchema } from "@langopen/gen/langopen/data/v1/run_pb";
import { RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";
import { CancelAction } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { decodeJsonLenient } from "../../lib/json";
import { runClient } from "../../rpc";
import { applyChatEvent, EMPTY_TRANSCRIPT, type Transcript } from "../assistants/chat-messages";
import { applyProgress, EMPTY_PROGRESS, type Progress, type StreamEvent, settleProgress } from "../assistants/run-events";

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

/** One message of a watched stream: the thread created for the run, the run (when it becomes known) or one of its events. */
export type StreamItem = { thread: string } | { run: Run } | { event: RunEvent };

/** How to reach a run's stream. */
export interface StreamSource {
  /** Absent: the source creates the thread and says so with a `thread` item. */
  threadId?: string;
  /** Known at once when joining an existing run. */
  runId?: string;
  open(signal: AbortSignal): AsyncIterable<StreamItem>;
}

/** A new run on the thread (CreateAndStreamRun) as stream items: the run first, then its events. */
export async function* newRunItems(
  threadId: string | undefined,
  spec: MessageInitShape<typeof RunSpecSchema>,
  signal: AbortSignal,
): AsyncGenerator<StreamItem> {
  for await (const message of runClient.createAndStreamRun({ run: { threadId, spec } }, { signal })) {
    if (message.kind.case === "run") yield { run: message.kind.value };
    else if (message.kind.case === "event") yield { event: message.kind.value };
  }
}

export interface WatchOptions {
  /** The transcript the run's messages add to (a chat's messages so far, and the one just sent). */
  transcript?: Transcript;
  /** Told the id of the thread created for the run. */
  onThread?: (threadId: string) => void;
}

export interface RunStreamOptions {
  /** The services whose cached queries are stale once the run has ended (pass a constant). */
  stale: readonly DescService[];
  /** They are stale as soon as the run is known too (its thread is busy from then on). */
  staleOnStart?: boolean;
}

const IDLE: RunState = { phase: "idle", events: [], droppedEvents: 0, progress: EMPTY_PROGRESS, transcript: EMPTY_TRANSCRIPT };
/** Events kept for the list; progress and transcript are folded from every event regardless. */
const MAX_EVENTS_KEPT = 2000;
/** How often buffered events reach React while a run streams: once a frame, so an event is on screen
 * within about one frame of arriving and a token stream re-renders at most once per frame. */
const FLUSH_MS = 16;
/** How long a cancelled run's stream may take to end before it is dropped. */
const CANCEL_GRACE_MS = 10_000;

interface Live {
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
      // A run that stopped at an interrupt ended well: the thread waits, the run's status says success.
      return progress.interrupted ? "interrupted" : "success";
    default:
      return progress.failed ? "error" : progress.interrupted ? "interrupted" : "success";
  }
}

function ended(outcome: RunOutcome) {
  return (current: RunState): RunState => ({ ...current, phase: "ended", outcome, endedAt: Date.now() });
}

export function useRunStream({ stale, staleOnStart = false }: RunStreamOptions) {
  const [state, setState] = useState<RunState>(IDLE);
  const live = useRef<Live | null>(null);
  const queryClient = useQueryClient();

  // Leaving the page stops watching; the run itself goes on.
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
    for (const schema of stale) {
      void queryClient.invalidateQueries({ queryKey: createConnectQueryKey({ schema, cardinality: undefined }) });
    }
  }, [queryClient, stale]);

  const watch = useCallback(
    async (source: StreamSource, options: WatchOptions = {}) => {
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
      setState({
        ...IDLE,
        phase: "starting",
        threadId: source.threadId,
        transcript: options.transcript ?? EMPTY_TRANSCRIPT,
        startedAt: Date.now(),
      });
      let seq = 0;
      let finalRun: Run | undefined;
      try {
        for await (const item of source.open(signal)) {
          if (live.current !== run) return;
          if ("thread" in item) {
            const threadId = item.thread;
            run.threadId = threadId;
            setState((current) => ({ ...current, threadId }));
            options.onThread?.(threadId);
          } else if ("run" in item) {
            const known = item.run;
            run.runId = known.runId;
            setState((current) => ({
              ...current,
              phase: current.phase === "starting" ? "streaming" : current.phase,
              run: known,
            }));
            if (staleOnStart) refresh();
          } else {
            const { event } = item;
            if (seq === 0) setState((current) => (current.phase === "starting" ? { ...current, phase: "streaming" } : current));
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
        if (run.threadId) refresh();
      }
    },
    [flush, refresh, staleOnStart],
  );

  const cancel = useCallback(async () => {
    const run = live.current;
    if (run === null || run.cancelled) return;
    run.cancelled = true;
    if (!run.runId || !run.threadId) {
      // Not created yet (or its first message is still on the way): stop waiting for it.
      run.abort.abort();
      live.current = null;
      setState(ended("cancelled"));
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
        setState(ended("cancelled"));
      }, CANCEL_GRACE_MS);
    } catch (error) {
      run.cancelled = false;
      if (live.current === run) setState((current) => ({ ...current, phase: "streaming", error }));
    }
  }, []);

  /** Stops watching and forgets the run (its events, its transcript), e.g. when the thread changes. */
  const reset = useCallback(() => {
    live.current?.abort.abort();
    live.current = null;
    setState(IDLE);
  }, []);

  return { state, watch, cancel, reset };
}

export type RunStreamController = ReturnType<typeof useRunStream>;

export function isActive(phase: RunPhase): boolean {
  return phase === "starting" || phase === "streaming" || phase === "cancelling";
}
