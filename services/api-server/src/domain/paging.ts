import { invalidArgument } from "@langopen/common";
import { SortOrder } from "@langopen/gen/langopen/data/v1/common_pb";

export const MAX_LIMIT = 1000;

/** Limit and offset as the public API bounds them (limit 1..1000, default 10). */
export function page(limit: number, offset: number, defaultLimit = 10): { limit: number; offset: number } {
  if (limit < 0 || limit > MAX_LIMIT)
    throw invalidArgument(`limit must be between 1 and ${MAX_LIMIT}`, [{ field: "limit", description: "out of range" }]);
  if (offset < 0) throw invalidArgument("offset must not be negative", [{ field: "offset", description: "out of range" }]);
  return { limit: limit === 0 ? defaultLimit : limit, offset };
}

/** Checks a sort key against the allowed ones; empty means the default. */
export function sortKey(value: string, allowed: readonly string[], fallback: string): string {
  if (value === "") return fallback;
  if (!allowed.includes(value)) {
    throw invalidArgument(`sort_by must be one of ${allowed.join(", ")}`, [
      { field: "sort_by", description: "unknown sort key" },
    ]);
  }
  return value;
}

/** Descending unless asked for ascending. */
export const isDesc = (order: SortOrder) => order !== SortOrder.ASC;
