import { clone, create, isMessage } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, type ContextValues, type ServiceImpl } from "@connectrpc/connect";
import {
  callerRole,
  failedPrecondition,
  methodName,
  normalizeUuid,
  type Pool,
  Reason,
  type RpcAuth,
  runtimeTokenOf,
  signStateWriteGrant,
  tokenSha256,
  verifyStateWriteGrant,
} from "@langopen/common";
import {
  CheckpointService,
  type StateWriteGrant,
  StateWriteGrantSchema,
} from "@langopen/gen/langopen/data/v1/checkpoint_service_pb";
import type { Fence } from "@langopen/gen/langopen/data/v1/common_pb";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import { type RuntimeService, UpdateStateRequestSchema } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { requireUuid } from "../domain/ids.js";
import { checkFence } from "../store/checkpoint-store.js";
import { createItemStore, type ItemStore } from "../store/item-store.js";
import { inTransaction } from "../store/sql.js";

/*
 * What the runtime may do on the data plane. The runtime runs the user's graph code, so its
 * credential is worth no more than a runtime needs: reading checkpoints and store items, and
 * writing them for a run it executes (with the run's fence: the run must hold the epoch, and own
 * the thread written) or for a state update the api-server asked of it (with the api-server's
 * signed grant for that thread). Nothing else: no runs, threads, assistants, crons, deletes.
 */

/** The methods of the api-server the runtime's credential may call (writes are checked further, below). */
export const RUNTIME_METHODS: ReadonlySet<string> = new Set(
  [
    CheckpointService.method.getCheckpoint,
    CheckpointService.method.listCheckpoints,
    CheckpointService.method.putCheckpoint,
    CheckpointService.method.putWrites,
    CheckpointService.method.putBatch,
    StoreService.method.getItem,
    StoreService.method.searchItems,
    StoreService.method.listNamespaces,
    StoreService.method.putItem,
    StoreService.method.deleteItem,
  ].map(methodName),
);

/** Who may call the api-server: holders of the secret (every method), and the runtime (RUNTIME_METHODS). */
export function dataPlaneAuth(secret: string): RpcAuth {
  return {
    accepted: [
      { sha256: tokenSha256(secret), role: "internal" },
      { sha256: tokenSha256(runtimeTokenOf(secret)), role: "runtime" },
    ],
    permissions: { runtime: RUNTIME_METHODS },
  };
}

/** A fence as the stores take it; undefined when the request carries none. */
export function runFence(fence: Fence | undefined): { runId: string; epoch: bigint } | undefined {
  return fence?.runId ? { runId: requireUuid("fence.run_id", fence.runId), epoch: fence.epoch } : undefined;
}

/** A fenced write refused because its run no longer holds the epoch (a newer attempt owns it, or it ended). */
export function staleFence(fence: Fence | undefined): ConnectError {
  return failedPrecondition(Reason.StaleEpoch, `run ${fence?.runId} no longer holds epoch ${fence?.epoch}`, {
    run_id: fence?.runId ?? "",
  });
}

function permissionDenied(message: string): ConnectError {
  return new ConnectError(message, Code.PermissionDenied);
}

/**
 * Refuses a checkpoint write the caller may not make: the runtime writes with a run's fence
 * (whose holding the store checks in the write's own statement), or with a valid grant for every
 * thread written. Other callers hold the secret and write as before.
 */
export function authorizeCheckpointWrite(
  values: ContextValues,
  write: { fence: Fence | undefined; grant: StateWriteGrant | undefined; threads: Iterable<string>; secret?: string },
): void {
  if (callerRole(values) !== "runtime" || write.fence?.runId) return;
  if (!write.grant) {
    throw permissionDenied(
      "The runtime writes checkpoints only for a run (with the run's fence) or for a state update (with the api-server's grant)",
    );
  }
  const { grant, secret } = write;
  for (const thread of write.threads) {
    const valid =
      secret !== undefined && verifyStateWriteGrant(secret, { ...grant, threadId: normalizeUuid(grant.threadId) }, thread);
    if (!valid)
      throw permissionDenied(`The state-write grant is not valid for thread ${thread}: forged, expired or of another thread`);
  }
}

/**
 * The runtime's client, with a grant for the thread on every UpdateState: the api-server calls
 * UpdateState only once it has checked the update may happen (the thread is not running), and
 * the runtime needs the grant to write the checkpoint the update makes.
 */
export function grantingStateWrites(runtime: Client<typeof RuntimeService>, secret: string): Client<typeof RuntimeService> {
  return {
    ...runtime,
    updateState(request, options) {
      const message = isMessage(request, UpdateStateRequestSchema)
        ? clone(UpdateStateRequestSchema, request)
        : create(UpdateStateRequestSchema, request);
      message.grant = create(StateWriteGrantSchema, signStateWriteGrant(secret, message.threadId));
      return runtime.updateState(message, options);
    },
  };
}

export interface FencedStoreWritesDeps {
  pool: Pool;
  /** StoreService on a given item store: the pool's for reads and unfenced writes, a transaction's for fenced ones. */
  service: (items: ItemStore) => ServiceImpl<typeof StoreService>;
  items: ItemStore;
}

/**
 * StoreService whose writes are fenced: a put or delete that carries a run's fence is made in a
 * transaction that first share-locks the run's row while the fence holds (its epoch current,
 * running, lease live), so the reaper cannot move the epoch on before the write commits; a stale
 * one writes nothing (FAILED_PRECONDITION, STALE_EPOCH). The runtime's credential writes only
 * with a fence (PERMISSION_DENIED without).
 */
export function fencedStoreWrites(deps: FencedStoreWritesDeps): ServiceImpl<typeof StoreService> {
  const base = deps.service(deps.items);
  const guarded = <M extends "putItem" | "deleteItem">(method: M): ServiceImpl<typeof StoreService>[M] =>
    (async (req: Parameters<ServiceImpl<typeof StoreService>[M]>[0], ctx: Parameters<ServiceImpl<typeof StoreService>[M]>[1]) => {
      const fence = runFence(req.fence);
      if (!fence) {
        if (callerRole(ctx.values) === "runtime")
          throw permissionDenied("The runtime writes store items only for a run it executes (with the run's fence)");
        return base[method](req as never, ctx);
      }
      return inTransaction(deps.pool, async (client) => {
        if (!(await checkFence(client, fence.runId, fence.epoch))) throw staleFence(req.fence);
        return deps.service(createItemStore(client))[method](req as never, ctx);
      });
    }) as ServiceImpl<typeof StoreService>[M];
  return { ...base, putItem: guarded("putItem"), deleteItem: guarded("deleteItem") };
}
