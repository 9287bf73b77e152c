// A run started from the portal and watched live: create the thread when asked, then
// CreateAndStreamRun (its first message is the run, every later one an event), watched with the
// shared run stream (node progress and chat transcript folded in batches).
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { useCallback } from "react";
import { encodeJson } from "../../lib/json";
import { threadClient } from "../../rpc";
import { newRunItems, type StreamSource, useRunStream, type WatchOptions } from "../runs/use-run-stream";

export { isActive } from "../runs/use-run-stream";

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

/** A run finished or not, the assistant's threads list is stale once it has ended. */
const STALE = [ThreadService];

/** A new run of the assistant (CreateAndStreamRun), on a thread created for it when the request names none. */
function newRun(assistantId: string, graphId: string, request: RunRequest): StreamSource {
  return {
    threadId: request.threadId,
    async *open(signal) {
      let threadId = request.threadId;
      if (threadId === undefined) {
        const { thread } = await threadClient.createThread(
          { metadata: { graph_id: graphId, assistant_id: assistantId } },
          { signal },
        );
        if (thread === undefined) throw new Error("CreateThread answered no thread");
        threadId = thread.threadId;
        yield { thread: threadId };
      }
      yield* newRunItems(
        threadId,
        {
          assistantId,
          inputJson: encodeJson(request.input),
          commandJson: encodeJson(request.command),
          streamModes: request.streamModes,
          streamSubgraphs: request.streamSubgraphs,
          interruptBefore: request.interruptBefore,
          interruptAfter: request.interruptAfter,
        },
        signal,
      );
    },
  };
}

export function useRun(assistantId: string, graphId: string) {
  const { state, watch, cancel, reset } = useRunStream({ stale: STALE });
  const start = useCallback(
    (request: RunRequest, options: WatchOptions = {}) => watch(newRun(assistantId, graphId, request), options),
    [assistantId, graphId, watch],
  );
  return { state, start, cancel, reset };
}

export type RunController = ReturnType<typeof useRun>;
