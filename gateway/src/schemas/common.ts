import type { JsonObject as ProtoJsonObject } from "@bufbuild/protobuf";
import { isUuid } from "@langopen/common";
import { type TSchema, Type } from "typebox";
import { Format } from "typebox/format";

/*
 * Building blocks of the public request schemas. None of the upstream request schemas forbids
 * unknown properties, and the SDKs send keys the spec does not list, so objects stay open.
 * `errorMessage` is ours: the validator uses it as the sentence after the field name.
 */

// `format: "uuid"` is the platform's one definition of a UUID (common's isUuid: any 8-4-4-4-12 hex
// string, in any case, no version or variant check), not whatever TypeBox's own check is. Every
// schema module imports this one, so the format is set before any schema is compiled.
Format.Set("uuid", isUuid);

/** A UUID: any 8-4-4-4-12 hex string, in any case (the api-server stores it in lower case). */
export const Uuid = (options: { description?: string } = {}) =>
  Type.String({ format: "uuid", errorMessage: "must be a UUID", ...options });

/** Any JSON object (not an array, not null); typed as protobuf-es's JsonObject, which Struct fields take. */
export const JsonObject = (options: { description?: string } = {}) =>
  Type.Unsafe<ProtoJsonObject>(Type.Record(Type.String(), Type.Unknown(), { errorMessage: "must be a JSON object", ...options }));

/** A closed set of strings. */
export const StringEnum = <const T extends readonly string[]>(
  values: T,
  options: { description?: string; default?: T[number] } = {},
) =>
  Type.Enum([...values] as T[number][], {
    errorMessage: `must be one of ${values.map((v) => JSON.stringify(v)).join(", ")}`,
    ...options,
  });

export const Nullable = <T extends TSchema>(schema: T, errorMessage: string) =>
  Type.Union([schema, Type.Null()], { errorMessage });

/** Page size of search and list endpoints (public default 10). */
export const Limit = (defaultValue = 10) =>
  Type.Integer({ minimum: 1, maximum: 1000, default: defaultValue, errorMessage: "must be an integer from 1 to 1000" });

export const Offset = () => Type.Integer({ minimum: 0, default: 0, errorMessage: "must be an integer >= 0" });

export const SortOrder = StringEnum(["asc", "desc"] as const);

/**
 * A boolean in a query string: the SDKs and curl users send true/false, 1/0 or yes/no in any
 * case (Python sends True/False). Decode it with `queryBool`.
 */
export const QueryBool = () =>
  Type.String({
    pattern: "^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Yy][Ee][Ss]|[Nn][Oo]|1|0)$",
    errorMessage: "must be a boolean (true, false, 1, 0, yes or no)",
  });

/** A query parameter that may be repeated (`a=x&a=y`). */
export const QueryList = () => Type.Union([Type.String(), Type.Array(Type.String())], { errorMessage: "must be a string" });

/** An assistant id path parameter: an assistant UUID or a graph id, which the api-server resolves. */
export const AssistantIdParams = Type.Object({
  assistant_id: Type.String({ minLength: 1, errorMessage: "must be an assistant id or a graph id" }),
});

export const ThreadIdParams = Type.Object({
  thread_id: Uuid(),
});
