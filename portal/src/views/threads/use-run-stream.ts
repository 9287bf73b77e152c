// A run on a thread watched live from the data pages: a re-run from a checkpoint
// (CreateAndStreamRun), a resume of an interrupt (CreateOrResumeRun, then StreamRun), or an
// existing run joined from its first event (StreamRun), each a source for the shared run stream.
import { RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { encodeJson } from "../../lib/json";
import { runClient } from "../../rpc";
import { newRunItems, type StreamItem, type StreamSource, useRunStream as useSharedRunStream } from "../runs/use-run-stream";

/** StreamRun's last_event_id for "every event from the run's first" (empty would be live only). */
export const FROM_FIRST_EVENT = "-1";
/** What a re-run or a resume streams: the state (values), each node's output, and the tasks that light the graph. */
export const WATCH_MODES = ["values", "updates", "tasks"];

/** The thread's lists and its runs say the thread is busy as soon as the run exists, and how it ended. */
const STALE = [ThreadService, RunService];

export function useRunStream() {
  return useSharedRunStream({ stale: STALE, staleOnStart: true });
}

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
      yield* newRunItems(
        threadId,
        {
          assistantId,
          streamModes: WATCH_MODES,
          checkpoint: { threadId, checkpointNs: checkpoint.checkpointNs, checkpointId: checkpoint.checkpointId },
        },
        signal,
      );
    },
  };
}

/** A run's events from its first on (StreamRun). */
async function* everyEvent(threadId: string, runId: string, signal: AbortSignal): AsyncGenerator<StreamItem> {
  for await (const message of runClient.streamRun({ threadId, runId, lastEventId: FROM_FIRST_EVENT }, { signal })) {
    if (message.event) yield { event: message.event };
  }
}

/** An existing run, every event from its first on (StreamRun), the run itself first. */
export function joinRun(threadId: string, runId: string): StreamSource {
  return {
    threadId,
    runId,
    async *open(signal) {
      const { run } = await runClient.getRun({ threadId, runId }, { signal });
      if (run) yield { run };
      yield* everyEvent(threadId, runId, signal);
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
      yield* everyEvent(threadId, run.runId, signal);
    },
  };
}
