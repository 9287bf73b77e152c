import { type Static, Type } from "typebox";
import { JsonObject, Limit, Nullable, QueryBool, QueryList, Uuid } from "./common.js";
import { CheckpointConfig, CheckpointSelector } from "./runs.js";

/** GET /threads/{thread_id}/state[/{checkpoint_id}]: `select` is accepted and ignored. */
export const StateQuery = Type.Object({
  subgraphs: Type.Optional(QueryBool()),
  select: Type.Optional(QueryList()),
});

export const StateCheckpointParams = Type.Object({
  thread_id: Uuid(),
  checkpoint_id: Type.String({ minLength: 1 }),
});

/** POST /threads/{thread_id}/state/checkpoint (upstream ThreadStateCheckpointRequest). */
export const StateCheckpointBody = Type.Object({
  checkpoint: CheckpointConfig,
  subgraphs: Type.Optional(Type.Boolean()),
});
export type StateCheckpointBody = Static<typeof StateCheckpointBody>;

/** POST /threads/{thread_id}/state (upstream ThreadStateUpdate, plus the SDKs' `checkpoint_id`). */
export const StateUpdateBody = Type.Object({
  values: Type.Optional(
    Type.Union([JsonObject(), Type.Array(Type.Unknown()), Type.Null()], { errorMessage: "must be an object, a list or null" }),
  ),
  checkpoint: Type.Optional(Nullable(CheckpointConfig, "must be a checkpoint object or null")),
  checkpoint_id: Type.Optional(Nullable(Type.String(), "must be a string or null")),
  as_node: Type.Optional(Nullable(Type.String(), "must be a string or null")),
});
export type StateUpdateBody = Static<typeof StateUpdateBody>;

/** PATCH /threads/{thread_id}/state: not in the spec; the JS SDK's `threads.patchState`. */
export const StatePatchBody = Type.Object({
  metadata: JsonObject(),
  checkpoint: Type.Optional(Nullable(CheckpointConfig, "must be a checkpoint object or null")),
});
export type StatePatchBody = Static<typeof StatePatchBody>;

/** GET /threads/{thread_id}/history. */
export const HistoryQuery = Type.Object({
  limit: Type.Optional(Limit()),
  before: Type.Optional(Type.String()),
  select: Type.Optional(QueryList()),
});

/**
 * POST /threads/{thread_id}/history (upstream ThreadStateSearch). The spec's default limit is 1;
 * the SDKs always send one, and 10 is used without.
 */
export const HistoryBody = Type.Object({
  limit: Type.Optional(Limit()),
  before: Type.Optional(CheckpointSelector),
  metadata: Type.Optional(Nullable(JsonObject(), "must be an object or null")),
  checkpoint: Type.Optional(Nullable(CheckpointConfig, "must be a checkpoint object or null")),
});
export type HistoryBody = Static<typeof HistoryBody>;
