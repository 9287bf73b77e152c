import { type Static, Type } from "typebox";
import { JsonObject, Limit, Nullable, Offset, QueryBool, QueryList } from "./common.js";

/** A namespace label: not empty, no "." (the GET endpoint joins labels with dots). */
export const NamespaceLabel = () => Type.String({ pattern: "^[^.]+$", errorMessage: "must be a non-empty label without '.'" });

const Namespace = () => Type.Array(NamespaceLabel());

/** PUT /store/items (upstream StorePutRequest). */
export const StorePutBody = Type.Object({
  namespace: Namespace(),
  key: Type.String(),
  value: JsonObject(),
  index: Type.Optional(
    Type.Union([Type.Literal(false), Type.Array(Type.String()), Type.Null()], {
      errorMessage: "must be false, a list of field paths, or null",
    }),
  ),
  ttl: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0 }), "must be a number of minutes > 0, or null")),
});
export type StorePutBody = Static<typeof StorePutBody>;

/** DELETE /store/items (upstream StoreDeleteRequest); a DELETE with a JSON body. */
export const StoreDeleteBody = Type.Object({
  namespace: Type.Optional(Namespace()),
  key: Type.String(),
});
export type StoreDeleteBody = Static<typeof StoreDeleteBody>;

/** GET /store/items: `namespace` is one dot-joined string (the SDKs), or repeated labels (the spec). */
export const StoreGetQuery = Type.Object({
  key: Type.String(),
  namespace: Type.Optional(QueryList()),
  refresh_ttl: Type.Optional(QueryBool()),
});

/** POST /store/items/search (upstream StoreSearchRequest). */
export const StoreSearchBody = Type.Object({
  namespace_prefix: Type.Optional(Nullable(Namespace(), "must be a list of labels or null")),
  filter: Type.Optional(Nullable(JsonObject(), "must be an object or null")),
  limit: Type.Optional(Limit()),
  offset: Type.Optional(Offset()),
  query: Type.Optional(Nullable(Type.String(), "must be a string or null")),
  refresh_ttl: Type.Optional(Nullable(Type.Boolean(), "must be a boolean or null")),
});
export type StoreSearchBody = Static<typeof StoreSearchBody>;

/** POST /store/namespaces (upstream StoreListNamespacesRequest). */
export const StoreNamespacesBody = Type.Object({
  prefix: Type.Optional(Namespace()),
  suffix: Type.Optional(Namespace()),
  max_depth: Type.Optional(Type.Integer({ minimum: 1, errorMessage: "must be an integer >= 1" })),
  limit: Type.Optional(Limit(100)),
  offset: Type.Optional(Offset()),
});
export type StoreNamespacesBody = Static<typeof StoreNamespacesBody>;
