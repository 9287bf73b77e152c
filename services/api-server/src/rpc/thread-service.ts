import { create, type JsonObject } from "@bufbuild/protobuf";
import { Code, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  alreadyExists,
  invalidArgument,
  jsonBytes,
  notFound,
  parseJsonBytes,
  Reason,
  reasoned,
  textBytes,
} from "@langopen/common";
import {
  idOrNew,
  newId,
  type RunStore,
  requireUuid,
  type Signals,
  type ThreadRow,
  type ThreadStatusName,
  type ThreadStore,
  type ThreadTtlInput,
  type TtlStrategyName,
} from "@langopen/data-plane";
import { IfExists } from "@langopen/gen/langopen/data/v1/common_pb";
import {
  type Thread,
  ThreadSchema,
  ThreadStatus,
  ThreadStorageSchema,
  type ThreadTtl,
  ThreadTtlSchema,
  TtlStrategy,
} from "@langopen/gen/langopen/data/v1/thread_pb";
import type { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { authOf } from "../caller.js";
import { followPath, MAX_EXTRACT, parseExtractPath } from "../domain/extract.js";
import { isDesc, page, sortKey } from "../domain/paging.js";
import type { createThreadStateMethods } from "./thread-state.js";
import { createStreamThread } from "./thread-stream.js";
import { ts, tsOrUndefined } from "./timestamps.js";

export interface ThreadServiceDeps {
  threads: ThreadStore;
  runs: RunStore;
  state: ReturnType<typeof createThreadStateMethods>;
  /** Thread event logs: read by thread streams, dropped with their thread. */
  signals: Signals;
  /** How long a thread stream waits for news before checking its thread is still there. */
  pollMs?: number;
}

const SORT_KEYS = ["thread_id", "status", "created_at", "updated_at", "state_updated_at"] as const;

const STATUS_TO_PROTO: Record<ThreadStatusName, ThreadStatus> = {
  idle: ThreadStatus.IDLE,
  busy: ThreadStatus.BUSY,
  interrupted: ThreadStatus.INTERRUPTED,
  error: ThreadStatus.ERROR,
};
const STATUS_FROM_PROTO: Partial<Record<ThreadStatus, ThreadStatusName>> = {
  [ThreadStatus.IDLE]: "idle",
  [ThreadStatus.BUSY]: "busy",
  [ThreadStatus.INTERRUPTED]: "interrupted",
  [ThreadStatus.ERROR]: "error",
};
const STRATEGY_FROM_PROTO: Partial<Record<TtlStrategy, TtlStrategyName>> = {
  [TtlStrategy.DELETE]: "delete",
  [TtlStrategy.KEEP_LATEST]: "keep_latest",
};

export function toThread(row: ThreadRow, options: { includeTtl?: boolean; extracted?: JsonObject } = {}): Thread {
  return create(ThreadSchema, {
    threadId: row.thread_id,
    createTime: ts(row.created_at),
    updateTime: ts(row.updated_at),
    stateUpdateTime: ts(row.state_updated_at),
    metadata: row.metadata,
    config: row.config,
    status: STATUS_TO_PROTO[row.status],
    valuesJson: row.values_text === null ? new Uint8Array() : textBytes(row.values_text),
    interruptsJson: textBytes(row.interrupts_text),
    ttl:
      options.includeTtl && row.ttl_strategy
        ? create(ThreadTtlSchema, {
            strategy: row.ttl_strategy === "delete" ? TtlStrategy.DELETE : TtlStrategy.KEEP_LATEST,
            ttlMinutes: row.ttl_minutes ?? 0,
            expireTime: tsOrUndefined(row.expires_at),
          })
        : undefined,
    extractedJson: options.extracted ? jsonBytes(options.extracted) : new Uint8Array(),
  });
}

function ttlInput(ttl: ThreadTtl | undefined): ThreadTtlInput | undefined {
  if (!ttl) return undefined;
  const strategy = STRATEGY_FROM_PROTO[ttl.strategy] ?? "delete";
  if (!(ttl.ttlMinutes > 0) || !Number.isFinite(ttl.ttlMinutes)) {
    throw invalidArgument("ttl must be a positive number of minutes", [{ field: "ttl.ttl", description: "out of range" }]);
  }
  return { strategy, minutes: ttl.ttlMinutes };
}

function statusFilter(status: ThreadStatus): ThreadStatusName | undefined {
  return status === ThreadStatus.UNSPECIFIED ? undefined : STATUS_FROM_PROTO[status];
}

function valuesFilter(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return undefined;
  const parsed = parseJsonBytes<unknown>(bytes, null);
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw invalidArgument("values filter must be a JSON object", [{ field: "values", description: "not an object" }]);
  }
  return Object.keys(parsed).length > 0 ? JSON.stringify(parsed) : undefined;
}

function extractor(extract: Record<string, string>): ((row: ThreadRow) => JsonObject) | undefined {
  const entries = Object.entries(extract);
  if (entries.length === 0) return undefined;
  if (entries.length > MAX_EXTRACT) {
    throw invalidArgument(`extract takes at most ${MAX_EXTRACT} paths`, [{ field: "extract", description: "too many paths" }]);
  }
  const paths = entries.map(([alias, path]) => [alias, parseExtractPath(path)] as const);
  return (row) => {
    const doc = {
      values: row.values_text === null ? {} : JSON.parse(row.values_text),
      metadata: row.metadata,
      config: row.config,
      interrupts: JSON.parse(row.interrupts_text),
    };
    return Object.fromEntries(paths.map(([alias, steps]) => [alias, followPath(doc, steps)])) as JsonObject;
  };
}

export function createThreadServiceImpl(deps: ThreadServiceDeps): ServiceImpl<typeof ThreadService> {
  const { threads, signals } = deps;
  /** A deleted thread's log goes too: a thread made again under its id starts with none. */
  const dropLogs = async (ids: string[]) => {
    for (const id of ids) await signals.dropThreadEvents(id).catch(() => {});
  };
  /** The thread, if the caller may read it: one their auth filter does not match is NOT_FOUND, as if absent. */
  const mustGet = async (id: string, ctx: HandlerContext) => {
    const row = await threads.get(id, authOf(ctx));
    if (!row) throw notFound("Thread", id);
    return row;
  };

  return {
    async createThread(req, ctx) {
      const id = idOrNew("thread_id", req.threadId);
      const supersteps = parseJsonBytes<unknown[]>(req.superstepsJson, []);
      if (!Array.isArray(supersteps))
        throw invalidArgument("supersteps must be a list", [{ field: "supersteps", description: "not a list" }]);
      const { row, created, matches } = await threads.create(id, req.metadata ?? {}, ttlInput(req.ttl), authOf(ctx));
      // One the caller may not see is not handed to them, whatever if_exists says.
      if (!created && (!matches || req.ifExists !== IfExists.DO_NOTHING)) throw alreadyExists("Thread", id);
      if (created && supersteps.length > 0) {
        try {
          await deps.state.applySupersteps(row, supersteps, ctx);
        } catch (err) {
          // Nothing half-made stays behind.
          await threads.delete(id);
          throw err;
        }
        return { thread: toThread((await threads.get(id)) ?? row) };
      }
      return { thread: toThread(row) };
    },

    async getThread(req, ctx) {
      return {
        thread: toThread(await mustGet(requireUuid("thread_id", req.threadId), ctx), { includeTtl: req.includeTtl }),
      };
    },

    async updateThread(req, ctx) {
      const id = requireUuid("thread_id", req.threadId);
      const row = await threads.update(id, req.metadata, ttlInput(req.ttl), authOf(ctx));
      if (!row) throw notFound("Thread", id);
      return { thread: toThread(row) };
    },

    async deleteThread(req, ctx) {
      const id = requireUuid("thread_id", req.threadId);
      const auth = authOf(ctx);
      const deleted = await threads.delete(id, auth);
      // A restricted caller's miss may be someone else's thread: its log stays.
      if (deleted || !auth) await dropLogs([id]);
      if (!deleted) throw notFound("Thread", id);
      return {};
    },

    async searchThreads(req, ctx) {
      const { limit, offset } = page(req.limit, req.offset);
      const extract = extractor(req.extract);
      const { rows, total } = await threads.search(
        {
          ids: req.ids.map((id) => requireUuid("ids", id)),
          metadata: req.metadata,
          valuesJson: valuesFilter(req.valuesJson),
          status: statusFilter(req.status),
          auth: authOf(ctx),
        },
        { limit, offset, sortBy: sortKey(req.sortBy, SORT_KEYS, "created_at"), desc: isDesc(req.sortOrder) },
      );
      return { threads: rows.map((row) => toThread(row, { extracted: extract?.(row) })), totalSize: BigInt(total) };
    },

    async countThreads(req, ctx) {
      const count = await threads.count({
        metadata: req.metadata,
        valuesJson: valuesFilter(req.valuesJson),
        status: statusFilter(req.status),
        auth: authOf(ctx),
      });
      return { count: BigInt(count) };
    },

    async copyThread(req, ctx) {
      const id = requireUuid("thread_id", req.threadId);
      const row = await threads.copy(id, newId(), authOf(ctx));
      if (row === "missing") throw notFound("Thread", id);
      // Upstream answers a copy of a thread the caller may not read with 409, worded as not found.
      if (row === "not-matching") {
        throw reasoned(Code.AlreadyExists, Reason.AlreadyExists, `Thread ${id} not found`, {
          metadata: { kind: "Thread", id },
        });
      }
      return { thread: toThread(row) };
    },

    async pruneThreads(req, ctx) {
      const ids = req.threadIds.map((id) => requireUuid("thread_ids", id));
      const strategy = STRATEGY_FROM_PROTO[req.strategy] ?? "delete";
      const pruned = await threads.prune(ids, strategy, authOf(ctx));
      if (strategy === "delete") await dropLogs(pruned);
      return { prunedCount: BigInt(pruned.length) };
    },

    async getThreadStorage(req, ctx) {
      const id = requireUuid("thread_id", req.threadId);
      await mustGet(id, ctx);
      const s = await threads.storage(id);
      return {
        storage: create(ThreadStorageSchema, {
          threadId: id,
          totalBytes: BigInt(s.checkpoint_bytes + s.write_bytes),
          checkpoints: { count: BigInt(s.checkpoints), bytes: BigInt(s.checkpoint_bytes) },
          channelValues: { count: 0n, bytes: 0n },
          pendingWrites: { count: BigInt(s.writes), bytes: BigInt(s.write_bytes) },
        }),
      };
    },

    getThreadState: deps.state.getThreadState,
    updateThreadState: deps.state.updateThreadState,
    patchThreadState: deps.state.patchThreadState,
    getThreadHistory: deps.state.getThreadHistory,
    streamThread: createStreamThread({ threads, runs: deps.runs, signals, pollMs: deps.pollMs }),
  };
}
