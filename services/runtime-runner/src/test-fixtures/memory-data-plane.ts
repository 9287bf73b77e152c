/**
 * An in-memory CheckpointService and StoreService with the semantics the api-server documents,
 * served over real gRPC, for testing the runtime without a database. It records the fence of
 * every write, and refuses writes whose fence the test marks stale.
 */
import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { failedPrecondition, type Logger, Reason, type RpcServer, startRpcServer, unavailable } from "@langopen/common";
import { type Checkpoint, CheckpointSchema, type PendingWrite } from "@langopen/gen/langopen/data/v1/checkpoint_pb";
import {
  CheckpointService,
  PutCheckpointRequestSchema,
  PutWritesRequestSchema,
} from "@langopen/gen/langopen/data/v1/checkpoint_service_pb";
import type { Fence } from "@langopen/gen/langopen/data/v1/common_pb";
import { type Item, ItemSchema } from "@langopen/gen/langopen/data/v1/store_pb";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";

const decoder = new TextDecoder();

export interface RecordedWrite {
  kind: "checkpoint" | "writes" | "item";
  threadId: string;
  fence?: { runId: string; epoch: bigint };
}

export interface MemoryDataPlane {
  readonly rpc: RpcServer;
  readonly url: string;
  readonly writes: RecordedWrite[];
  /** Per PutBatch call, by thread: how many writes it carried. */
  readonly batches: Array<{ threadId: string; size: number }>;
  /** Writes carrying this run's fence with an epoch below `epoch` are refused as stale. */
  setCurrentEpoch(runId: string, epoch: bigint): void;
  /** The next `count` writes for this thread fail with UNAVAILABLE, as while a database restarts. */
  failWrites(threadId: string, count: number): void;
  checkpointsOf(threadId: string): Checkpoint[];
  stop(): Promise<void>;
}

function contains(haystack: unknown, needle: unknown): boolean {
  if (needle === null || typeof needle !== "object") return haystack === needle;
  if (Array.isArray(needle)) return Array.isArray(haystack) && needle.every((n) => haystack.some((h) => contains(h, n)));
  if (haystack === null || typeof haystack !== "object" || Array.isArray(haystack)) return false;
  return Object.entries(needle).every(([k, v]) => contains((haystack as Record<string, unknown>)[k], v));
}

export async function startMemoryDataPlane(logger: Logger): Promise<MemoryDataPlane> {
  const checkpoints: Checkpoint[] = [];
  const pending = new Map<string, PendingWrite>();
  const items = new Map<string, Item>();
  const writes: RecordedWrite[] = [];
  const batches: Array<{ threadId: string; size: number }> = [];
  const epochs = new Map<string, bigint>();

  const failing = new Map<string, number>();
  const check = (kind: RecordedWrite["kind"], threadId: string, fence: Fence | undefined) => {
    const fail = failing.get(threadId) ?? 0;
    if (fail > 0) {
      failing.set(threadId, fail - 1);
      throw unavailable("postgres");
    }
    writes.push({ kind, threadId, fence: fence ? { runId: fence.runId, epoch: fence.epoch } : undefined });
    const current = fence ? epochs.get(fence.runId) : undefined;
    if (fence && current !== undefined && fence.epoch < current) {
      throw failedPrecondition(Reason.StaleEpoch, `run ${fence.runId} moved on to epoch ${current}`);
    }
  };
  const writeKey = (thread: string, ns: string, id: string) => `${thread}\u0000${ns}\u0000${id}`;
  const withWrites = (cp: Checkpoint): Checkpoint => {
    const prefix = writeKey(cp.ref?.threadId ?? "", cp.ref?.checkpointNs ?? "", cp.ref?.checkpointId ?? "");
    const found = [...pending.entries()].filter(([k]) => k.startsWith(`${prefix}\u0000`)).map(([, w]) => w);
    return create(CheckpointSchema, { ...cp, pendingWrites: found });
  };

  const checkpointImpl: ServiceImpl<typeof CheckpointService> = {
    getCheckpoint(req) {
      const ref = req.ref;
      const matching = checkpoints
        .filter((c) => c.ref?.threadId === ref?.threadId && c.ref?.checkpointNs === (ref?.checkpointNs ?? ""))
        .filter((c) => !ref?.checkpointId || c.ref?.checkpointId === ref.checkpointId)
        .sort((a, b) => (b.ref?.checkpointId ?? "").localeCompare(a.ref?.checkpointId ?? ""));
      const found = matching[0];
      return { checkpoint: found ? withWrites(found) : undefined };
    },
    listCheckpoints(req) {
      const filter = req.metadataFilterJson.length > 0 ? JSON.parse(decoder.decode(req.metadataFilterJson)) : undefined;
      let list = checkpoints
        .filter((c) => c.ref?.threadId === req.threadId)
        .filter((c) => req.checkpointNs === undefined || c.ref?.checkpointNs === req.checkpointNs)
        .filter((c) => !req.beforeCheckpointId || (c.ref?.checkpointId ?? "") < req.beforeCheckpointId)
        .filter((c) => !req.checkpointId || c.ref?.checkpointId === req.checkpointId)
        .filter((c) => filter === undefined || contains(JSON.parse(decoder.decode(c.metadataJson)), filter))
        .sort((a, b) => (b.ref?.checkpointId ?? "").localeCompare(a.ref?.checkpointId ?? ""));
      if (req.limit > 0) list = list.slice(0, req.limit);
      return { checkpoints: list.map(withWrites) };
    },
    putCheckpoint(req) {
      const cp = req.checkpoint;
      check("checkpoint", cp?.ref?.threadId ?? "", req.fence);
      if (!cp?.ref) throw new Error("checkpoint.ref is required");
      JSON.parse(decoder.decode(cp.metadataJson)); // must be JSON, as jsonb would insist
      const index = checkpoints.findIndex(
        (c) =>
          c.ref?.threadId === cp.ref?.threadId &&
          c.ref?.checkpointNs === cp.ref?.checkpointNs &&
          c.ref?.checkpointId === cp.ref?.checkpointId,
      );
      if (index >= 0) checkpoints[index] = cp;
      else checkpoints.push(cp);
      return { ref: cp.ref };
    },
    putWrites(req) {
      check("writes", req.ref?.threadId ?? "", req.fence);
      for (const w of req.writes) {
        pending.set(
          `${writeKey(req.ref?.threadId ?? "", req.ref?.checkpointNs ?? "", req.ref?.checkpointId ?? "")}\u0000${w.taskId}\u0000${w.idx}`,
          w,
        );
      }
      return {};
    },
    async putBatch(req, ctx) {
      const first = req.writes[0]?.kind;
      const threadId = first?.case === "checkpoint" ? first.value.checkpoint?.ref?.threadId : first?.value?.ref?.threadId;
      batches.push({ threadId: threadId ?? "", size: req.writes.length });
      for (const w of req.writes) {
        if (w.kind.case === "checkpoint") {
          await checkpointImpl.putCheckpoint?.(
            create(PutCheckpointRequestSchema, {
              fence: req.fence,
              checkpoint: w.kind.value.checkpoint,
              newVersionsJson: w.kind.value.newVersionsJson,
            }),
            ctx,
          );
        } else if (w.kind.case === "pendingWrites") {
          await checkpointImpl.putWrites?.(
            create(PutWritesRequestSchema, { fence: req.fence, ref: w.kind.value.ref, writes: w.kind.value.writes }),
            ctx,
          );
        }
      }
      return {};
    },
    deleteCheckpoints(req) {
      for (let i = checkpoints.length - 1; i >= 0; i--)
        if (checkpoints[i]?.ref?.threadId === req.threadId) checkpoints.splice(i, 1);
      for (const key of pending.keys()) if (key.startsWith(`${req.threadId}\u0000`)) pending.delete(key);
      return {};
    },
  };

  const itemKey = (ns: string[], key: string) => JSON.stringify([ns, key]);
  const storeImpl: ServiceImpl<typeof StoreService> = {
    putItem(req) {
      check("item", "", req.fence);
      const existing = items.get(itemKey(req.namespace, req.key));
      items.set(
        itemKey(req.namespace, req.key),
        create(ItemSchema, {
          namespace: req.namespace,
          key: req.key,
          valueJson: req.valueJson,
          createTime: existing?.createTime ?? timestampNow(),
          updateTime: timestampNow(),
        }),
      );
      return {};
    },
    getItem(req) {
      return { item: items.get(itemKey(req.namespace, req.key)) };
    },
    deleteItem(req) {
      check("item", "", req.fence);
      items.delete(itemKey(req.namespace, req.key));
      return {};
    },
    searchItems(req) {
      const filter = req.filterJson.length > 0 ? (JSON.parse(decoder.decode(req.filterJson)) as JsonObject) : undefined;
      const found = [...items.values()]
        .filter((item) => req.namespacePrefix.every((label, i) => item.namespace[i] === label))
        .filter((item) => filter === undefined || contains(JSON.parse(decoder.decode(item.valueJson)), filter));
      return { items: found.slice(req.offset, req.offset + (req.limit || 10)) };
    },
    listNamespaces(req) {
      const all = new Map<string, string[]>();
      for (const item of items.values()) {
        if (!req.prefix.every((label, i) => item.namespace[i] === label)) continue;
        const ns = req.maxDepth > 0 ? item.namespace.slice(0, req.maxDepth) : item.namespace;
        all.set(JSON.stringify(ns), ns);
      }
      return { namespaces: [...all.values()].slice(req.offset, req.offset + (req.limit || 100)).map((labels) => ({ labels })) };
    },
  };

  const rpc = await startRpcServer({
    host: "127.0.0.1",
    port: 0,
    logger,
    services: [CheckpointService, StoreService],
    routes: (router) => {
      router.service(CheckpointService, checkpointImpl);
      router.service(StoreService, storeImpl);
    },
  });
  return {
    rpc,
    url: rpc.url,
    writes,
    batches,
    setCurrentEpoch: (runId, epoch) => epochs.set(runId, epoch),
    failWrites: (threadId, count) => failing.set(threadId, count),
    checkpointsOf: (threadId) => checkpoints.filter((c) => c.ref?.threadId === threadId),
    stop: () => rpc.close(200),
  };
}
