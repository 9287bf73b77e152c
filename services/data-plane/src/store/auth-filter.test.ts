import { randomUUID } from "node:crypto";
import type { JsonObject } from "@bufbuild/protobuf";
import { createLogger, migrate, type Pool } from "@langopen/common";
import { createTestDatabase } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { MIGRATIONS_DIR } from "../migrations.js";
import { type AuthFilter, authFilterSql, itemAuthDoc } from "./auth-filter.js";
import { createItemStore } from "./item-store.js";
import { Conditions, createPool } from "./sql.js";

/*
 * The auth filter's SQL on real Postgres: which documents each operator matches (the semantics
 * of upstream's isAuthMatching, with eq on arrays and objects comparing whole values), that
 * values and field names only ever travel as parameters, and that the GIN index can serve it.
 */

const logger = createLogger({ service: "test", level: "silent" });
let pool: Pool;
let drop: () => Promise<void>;

/** The documents filtered below, by name. */
const DOCS: Record<string, JsonObject> = {
  alice: { owner: "alice", teams: ["red", "blue"], level: 3, tags: { a: 1 } },
  bob: { owner: "bob", teams: ["blue"], level: 3.0, tags: { a: 1, b: 2 } },
  nobody: { teams: "red", owner: null },
  empty: {},
  nested: { owner: ["alice"], teams: [["red"]] },
};
const ids: Record<string, string> = {};

beforeAll(async () => {
  const database = await createTestDatabase(inject("databaseUrl"));
  drop = database.drop;
  await migrate(database.url, MIGRATIONS_DIR, logger);
  pool = createPool({ connectionString: database.url, applicationName: "auth-filter-test" }, logger);
  for (const [name, metadata] of Object.entries(DOCS)) {
    ids[name] = randomUUID();
    await pool.query("INSERT INTO threads (thread_id, metadata) VALUES ($1, $2::jsonb)", [ids[name], JSON.stringify(metadata)]);
  }
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await drop?.();
});

/** The names of the documents the filter matches, sorted. */
async function matching(filter: AuthFilter | undefined): Promise<string[]> {
  const c = new Conditions().add("thread_id = ANY(?::uuid[])", Object.values(ids));
  const match = authFilterSql(filter, "metadata", c);
  if (match) c.raw(match);
  const { rows } = await pool.query<{ thread_id: string }>(`SELECT thread_id FROM threads ${c.where()}`, c.params);
  const byId = new Map(Object.entries(ids).map(([name, id]) => [id, name]));
  return rows.map((r) => byId.get(r.thread_id) as string).sort();
}

describe("authFilterSql", () => {
  it("restricts nothing when there is no filter or an empty one", async () => {
    expect(authFilterSql(undefined, "metadata", new Conditions())).toBeUndefined();
    expect(authFilterSql([], "metadata", new Conditions())).toBeUndefined();
    expect(await matching([])).toEqual(Object.keys(DOCS).sort());
  });

  it("matches eq on a scalar by equality: a missing key, null or an array holding it do not match", async () => {
    expect(await matching([{ field: "owner", operator: "eq", value: "alice" }])).toEqual(["alice"]);
    expect(await matching([{ field: "level", operator: "eq", value: 3 }])).toEqual(["alice", "bob"]);
    expect(await matching([{ field: "owner", operator: "eq", value: null }])).toEqual(["nobody"]);
    expect(await matching([{ field: "missing", operator: "eq", value: "x" }])).toEqual([]);
    expect(await matching([{ field: "level", operator: "eq", value: "3" }])).toEqual([]);
  });

  it("matches eq on an array or an object as the whole value, not a part of it", async () => {
    expect(await matching([{ field: "teams", operator: "eq", value: ["blue"] }])).toEqual(["bob"]);
    expect(await matching([{ field: "teams", operator: "eq", value: ["red", "blue"] }])).toEqual(["alice"]);
    expect(await matching([{ field: "tags", operator: "eq", value: { a: 1 } }])).toEqual(["alice"]);
    expect(await matching([{ field: "owner", operator: "eq", value: ["alice"] }])).toEqual(["nested"]);
  });

  it("matches contains on an array field holding the value, or every element of an array value", async () => {
    expect(await matching([{ field: "teams", operator: "contains", value: "blue" }])).toEqual(["alice", "bob"]);
    expect(await matching([{ field: "teams", operator: "contains", value: "red" }])).toEqual(["alice"]);
    expect(await matching([{ field: "teams", operator: "contains", value: ["red", "blue"] }])).toEqual(["alice"]);
    expect(await matching([{ field: "teams", operator: "contains", value: ["blue"] }])).toEqual(["alice", "bob"]);
    // Containment is of elements at the field, not deeper: [["red"]] holds no "red".
    expect(await matching([{ field: "teams", operator: "contains", value: ["red"] }])).toEqual(["alice"]);
    // A scalar field is no array: "red" does not contain "red".
    expect(await matching([{ field: "teams", operator: "contains", value: "green" }])).toEqual([]);
    expect(await matching([{ field: "missing", operator: "contains", value: "red" }])).toEqual([]);
  });

  it("ANDs several conditions", async () => {
    const blueLevel3: AuthFilter = [
      { field: "teams", operator: "contains", value: "blue" },
      { field: "level", operator: "eq", value: 3 },
    ];
    expect(await matching(blueLevel3)).toEqual(["alice", "bob"]);
    expect(await matching([...blueLevel3, { field: "owner", operator: "eq", value: "bob" }])).toEqual(["bob"]);
    expect(
      await matching([
        { field: "owner", operator: "eq", value: "bob" },
        { field: "owner", operator: "contains", value: "bob" },
      ]),
    ).toEqual([]);
  });

  it("sends field names and values as parameters, never as SQL", async () => {
    const hostile = "x'); DELETE FROM threads; --";
    const c = new Conditions();
    const sql = authFilterSql(
      [
        { field: hostile, operator: "eq", value: hostile },
        { field: hostile, operator: "eq", value: { [hostile]: 1 } },
      ],
      "metadata",
      c,
    );
    expect(sql).not.toContain(hostile);
    expect(await matching([{ field: hostile, operator: "eq", value: hostile }])).toEqual([]);
    expect(await matching([{ field: hostile, operator: "contains", value: [hostile] }])).toEqual([]);
    expect(await matching([])).toHaveLength(Object.keys(DOCS).length);
  });

  it("can be answered from the threads' GIN index", async () => {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      // Few rows: make the planner show whether the index can serve the condition at all.
      await client.query("SET LOCAL enable_seqscan = off");
      const c = new Conditions();
      const match = authFilterSql(
        [
          { field: "owner", operator: "eq", value: "alice" },
          { field: "teams", operator: "contains", value: "red" },
        ],
        "metadata",
        c,
      );
      const { rows } = await client.query<{ "QUERY PLAN": string }>(`EXPLAIN SELECT * FROM threads WHERE ${match}`, c.params);
      expect(rows.map((r) => r["QUERY PLAN"]).join("\n")).toContain("threads_metadata");
    } finally {
      await client.query("ROLLBACK");
      client.release();
    }
  });
});

describe("store items", () => {
  it("are matched as {...value, namespace, key}, the real namespace and key over the value's", async () => {
    const items = createItemStore(pool);
    await items.put(["alice", "notes"], "n1", JSON.stringify({ kind: "note", namespace: ["bob"], key: "other" }), undefined);
    await items.put(["bob"], "n2", JSON.stringify({ kind: "note" }), undefined);
    const keysMatching = async (filter: AuthFilter) => {
      const c = new Conditions();
      const { rows } = await pool.query<{ key: string }>(
        `SELECT key FROM store_items WHERE ${authFilterSql(filter, itemAuthDoc(), c)} ORDER BY key`,
        c.params,
      );
      return rows.map((r) => r.key);
    };
    expect(await keysMatching([{ field: "namespace", operator: "contains", value: "alice" }])).toEqual(["n1"]);
    expect(await keysMatching([{ field: "namespace", operator: "contains", value: "bob" }])).toEqual(["n2"]);
    expect(await keysMatching([{ field: "namespace", operator: "eq", value: ["alice", "notes"] }])).toEqual(["n1"]);
    expect(await keysMatching([{ field: "key", operator: "eq", value: "n2" }])).toEqual(["n2"]);
    expect(await keysMatching([{ field: "kind", operator: "eq", value: "note" }])).toEqual(["n1", "n2"]);
  });
});
