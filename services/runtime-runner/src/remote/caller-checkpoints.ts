import { Code, ConnectError } from "@connectrpc/connect";
import type { CheckpointReply } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { type CallerLink, NotSentError } from "../domain/caller-link.js";
import type { CheckpointClient } from "./checkpointer.js";

const DEFAULT_TIMEOUT_MS = 30_000;

function answer<C extends "getCheckpoint" | "putBatch">(reply: CheckpointReply, expected: C) {
  const { kind } = reply;
  if (kind.case === "error") throw new ConnectError(kind.value.message, kind.value.code as Code);
  if (kind.case !== expected)
    throw new ConnectError(`the worker answered a ${expected} call with ${kind.case ?? "nothing"}`, Code.Internal);
  return kind.value as Extract<CheckpointReply["kind"], { case: C }>["value"];
}

/**
 * The checkpoint client of a run whose caller serves its checkpoint calls (Execute with
 * `serves_checkpoints`): reads and writes go to the caller on the run's own stream. What else the
 * checkpointer asks (history, deletes), and reads made once the run's stream has ended, go to the
 * data plane as before. A write that can no longer go on the stream fails: the caller is the one
 * that makes the run's writes durable after its events.
 */
export function callerCheckpoints(link: CallerLink, dataPlane: CheckpointClient): CheckpointClient {
  return {
    ...dataPlane,
    async getCheckpoint(request, options) {
      let reply: CheckpointReply;
      try {
        reply = await link.call({ case: "getCheckpoint", value: request }, options?.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      } catch (err) {
        if (err instanceof NotSentError) return dataPlane.getCheckpoint(request, options);
        throw err;
      }
      return answer(reply, "getCheckpoint");
    },
    async putBatch(request, options) {
      let reply: CheckpointReply;
      try {
        reply = await link.call({ case: "putBatch", value: request }, options?.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      } catch (err) {
        if (err instanceof NotSentError)
          throw new ConnectError(`a checkpoint write came after the run's stream ended`, Code.Aborted);
        throw err;
      }
      return answer(reply, "putBatch");
    },
  };
}
