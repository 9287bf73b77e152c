import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { parseJsonBytes } from "@langopen/common";
import { IfExists, SortOrder } from "@langopen/gen/langopen/data/v1/common_pb";

/**
 * A Timestamp as the public API writes it: ISO-8601, microsecond precision, explicit UTC offset
 * (`2024-06-25T17:10:33.109781+00:00`), as the hosted server does. Null when absent.
 */
export function isoTimestamp(ts: Timestamp | undefined): string | null {
  if (ts === undefined) return null;
  const date = new Date(Number(ts.seconds) * 1000);
  const micros = Math.floor(ts.nanos / 1000)
    .toString()
    .padStart(6, "0");
  return `${date.toISOString().slice(0, 19)}.${micros}+00:00`;
}

/** JSON carried as bytes; empty bytes give the fallback. */
export function jsonFromBytes<T extends JsonValue | null>(bytes: Uint8Array, fallback: T): JsonValue | T {
  return parseJsonBytes<JsonValue | T>(bytes, fallback);
}

/** A Struct field's value, or an empty object when it is absent. */
export function objectOrEmpty(value: JsonObject | undefined): JsonObject {
  return value ?? {};
}

/** Trims an object to the listed top-level fields (the `select` of search endpoints). */
export function selectFields<T extends object>(value: T, fields: readonly string[] | undefined): Partial<T> {
  if (fields === undefined || fields.length === 0) return value;
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    if (Object.hasOwn(value, field)) out[field] = (value as Record<string, unknown>)[field];
  }
  return out as Partial<T>;
}

/** A query-string boolean already checked by the QueryBool schema; undefined when absent. */
export function queryBool(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  return /^(?:true|1|yes)$/i.test(value);
}

/**
 * A JSON-stringified list in one query value (`["a","b"]`), which the hosted server accepts for
 * array parameters besides repeated keys; undefined when the value is not one.
 */
export function jsonListParam(value: string): string[] | undefined {
  if (!value.startsWith("[")) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) && parsed.every((v) => typeof v === "string") ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** A query parameter given repeated, comma-joined or as a JSON list, as one flat list. */
export function queryList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const values = Array.isArray(value) ? value : [value];
  return values
    .flatMap((v) => jsonListParam(v) ?? v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "");
}

export function toSortOrder(order: "asc" | "desc" | undefined): SortOrder {
  switch (order) {
    case "asc":
      return SortOrder.ASC;
    case "desc":
      return SortOrder.DESC;
    default:
      return SortOrder.UNSPECIFIED;
  }
}

/** `if_exists`, whose public default is `raise`. */
export function toIfExists(value: "raise" | "do_nothing" | undefined): IfExists {
  return value === "do_nothing" ? IfExists.DO_NOTHING : IfExists.RAISE;
}

/** The pagination headers of the search endpoints: the total, and the next offset when another page exists. */
export function paginationHeaders(offset: number, returned: number, total: number): Record<string, string> {
  const headers: Record<string, string> = { "x-pagination-total": String(total) };
  const next = offset + returned;
  if (returned > 0 && next < total) headers["x-pagination-next"] = String(next);
  return headers;
}

/** A message field the api-server always sets; its absence is an internal fault (answered 500). */
export function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`api-server answered without ${what}`);
  return value;
}

/** JSON bytes passed through untouched, as a Buffer Fastify sends as is; `{}` when empty. */
export function jsonPassThrough(bytes: Uint8Array): Buffer {
  return bytes.length === 0 ? Buffer.from("{}") : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
