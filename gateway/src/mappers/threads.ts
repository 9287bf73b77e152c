import { create, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { jsonBytes } from "@langopen/common";
import {
  type Thread,
  ThreadStatus,
  type ThreadStorage,
  type ThreadTtl,
  ThreadTtlSchema,
  TtlStrategy,
} from "@langopen/gen/langopen/data/v1/thread_pb";
import {
  type CountThreadsRequest,
  CountThreadsRequestSchema,
  type CreateThreadRequest,
  CreateThreadRequestSchema,
  type PruneThreadsRequest,
  PruneThreadsRequestSchema,
  type SearchThreadsRequest,
  SearchThreadsRequestSchema,
  type UpdateThreadRequest,
  UpdateThreadRequestSchema,
} from "@langopen/gen/langopen/data/v1/thread_service_pb";
import type {
  ThreadCountBody,
  ThreadCreateBody,
  ThreadPatchBody,
  ThreadPruneBody,
  ThreadSearchBody,
  ThreadTtlBody,
} from "../schemas/threads.js";
import { isoTimestamp, jsonFromBytes, objectOrEmpty, toIfExists, toSortOrder } from "./common.js";

export type ApiThreadStatus = "idle" | "busy" | "interrupted" | "error";
export type ApiTtlStrategy = "delete" | "keep_latest";

export interface ApiThreadTtl {
  strategy: ApiTtlStrategy;
  ttl_minutes: number;
  expires_at: string | null;
}

/** The public Thread object. `ttl` only with `?include=ttl`, `extracted` only from a search with `extract`. */
export interface ApiThread {
  thread_id: string;
  created_at: string | null;
  updated_at: string | null;
  state_updated_at: string | null;
  metadata: JsonObject;
  config: JsonObject;
  status: ApiThreadStatus;
  values: JsonValue;
  interrupts: JsonValue;
  ttl?: ApiThreadTtl;
  extracted?: JsonValue;
}

export interface ApiUsage {
  count: number;
  bytes: number;
}

/** The public ThreadStorage object (GET /threads/{id}/storage). */
export interface ApiThreadStorage {
  thread_id: string;
  total_bytes: number;
  checkpoints: ApiUsage;
  channel_values: ApiUsage & { by_channel: Record<string, { versions: number; bytes: number }> };
  pending_writes: ApiUsage;
}

const STATUS_NAMES: Record<ThreadStatus, ApiThreadStatus> = {
  [ThreadStatus.UNSPECIFIED]: "idle",
  [ThreadStatus.IDLE]: "idle",
  [ThreadStatus.BUSY]: "busy",
  [ThreadStatus.INTERRUPTED]: "interrupted",
  [ThreadStatus.ERROR]: "error",
};

const STATUS_VALUES: Record<ApiThreadStatus, ThreadStatus> = {
  idle: ThreadStatus.IDLE,
  busy: ThreadStatus.BUSY,
  interrupted: ThreadStatus.INTERRUPTED,
  error: ThreadStatus.ERROR,
};

export function toApiThreadStatus(status: ThreadStatus): ApiThreadStatus {
  return STATUS_NAMES[status] ?? "idle";
}

export function fromApiThreadStatus(status: ApiThreadStatus | undefined): ThreadStatus {
  return status === undefined ? ThreadStatus.UNSPECIFIED : STATUS_VALUES[status];
}

export function toApiTtlStrategy(strategy: TtlStrategy): ApiTtlStrategy {
  return strategy === TtlStrategy.KEEP_LATEST ? "keep_latest" : "delete";
}

export function fromApiTtlStrategy(strategy: ApiTtlStrategy | undefined): TtlStrategy {
  return strategy === "keep_latest" ? TtlStrategy.KEEP_LATEST : TtlStrategy.DELETE;
}

export interface ToApiThreadOptions {
  /** The request asked for extraction: `extracted` is always present, `{}` when nothing matched. */
  extracted?: boolean;
}

export function toApiThread(t: Thread, options: ToApiThreadOptions = {}): ApiThread {
  const thread: ApiThread = {
    thread_id: t.threadId,
    created_at: isoTimestamp(t.createTime),
    updated_at: isoTimestamp(t.updateTime),
    state_updated_at: isoTimestamp(t.stateUpdateTime),
    metadata: objectOrEmpty(t.metadata),
    config: objectOrEmpty(t.config),
    status: toApiThreadStatus(t.status),
    values: jsonFromBytes(t.valuesJson, null),
    interrupts: jsonFromBytes(t.interruptsJson, {}),
  };
  if (t.ttl !== undefined) thread.ttl = toApiThreadTtl(t.ttl);
  if (options.extracted || t.extractedJson.length > 0) thread.extracted = jsonFromBytes(t.extractedJson, {});
  return thread;
}

export function toApiThreadTtl(ttl: ThreadTtl): ApiThreadTtl {
  return {
    strategy: toApiTtlStrategy(ttl.strategy),
    ttl_minutes: ttl.ttlMinutes,
    expires_at: isoTimestamp(ttl.expireTime),
  };
}

export function toApiThreadStorage(s: ThreadStorage): ApiThreadStorage {
  const byChannel: Record<string, { versions: number; bytes: number }> = {};
  for (const [channel, usage] of Object.entries(s.channelValuesByChannel)) {
    byChannel[channel] = { versions: Number(usage.versions), bytes: Number(usage.bytes) };
  }
  return {
    thread_id: s.threadId,
    total_bytes: Number(s.totalBytes),
    checkpoints: { count: Number(s.checkpoints?.count ?? 0n), bytes: Number(s.checkpoints?.bytes ?? 0n) },
    channel_values: {
      count: Number(s.channelValues?.count ?? 0n),
      bytes: Number(s.channelValues?.bytes ?? 0n),
      by_channel: byChannel,
    },
    pending_writes: { count: Number(s.pendingWrites?.count ?? 0n), bytes: Number(s.pendingWrites?.bytes ?? 0n) },
  };
}

function fromApiTtl(ttl: ThreadTtlBody | undefined): ThreadTtl | undefined {
  if (ttl === undefined) return undefined;
  return create(ThreadTtlSchema, { strategy: fromApiTtlStrategy(ttl.strategy), ttlMinutes: ttl.ttl });
}

export function fromApiThreadCreate(body: ThreadCreateBody): CreateThreadRequest {
  return create(CreateThreadRequestSchema, {
    threadId: body.thread_id ?? "",
    metadata: body.metadata,
    ifExists: toIfExists(body.if_exists),
    ttl: fromApiTtl(body.ttl),
    superstepsJson: body.supersteps === undefined || body.supersteps.length === 0 ? new Uint8Array() : jsonBytes(body.supersteps),
  });
}

export function fromApiThreadPatch(threadId: string, body: ThreadPatchBody): UpdateThreadRequest {
  return create(UpdateThreadRequestSchema, {
    threadId,
    metadata: body.metadata,
    ttl: fromApiTtl(body.ttl),
  });
}

/** JSON bytes of an optional containment filter; empty when absent. */
function filterBytes(filter: JsonObject | undefined): Uint8Array {
  return filter === undefined ? new Uint8Array() : jsonBytes(filter);
}

export function fromApiThreadSearch(body: ThreadSearchBody): SearchThreadsRequest {
  return create(SearchThreadsRequestSchema, {
    ids: body.ids ?? [],
    metadata: body.metadata,
    valuesJson: filterBytes(body.values),
    status: fromApiThreadStatus(body.status),
    limit: body.limit ?? 10,
    offset: body.offset ?? 0,
    sortBy: body.sort_by ?? "",
    sortOrder: toSortOrder(body.sort_order),
    extract: body.extract ?? {},
  });
}

export function fromApiThreadCount(body: ThreadCountBody): CountThreadsRequest {
  return create(CountThreadsRequestSchema, {
    metadata: body.metadata,
    valuesJson: filterBytes(body.values),
    status: fromApiThreadStatus(body.status),
  });
}

export function fromApiThreadPrune(body: ThreadPruneBody): PruneThreadsRequest {
  return create(PruneThreadsRequestSchema, {
    threadIds: body.thread_ids,
    strategy: fromApiTtlStrategy(body.strategy),
  });
}
