import { type Static, Type } from "typebox";
import { JsonObject, Limit, Nullable, Offset, QueryBool, SortOrder, StringEnum, Uuid } from "./common.js";

export const IfExists = StringEnum(["raise", "do_nothing"] as const, { default: "raise" });

export const AssistantSortBy = StringEnum(["assistant_id", "created_at", "updated_at", "name", "graph_id"] as const);

export const ASSISTANT_FIELDS = [
  "assistant_id",
  "graph_id",
  "name",
  "description",
  "config",
  "context",
  "created_at",
  "updated_at",
  "metadata",
  "version",
] as const;

/** POST /assistants (upstream AssistantCreate). */
export const AssistantCreateBody = Type.Object({
  graph_id: Type.String({ minLength: 1 }),
  assistant_id: Type.Optional(Uuid()),
  config: Type.Optional(JsonObject()),
  context: Type.Optional(JsonObject()),
  metadata: Type.Optional(JsonObject()),
  if_exists: Type.Optional(IfExists),
  name: Type.Optional(Type.String()),
  description: Type.Optional(Nullable(Type.String(), "must be a string or null")),
});
export type AssistantCreateBody = Static<typeof AssistantCreateBody>;

/** PATCH /assistants/{assistant_id} (upstream AssistantPatch). Every field is optional. */
export const AssistantPatchBody = Type.Object({
  graph_id: Type.Optional(Type.String({ minLength: 1 })),
  config: Type.Optional(JsonObject()),
  context: Type.Optional(JsonObject()),
  metadata: Type.Optional(JsonObject()),
  name: Type.Optional(Type.String()),
  // The spec says string; a null means "leave it" like an absent field.
  description: Type.Optional(Nullable(Type.String(), "must be a string or null")),
});
export type AssistantPatchBody = Static<typeof AssistantPatchBody>;

/** POST /assistants/search (upstream AssistantSearchRequest). */
export const AssistantSearchBody = Type.Object({
  metadata: Type.Optional(JsonObject()),
  graph_id: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  limit: Type.Optional(Limit()),
  offset: Type.Optional(Offset()),
  sort_by: Type.Optional(AssistantSortBy),
  sort_order: Type.Optional(SortOrder),
  select: Type.Optional(Type.Array(StringEnum(ASSISTANT_FIELDS))),
});
export type AssistantSearchBody = Static<typeof AssistantSearchBody>;

/** POST /assistants/count (upstream AssistantCountRequest). */
export const AssistantCountBody = Type.Object({
  metadata: Type.Optional(JsonObject()),
  graph_id: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
});
export type AssistantCountBody = Static<typeof AssistantCountBody>;

/** POST /assistants/{assistant_id}/versions: the spec declares no body, the SDKs send this one. */
export const AssistantVersionsBody = Type.Object({
  metadata: Type.Optional(JsonObject()),
  limit: Type.Optional(Limit()),
  offset: Type.Optional(Offset()),
});
export type AssistantVersionsBody = Static<typeof AssistantVersionsBody>;

const Version = () => Type.Integer({ minimum: 1, errorMessage: "must be an integer >= 1" });

/** POST /assistants/{assistant_id}/latest: the SDKs send the version in the body, the spec in the query. */
export const AssistantLatestBody = Type.Object({
  version: Type.Optional(Version()),
});
export type AssistantLatestBody = Static<typeof AssistantLatestBody>;

export const AssistantLatestQuery = Type.Object({
  version: Type.Optional(Version()),
});

export const AssistantDeleteQuery = Type.Object({
  delete_threads: Type.Optional(QueryBool()),
});

/** `xray` is a boolean, or an integer depth. */
export const AssistantGraphQuery = Type.Object({
  xray: Type.Optional(
    Type.String({
      pattern: "^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Yy][Ee][Ss]|[Nn][Oo]|\\d{1,6})$",
      errorMessage: "must be a boolean or a non-negative integer",
    }),
  ),
});

export const AssistantSubgraphsQuery = Type.Object({
  recurse: Type.Optional(QueryBool()),
});

export const AssistantSubgraphParams = Type.Object({
  assistant_id: Type.String({ minLength: 1 }),
  namespace: Type.String({ minLength: 1 }),
});
