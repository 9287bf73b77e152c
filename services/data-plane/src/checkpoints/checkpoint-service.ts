import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { invalidArgument, jsonText, textBytes } from "@langopen/common";
import { type Checkpoint, CheckpointSchema, type PendingWrite } from "@langopen/gen/langopen/data/v1/checkpoint_pb";
import type { CheckpointService, StateWriteGrant } from "@langopen/gen/langopen/data/v1/checkpoint_service_pb";
import type { Fence } from "@langopen/gen/langopen/data/v1/common_pb";
import type { CheckpointRef } from "@langopen/gen/langopen/data/v1/thread_pb";
import { requireUuid } from "../domain/ids.js";
import type { BatchWrite, CheckpointInput, CheckpointRow, CheckpointStore, WriteRow } from "../store/checkpoint-store.js";
import { authorizeCheckpointWrite, runFence, staleFence } from "./runtime-access.js";

export * from "./runtime-access.js";

export interface CheckpointServiceDeps {
  checkpoints: CheckpointStore;
  /**
   * The installation's secret, which signs the api-server's state-write grants (see
   * authorizeCheckpointWrite). Absent: the runtime's writes with a grant are refused.
   */
  internalSecret?: string;
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
    runId: runFence(fence)?.runId ?? null,
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
  const authorize = (ctx: HandlerContext, fence: Fence | undefined, grant: StateWriteGrant | undefined, threads: string[]) =>
    authorizeCheckpointWrite(ctx.values, { fence, grant, threads: new Set(threads), secret: deps.internalSecret });
  /**
   * Why a fenced write was refused: a run writing a thread not its own is refused outright (its
   * fence never lets it); otherwise the run no longer holds the epoch (STALE_EPOCH, which the
   * worker takes for a lost lease).
   */
  const refusal = async (fence: Fence | undefined, threads: string[]): Promise<ConnectError> => {
    const fenced = runFence(fence);
    const owner = fenced ? await checkpoints.threadOfRun(fenced.runId) : undefined;
    const foreign = threads.find((t) => t !== owner);
    if (owner !== undefined && foreign !== undefined)
      return new ConnectError(`run ${fenced?.runId} belongs to thread ${owner}, not to thread ${foreign}`, Code.PermissionDenied);
    return staleFence(fence);
  };
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

    async putCheckpoint(req, ctx) {
      const input = checkpointInput(req.checkpoint, req.fence);
      authorize(ctx, req.fence, req.grant, [input.threadId]);
      const ok = await checkpoints.put(input, runFence(req.fence));
      if (!ok) throw await refusal(req.fence, [input.threadId]);
      return { ref: req.checkpoint?.ref };
    },

    async putWrites(req, ctx) {
      const w = pendingWritesInput(req.ref, req.writes);
      authorize(ctx, req.fence, req.grant, [w.threadId]);
      const ok = await checkpoints.putWrites(w.threadId, w.ns, w.checkpointId, w.writes, runFence(req.fence));
      if (!ok) throw await refusal(req.fence, [w.threadId]);
      return {};
    },

    async putBatch(req, ctx) {
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
      const threads = [...new Set(writes.map((w) => (w.kind === "checkpoint" ? w.input.threadId : w.threadId)))];
      authorize(ctx, req.fence, req.grant, threads);
      if (!(await checkpoints.putBatch(writes, runFence(req.fence)))) throw await refusal(req.fence, threads);
      return {};
    },

    async deleteCheckpoints(req) {
      await checkpoints.deleteThread(requireUuid("thread_id", req.threadId));
      return {};
    },
  };
}
