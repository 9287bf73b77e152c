import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { failedPrecondition, invalidArgument, jsonText, Reason, textBytes } from "@langopen/common";
import { type Checkpoint, CheckpointSchema, type PendingWrite } from "@langopen/gen/langopen/data/v1/checkpoint_pb";
import type { CheckpointService } from "@langopen/gen/langopen/data/v1/checkpoint_service_pb";
import type { Fence } from "@langopen/gen/langopen/data/v1/common_pb";
import type { CheckpointRef } from "@langopen/gen/langopen/data/v1/thread_pb";
import { requireUuid } from "../domain/ids.js";
import type { BatchWrite, CheckpointInput, CheckpointRow, CheckpointStore, WriteRow } from "../store/checkpoint-store.js";

export interface CheckpointServiceDeps {
  checkpoints: CheckpointStore;
}

function toCheckpoint(row: CheckpointRow, writes: WriteRow[]): Checkpoint {
  return create(CheckpointSchema, {
    ref: { threadId: row.thread_id, checkpointNs: row.checkpoint_ns, checkpointId: row.checkpoint_id },
    parent: row.parent_checkpoint_id
      ? { threadId: row.thread_id, checkpointNs: row.checkpoint_ns, checkpointId: row.parent_checkpoint_id }
      : undefined,
    type: row.type,
    checkpoint: row.checkpoint,
    metadataJson: textBytes(row.metadata_text),
    pendingWrites: writes.map((w) => ({
      taskId: w.task_id,
      channel: w.channel,
      type: w.type,
      value: w.value,
      idx: w.idx,
      taskPath: w.task_path,
    })),
  });
}

function fenceOf(fence: Fence | undefined) {
  return fence?.runId ? { runId: requireUuid("fence.run_id", fence.runId), epoch: fence.epoch } : undefined;
}

function stale(fence: Fence | undefined) {
  return failedPrecondition(Reason.StaleEpoch, `run ${fence?.runId} no longer holds epoch ${fence?.epoch}`, {
    run_id: fence?.runId ?? "",
  });
}

function metadataJson(bytes: Uint8Array): string {
  const text = jsonText(bytes, "{}");
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
  } catch {
    throw invalidArgument("checkpoint metadata must be a JSON object", [
      { field: "metadata_json", description: "not a JSON object" },
    ]);
  }
  return text;
}

function checkpointInput(cp: Checkpoint | undefined, fence: Fence | undefined): CheckpointInput {
  const ref = cp?.ref;
  if (!cp || !ref?.checkpointId) throw invalidArgument("checkpoint.ref.checkpoint_id is required");
  return {
    threadId: requireUuid("thread_id", ref.threadId),
    ns: ref.checkpointNs,
    checkpointId: ref.checkpointId,
    parentId: cp.parent?.checkpointId || null,
    runId: fenceOf(fence)?.runId ?? null,
    type: cp.type,
    checkpoint: cp.checkpoint,
    metadataJson: metadataJson(cp.metadataJson),
  };
}

function pendingWritesInput(ref: CheckpointRef | undefined, writes: PendingWrite[]) {
  if (!ref?.checkpointId) throw invalidArgument("ref.checkpoint_id is required");
  return {
    threadId: requireUuid("thread_id", ref.threadId),
    ns: ref.checkpointNs,
    checkpointId: ref.checkpointId,
    writes: writes.map((w) => ({
      taskId: w.taskId,
      idx: w.idx,
      channel: w.channel,
      type: w.type,
      value: w.value,
      taskPath: w.taskPath,
    })),
  };
}

export function createCheckpointServiceImpl(deps: CheckpointServiceDeps): ServiceImpl<typeof CheckpointService> {
  const { checkpoints } = deps;
  return {
    async getCheckpoint(req) {
      const ref = req.ref;
      const found = await checkpoints.get(
        requireUuid("thread_id", ref?.threadId ?? ""),
        ref?.checkpointNs ?? "",
        ref?.checkpointId ?? "",
      );
      return { checkpoint: found ? toCheckpoint(found.row, found.writes) : undefined };
    },

    async listCheckpoints(req) {
      const found = await checkpoints.list({
        threadId: requireUuid("thread_id", req.threadId),
        ns: req.checkpointNs,
        before: req.beforeCheckpointId,
        checkpointId: req.checkpointId,
        limit: req.limit,
        metadataJson: req.metadataFilterJson.length > 0 ? metadataJson(req.metadataFilterJson) : undefined,
      });
      return { checkpoints: found.map((f) => toCheckpoint(f.row, f.writes)) };
    },

    async putCheckpoint(req) {
      const ok = await checkpoints.put(checkpointInput(req.checkpoint, req.fence), fenceOf(req.fence));
      if (!ok) throw stale(req.fence);
      return { ref: req.checkpoint?.ref };
    },

    async putWrites(req) {
      const w = pendingWritesInput(req.ref, req.writes);
      const ok = await checkpoints.putWrites(w.threadId, w.ns, w.checkpointId, w.writes, fenceOf(req.fence));
      if (!ok) throw stale(req.fence);
      return {};
    },

    async putBatch(req) {
      // Every write is checked before any is made, so bad input writes nothing.
      const writes: BatchWrite[] = req.writes.map((w) => {
        if (w.kind.case === "checkpoint")
          return { kind: "checkpoint", input: checkpointInput(w.kind.value.checkpoint, req.fence) };
        if (w.kind.case === "pendingWrites")
          return { kind: "writes", ...pendingWritesInput(w.kind.value.ref, w.kind.value.writes) };
        throw invalidArgument("every write of a batch is a checkpoint or pending writes", [
          { field: "writes", description: "empty write" },
        ]);
      });
      if (!(await checkpoints.putBatch(writes, fenceOf(req.fence)))) throw stale(req.fence);
      return {};
    },

    async deleteCheckpoints(req) {
      await checkpoints.deleteThread(requireUuid("thread_id", req.threadId));
      return {};
    },
  };
}
