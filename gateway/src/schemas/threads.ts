import { type Static, Type } from "typebox";
import { IfExists } from "./assistants.js";
import { JsonObject, Limit, Nullable, Offset, QueryList, SortOrder, StringEnum, Uuid } from "./common.js";

export const ThreadStatus = StringEnum(["idle", "busy", "interrupted", "error"] as const);

export const TtlStrategy = StringEnum(["delete", "keep_latest"] as const);

export const ThreadSortBy = StringEnum(["thread_id", "status", "created_at", "updated_at", "state_updated_at"] as const);

export const THREAD_FIELDS = [
  "thread_id",
  "created_at",
  "updated_at",
  "state_updated_at",
  "metadata",
  "config",
  "status",
  "values",
  "interrupts",
] as const;

/** `{strategy, ttl}`; the JS SDK turns a bare number into `{ttl, strategy: "delete"}`. */
export const ThreadTtlBody = Type.Object({
  strategy: Type.Optional(TtlStrategy),
  ttl: Type.Number({ exclusiveMinimum: 0, errorMessage: "must be a number of minutes > 0" }),
});
export type ThreadTtlBody = Static<typeof ThreadTtlBody>;

/** One update of a superstep (upstream ThreadSuperstepUpdate). */
export const SuperstepUpdate = Type.Object({
  values: Type.Optional(
    Type.Union([Type.Array(JsonObject()), JsonObject(), Type.Null()], {
      errorMessage: "must be an object, an array of objects or null",
    }),
  ),
  command: Type.Optional(Nullable(JsonObject(), "must be an object or null")),
  as_node: Type.String(),
});

const Superstep = Type.Object({
  updates: Type.Array(SuperstepUpdate),
});

/** POST /threads (upstream ThreadCreate). */
export const ThreadCreateBody = Type.Object({
  thread_id: Type.Optional(Uuid()),
  metadata: Type.Optional(JsonObject()),
  if_exists: Type.Optional(IfExists),
  ttl: Type.Optional(ThreadTtlBody),
  supersteps: Type.Optional(Type.Array(Superstep)),
});
export type ThreadCreateBody = Static<typeof ThreadCreateBody>;

/** PATCH /threads/{thread_id} (upstream ThreadPatch). */
export const ThreadPatchBody = Type.Object({
  metadata: Type.Optional(JsonObject()),
  ttl: Type.Optional(ThreadTtlBody),
});
export type ThreadPatchBody = Static<typeof ThreadPatchBody>;

/** POST /threads/search (upstream ThreadSearchRequest). */
export const ThreadSearchBody = Type.Object({
  ids: Type.Optional(Type.Array(Uuid())),
  metadata: Type.Optional(JsonObject()),
  values: Type.Optional(JsonObject()),
  status: Type.Optional(ThreadStatus),
  limit: Type.Optional(Limit()),
  offset: Type.Optional(Offset()),
  sort_by: Type.Optional(ThreadSortBy),
  sort_order: Type.Optional(SortOrder),
  select: Type.Optional(Type.Array(StringEnum(THREAD_FIELDS))),
  extract: Type.Optional(
    Type.Record(
      Type.String(),
      Type.String({
        pattern: "^(?:values|metadata|config|interrupts)(?:[.\\[].*)?$",
        errorMessage: "must be a path starting with values, metadata, config or interrupts",
      }),
      { maxProperties: 10 },
    ),
  ),
});
export type ThreadSearchBody = Static<typeof ThreadSearchBody>;

/** POST /threads/count (upstream ThreadCountRequest). */
export const ThreadCountBody = Type.Object({
  metadata: Type.Optional(JsonObject()),
  values: Type.Optional(JsonObject()),
  status: Type.Optional(ThreadStatus),
});
export type ThreadCountBody = Static<typeof ThreadCountBody>;

/** POST /threads/prune (upstream ThreadPruneRequest). */
export const ThreadPruneBody = Type.Object({
  thread_ids: Type.Array(Uuid()),
  strategy: Type.Optional(TtlStrategy),
});
export type ThreadPruneBody = Static<typeof ThreadPruneBody>;

/** GET /threads/{thread_id}: `include=ttl`, comma-joined (Python) or repeated (JS). */
export const ThreadGetQuery = Type.Object({
  include: Type.Optional(QueryList()),
});

/** The modes of GET /threads/{thread_id}/stream. */
export const THREAD_STREAM_MODES = ["run_modes", "lifecycle", "state_update"] as const;

/**
 * GET /threads/{thread_id}/stream: the SDKs send `stream_mode`, the spec says `stream_modes`;
 * either may be repeated, comma-joined or a JSON list (checked against THREAD_STREAM_MODES).
 */
export const ThreadStreamQuery = Type.Object({
  stream_mode: Type.Optional(QueryList()),
  stream_modes: Type.Optional(QueryList()),
});
export type ThreadStreamQuery = Static<typeof ThreadStreamQuery>;
