import { create, type JsonObject } from "@bufbuild/protobuf";
import { jsonBytes } from "@langopen/common";
import type { CheckpointRef } from "@langopen/gen/langopen/data/v1/thread_pb";
import {
  type GetThreadHistoryRequest,
  GetThreadHistoryRequestSchema,
  type PatchThreadStateRequest,
  PatchThreadStateRequestSchema,
  type UpdateThreadStateRequest,
  UpdateThreadStateRequestSchema,
} from "@langopen/gen/langopen/data/v1/thread_service_pb";
import type { HistoryBody, StatePatchBody, StateUpdateBody } from "../schemas/state.js";
import { checkpointWithId, selectorToCheckpointRef, toCheckpointRef } from "./runs.js";

/** The public address of a checkpoint. */
export interface ApiCheckpoint {
  thread_id: string;
  checkpoint_ns: string;
  checkpoint_id: string;
  checkpoint_map: JsonObject | null;
}

export function toApiCheckpoint(ref: CheckpointRef): ApiCheckpoint {
  return {
    thread_id: ref.threadId,
    checkpoint_ns: ref.checkpointNs,
    checkpoint_id: ref.checkpointId,
    checkpoint_map: ref.checkpointMap ?? null,
  };
}

/** POST /threads/{thread_id}/state: `checkpoint` or `checkpoint_id` forks from that checkpoint. */
export function fromApiStateUpdate(threadId: string, body: StateUpdateBody): UpdateThreadStateRequest {
  return create(UpdateThreadStateRequestSchema, {
    threadId,
    // Absent values are sent as null: the update still runs `as_node`.
    valuesJson: jsonBytes(body.values ?? null),
    checkpoint: checkpointWithId(body.checkpoint, body.checkpoint_id),
    asNode: body.as_node ?? "",
  });
}

/** PATCH /threads/{thread_id}/state: the metadata of the latest (or the given) checkpoint. */
export function fromApiStatePatch(threadId: string, body: StatePatchBody): PatchThreadStateRequest {
  return create(PatchThreadStateRequestSchema, {
    threadId,
    checkpoint: toCheckpointRef(body.checkpoint),
    metadata: body.metadata,
  });
}

/** POST /threads/{thread_id}/history. */
export function fromApiHistorySearch(threadId: string, body: HistoryBody): GetThreadHistoryRequest {
  return create(GetThreadHistoryRequestSchema, {
    threadId,
    limit: body.limit ?? 10,
    before: selectorToCheckpointRef(body.before),
    metadata: body.metadata ?? undefined,
    checkpoint: toCheckpointRef(body.checkpoint),
  });
}

/** GET /threads/{thread_id}/history. */
export function fromApiHistoryQuery(threadId: string, query: { limit?: number; before?: string }): GetThreadHistoryRequest {
  return fromApiHistorySearch(threadId, { limit: query.limit, before: query.before });
}

const OPEN = Buffer.from("[");
const COMMA = Buffer.from(",");
const CLOSE = Buffer.from("]");

/** A JSON array of JSON documents given as bytes, joined without parsing them. */
export function jsonArrayOf(items: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [OPEN];
  items.forEach((item, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(item.length === 0 ? Buffer.from("null") : Buffer.from(item.buffer, item.byteOffset, item.byteLength));
  });
  parts.push(CLOSE);
  return Buffer.concat(parts);
}
