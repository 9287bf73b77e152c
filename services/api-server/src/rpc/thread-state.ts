import type { JsonObject } from "@bufbuild/protobuf";
import type { Client, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  failedPrecondition,
  inCallOf,
  invalidArgument,
  jsonBytes,
  notFound,
  type Pool,
  parseJsonBytes,
  Reason,
  unavailable,
} from "@langopen/common";
import { patchCheckpointMetadata, type RunStore, requireUuid, type ThreadRow, type ThreadStore } from "@langopen/data-plane";
import type { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import type { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { authOf } from "../caller.js";

export interface ThreadStateDeps {
  pool: Pool;
  threads: ThreadStore;
  runs: RunStore;
  runtime?: Client<typeof RuntimeService>;
}

/** The state of a thread that has never run. */
const EMPTY_STATE = {
  values: {},
  next: [],
  tasks: [],
  checkpoint: null,
  metadata: null,
  created_at: null,
  parent_checkpoint: null,
  interrupts: [],
};

type StateMethods = Pick<
  ServiceImpl<typeof ThreadService>,
  "getThreadState" | "updateThreadState" | "patchThreadState" | "getThreadHistory"
> & {
  /** Seeds a new thread's state from supersteps, as if those nodes had run. */
  applySupersteps(thread: ThreadRow, supersteps: unknown[], ctx: HandlerContext): Promise<void>;
};

interface SuperstepUpdate {
  values?: unknown;
  command?: unknown;
  as_node?: string;
}

/** Thread state, answered by the runtime that hosts the thread's graph. */
export function createThreadStateMethods(deps: ThreadStateDeps): StateMethods {
  const { threads, runs } = deps;
  const runtime = () => {
    if (!deps.runtime) throw unavailable("runtime");
    return deps.runtime;
  };
  /** The thread, if the caller may see it (else NOT_FOUND, as if absent), with its graph. */
  const load = async (threadId: string, ctx: HandlerContext) => {
    const id = requireUuid("thread_id", threadId);
    const thread = await threads.get(id, authOf(ctx));
    if (!thread) throw notFound("Thread", id);
    const graphId = typeof thread.metadata.graph_id === "string" ? thread.metadata.graph_id : undefined;
    return { id, thread, graphId };
  };
  const refresh = async (threadId: string, graphId: string, config: JsonObject | undefined, ctx: HandlerContext) => {
    const state = parseJsonBytes<{ values?: unknown; next?: unknown[]; tasks?: Array<{ id: string; interrupts?: unknown[] }> }>(
      (await runtime().getState({ graphId, threadId, config }, inCallOf(ctx))).stateJson,
      {},
    );
    const interrupts: Record<string, unknown[]> = {};
    for (const task of state.tasks ?? []) if (task.interrupts?.length) interrupts[task.id] = task.interrupts;
    const pending = (state.next ?? []).length > 0 || Object.keys(interrupts).length > 0;
    await runs.setThreadState(threadId, {
      status: pending ? "interrupted" : "idle",
      valuesJson: JSON.stringify(state.values ?? {}),
      interruptsJson: JSON.stringify(interrupts),
    });
  };
  const updateState = async (
    threadId: string,
    graphId: string,
    config: JsonObject,
    valuesJson: Uint8Array,
    asNode: string,
    ctx: HandlerContext,
    checkpoint?: Parameters<Client<typeof RuntimeService>["updateState"]>[0]["checkpoint"],
  ) => {
    const res = await runtime().updateState({ graphId, threadId, config, valuesJson, asNode, checkpoint }, inCallOf(ctx));
    await refresh(threadId, graphId, config, ctx);
    return res;
  };

  return {
    async getThreadState(req, ctx) {
      const { id, thread, graphId } = await load(req.threadId, ctx);
      if (!graphId) return { stateJson: jsonBytes(EMPTY_STATE) };
      const res = await runtime().getState(
        { graphId, threadId: id, config: thread.config, checkpoint: req.checkpoint, subgraphs: req.subgraphs },
        inCallOf(ctx),
      );
      return { stateJson: res.stateJson };
    },

    async updateThreadState(req, ctx) {
      const { id, thread, graphId } = await load(req.threadId, ctx);
      if (!graphId)
        throw failedPrecondition(Reason.ThreadHasNoGraph, `Thread ${id} has no graph yet: run it, or create it with a graph_id`);
      const active = await runs.activeRuns({ threadId: id });
      if (active.length > 0)
        throw failedPrecondition(Reason.ThreadBusy, `Thread ${id} is busy; its state can change only between runs`);
      const res = await updateState(id, graphId, thread.config, req.valuesJson, req.asNode, ctx, req.checkpoint);
      return { checkpoint: res.checkpoint };
    },

    async patchThreadState(req, ctx) {
      const { id } = await load(req.threadId, ctx);
      const ok = await patchCheckpointMetadata(
        deps.pool,
        id,
        req.checkpoint?.checkpointNs ?? "",
        req.checkpoint?.checkpointId ?? "",
        JSON.stringify(req.metadata ?? {}),
      );
      if (!ok) throw notFound("Checkpoint", req.checkpoint?.checkpointId || `latest of thread ${id}`);
      return {};
    },

    async getThreadHistory(req, ctx) {
      const { id, thread, graphId } = await load(req.threadId, ctx);
      if (!graphId) return { statesJson: [] };
      if (req.limit < 0 || req.limit > 1000)
        throw invalidArgument("limit must be between 1 and 1000", [{ field: "limit", description: "out of range" }]);
      const res = await runtime().getHistory(
        {
          graphId,
          threadId: id,
          config: thread.config,
          limit: req.limit === 0 ? 10 : req.limit,
          before: req.before,
          metadata: req.metadata,
          checkpoint: req.checkpoint,
        },
        inCallOf(ctx),
      );
      return { statesJson: res.statesJson };
    },

    async applySupersteps(thread, supersteps, ctx) {
      const graphId = typeof thread.metadata.graph_id === "string" ? thread.metadata.graph_id : undefined;
      if (!graphId)
        throw invalidArgument("supersteps need a graph_id in the thread's metadata", [
          { field: "supersteps", description: "no graph" },
        ]);
      for (const step of supersteps) {
        const updates = (step as { updates?: SuperstepUpdate[] } | null)?.updates;
        if (!Array.isArray(updates))
          throw invalidArgument("each superstep needs an updates list", [{ field: "supersteps", description: "no updates" }]);
        for (const update of updates) {
          await updateState(
            thread.thread_id,
            graphId,
            thread.config,
            jsonBytes(update.values ?? null),
            update.as_node ?? "",
            ctx,
          );
        }
      }
    },
  };
}
