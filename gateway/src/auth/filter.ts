import { create } from "@bufbuild/protobuf";
import { type FilterCondition, FilterConditionSchema, FilterOperator } from "@langopen/gen/langopen/data/v1/caller_pb";

/** A filter an auth handler returned that LangOpen cannot apply: the request fails with 500, logged. */
export class UnsupportedFilterError extends Error {}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The typed conditions of a filter as auth handlers write it: `{key: value}` or
 * `{key: {$eq: value}}` (equal), `{key: {$contains: value}}` (an array holding value, or every
 * element of an array value); several keys must all hold. An operator other than these is refused
 * rather than ignored: ignoring it would widen what the caller sees.
 */
export function filterConditions(filter: unknown): FilterCondition[] {
  if (filter === undefined || filter === null) return [];
  if (!isPlainObject(filter)) throw new UnsupportedFilterError(`An auth filter must be an object, got ${typeof filter}`);
  const conditions: FilterCondition[] = [];
  for (const [field, spec] of Object.entries(filter)) {
    const operators = isPlainObject(spec) ? Object.keys(spec).filter((k) => k.startsWith("$")) : [];
    if (operators.length === 0) {
      conditions.push(condition(field, FilterOperator.EQ, spec));
      continue;
    }
    const ops = spec as Record<string, unknown>;
    if (operators.length !== Object.keys(ops).length) {
      throw new UnsupportedFilterError(`Auth filter on "${field}" mixes operators and fields`);
    }
    for (const op of operators) {
      if (op === "$eq") conditions.push(condition(field, FilterOperator.EQ, ops[op]));
      else if (op === "$contains") conditions.push(condition(field, FilterOperator.CONTAINS, ops[op]));
      else throw new UnsupportedFilterError(`Auth filter operator ${op} on "${field}" is not supported ($eq, $contains are)`);
    }
  }
  return conditions;
}

function condition(field: string, operator: FilterOperator, value: unknown): FilterCondition {
  if (value === undefined) throw new UnsupportedFilterError(`Auth filter on "${field}" has no value`);
  return create(FilterConditionSchema, { field, operator, valueJson: JSON.stringify(value) });
}
