// StreamLogs watched live: lines are buffered and handed to React in batches, the oldest dropped
// past a bound. A build's log stream ends when its build ends, and also at once when the build
// has not started yet: while the revision still waits for or runs its build, the stream is opened
// again (its lines come from the start each time: those already shown are skipped).
import { LogKind } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { useEffect, useState } from "react";
import { isCancellation } from "../../lib/errors";
import { deploymentClient } from "./clients";
import { revisionBuilding } from "./format";

export type LogPhase = "connecting" | "streaming" | "waiting" | "ended" | "error";

export interface LogState {
  lines: string[];
  /** Lines dropped from the start to stay within MAX_LINES. */
  dropped: number;
  phase: LogPhase;
  error?: unknown;
}

export interface LogRequest {
  deployment: string;
  kind: LogKind;
  /** Build logs: the revision (empty: the latest). */
  revisionId: string;
  follow: boolean;
}

const MAX_LINES = 10_000;
const FLUSH_MS = 100;
/** Pause before looking again at a build that has not written its log yet. */
const RETRY_MS = 1_000;

const START: LogState = { lines: [], dropped: 0, phase: "connecting" };

function append(state: LogState, batch: string[]): LogState {
  const all = state.lines.concat(batch);
  const drop = Math.max(0, all.length - MAX_LINES);
  return { ...state, lines: drop > 0 ? all.slice(drop) : all, dropped: state.dropped + drop };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/** The log asked for; `generation` changing (a "Reconnect") opens it again. */
export function useLogStream(request: LogRequest, generation: number): LogState {
  const [state, setState] = useState<LogState>(START);
  const { deployment, kind, revisionId, follow } = request;

  // biome-ignore lint/correctness/useExhaustiveDependencies: generation reopens the stream on request
  useEffect(() => {
    const abort = new AbortController();
    const { signal } = abort;
    let buffer: string[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = () => {
      clearTimeout(timer);
      timer = undefined;
      if (buffer.length === 0 || signal.aborted) return;
      const batch = buffer;
      buffer = [];
      setState((current) => append(current, batch));
    };
    const setPhase = (phase: LogPhase, error?: unknown) => {
      flush();
      if (!signal.aborted) setState((current) => (current.phase === phase && !error ? current : { ...current, phase, error }));
    };
    setState(START);

    void (async () => {
      /** Lines shown so far: a stream opened again starts over, and skips these. */
      let shown = 0;
      for (;;) {
        let seen = 0;
        try {
          for await (const response of deploymentClient.streamLogs({ deployment, kind, revisionId, follow }, { signal })) {
            if (seen === 0 && response.lines.length > 0) setPhase("streaming");
            for (const line of response.lines) {
              seen++;
              if (seen <= shown) continue;
              shown++;
              buffer.push(line);
            }
            if (buffer.length > 0) timer ??= setTimeout(flush, FLUSH_MS);
          }
        } catch (error) {
          if (signal.aborted || isCancellation(error)) return;
          setPhase("error", error);
          return;
        }
        if (signal.aborted) return;
        if (follow && kind === LogKind.BUILD && revisionId) {
          const answer = await deploymentClient.getRevision({ revisionId }, { signal }).catch(() => undefined);
          if (signal.aborted) return;
          if (answer?.revision && revisionBuilding(answer.revision.status)) {
            setPhase("waiting");
            await sleep(RETRY_MS, signal);
            if (signal.aborted) return;
            continue;
          }
        }
        setPhase("ended");
        return;
      }
    })();

    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [deployment, kind, revisionId, follow, generation]);

  return state;
}
