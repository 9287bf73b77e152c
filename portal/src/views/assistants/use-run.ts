// A run started from the portal and watched live: create the thread when asked, then
// CreateAndStreamRun (its first message is the run, every later one an event), watched with the
// shared run stream (node progress and chat transcript folded in batches). A chat's edit or
// regenerate forks: the run starts from an earlier checkpoint, looked up in the thread's history.
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { useCallback } from "react";
import { decodeJsonLenient, encodeJson } from "../../lib/json";
import { threadClient } from "../../rpc";
import { newRunItems, type StreamSource, useRunStream, type WatchOptions } from "../runs/use-run-stream";
import { checkpointRef, toCheckpoint } from "../threads/checkpoints";
import { findForkCheckpoint } from "./chat-fork";

export { isActive } from "../runs/use-run-stream";

export interface RunRequest {
  /** Absent: a new thread is created for the run. */
  threadId?: string;
  input?: unknown;
  /** A Command ({resume, update, goto}) instead of, or beside, the input. */
  command?: unknown;
  /**
   * Forks the thread: the run starts from the newest checkpoint of its current branch whose
   * messages are exactly these (by id), looked up once the run starts. Absent: from the latest.
   */
  forkAfterMessages?: string[];
  streamModes: string[];
  streamSubgraphs: boolean;
  interruptBefore: string[];
  interruptAfter: string[];
}

/** A run finished or not, the assistant's threads list is stale once it has ended. */
const STALE = [ThreadService];
/** Checkpoints read per GetThreadHistory call while looking for where to fork. */
const HISTORY_PAGE = 50;

/** The checkpoint a fork starts from (see RunRequest.forkAfterMessages); an error when the branch holds none. */
async function forkCheckpoint(threadId: string, messageIds: string[], signal: AbortSignal) {
  const found = await findForkCheckpoint(messageIds, async (before) => {
    const { statesJson } = await threadClient.getThreadHistory(
      { threadId, limit: HISTORY_PAGE, before: before ? { threadId, checkpointNs: "", checkpointId: before } : undefined },
      { signal },
    );
    return statesJson.flatMap((bytes) => toCheckpoint(decodeJsonLenient(bytes)) ?? []);
  });
  if (found === undefined) {
    throw new Error("No checkpoint of the thread's current branch holds the messages before this point: it cannot fork there");
  }
  return checkpointRef(threadId, found);
}

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
      const checkpoint = request.forkAfterMessages && (await forkCheckpoint(threadId, request.forkAfterMessages, signal));
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
          checkpoint,
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
