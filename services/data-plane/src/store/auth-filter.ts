import type { JsonValue } from "@bufbuild/protobuf";

/*
 * The owner filters of LangGraph custom auth, applied in SQL. An auth handler may answer a filter
 * such as `{owner: "alice"}` or `{namespace: {$contains: "alice"}}`; the caller then sees only the
 * resources whose document matches it. Upstream matches in memory after reading up to a scan cap;
 * here the filter is one more WHERE clause, so searches, counts and pages are right at any size
 * and the GIN indexes on the metadata columns (jsonb_path_ops) serve it.
 */

/**
 * `eq`: the field equals the value. `contains`: the field is an array holding the value (every
 * element of it when the value is an array).
 */
export type AuthOperator = "eq" | "contains";

export interface AuthCondition {
  field: string;
  operator: AuthOperator;
  value: JsonValue;
}

/** An auth filter: it holds when all its conditions do. Empty (or absent): no restriction. */
export type AuthFilter = readonly AuthCondition[];

/** Where a clause's values go: a parameter list that answers each value's placeholder ($n). */
export interface SqlParams {
  param(value: unknown): string;
}

/** Whether a filter restricts anything. */
export const restricts = (filter: AuthFilter | undefined): filter is AuthFilter => filter !== undefined && filter.length > 0;

/**
 * The SQL condition that a jsonb document (an expression, e.g. `metadata`) matches the filter,
 * every value a parameter; undefined when the filter restricts nothing.
 *
 * Scalars and arrays are matched by containment, which the GIN indexes answer:
 * - eq with a scalar: `doc @> {"field": v}`. Containment of a scalar at a key is equality
 *   (a missing key, or null where v is not, does not match);
 * - contains: `doc @> {"field": [v]}` (or `{"field": v}` for an array v): the field is an array
 *   holding v, or every element of v.
 * eq with an array or an object compares the whole value (`doc -> field = v`): containment would
 * also accept a larger one.
 */
export function authFilterSql(filter: AuthFilter | undefined, doc: string, sql: SqlParams): string | undefined {
  if (!restricts(filter)) return undefined;
  const clauses = filter.map(({ field, operator, value }) => {
    if (operator === "eq" && value !== null && typeof value === "object") {
      return `(${doc}) -> ${sql.param(field)}::text = ${sql.param(JSON.stringify(value))}::jsonb`;
    }
    const operand = operator === "eq" || Array.isArray(value) ? value : [value];
    return `(${doc}) @> ${sql.param(JSON.stringify({ [field]: operand }))}::jsonb`;
  });
  return `(${clauses.join(" AND ")})`;
}

/** As authFilterSql, but `true` when the filter restricts nothing: for places that need a condition. */
export function authMatchSql(filter: AuthFilter | undefined, doc: string, sql: SqlParams): string {
  return authFilterSql(filter, doc, sql) ?? "true";
}

/** The document a run is matched by: its thread's metadata (a run whose thread is gone matches no filter). */
export function runThreadMatchSql(filter: AuthFilter | undefined, runAlias: string, sql: SqlParams): string | undefined {
  const match = authFilterSql(filter, "auth_t.metadata", sql);
  return match && `EXISTS (SELECT 1 FROM threads auth_t WHERE auth_t.thread_id = ${runAlias}.thread_id AND ${match})`;
}

/**
 * The document a store item is matched by, built from its columns (of the table or alias given):
 * its value with its namespace and key set over it, `{...value, namespace: [...labels], key}`, as
 * upstream matches items.
 */
export function itemAuthDoc(table = "store_items"): string {
  return `${table}.value || jsonb_build_object('namespace', to_jsonb(${table}.namespace), 'key', ${table}.key)`;
}
