import { createLogger, migrate, type Pool } from "@langopen/common";
import { createTestDatabase } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { MIGRATIONS_DIR } from "../migrations.js";
import { createItemStore, escapeLike, type ItemStore } from "./item-store.js";
import { createPool } from "./sql.js";

const logger = createLogger({ service: "test", level: "silent" });

let pool: Pool;
let drop: () => Promise<void>;
let items: ItemStore;

beforeAll(async () => {
  const database = await createTestDatabase(inject("databaseUrl"));
  drop = database.drop;
  await migrate(database.url, MIGRATIONS_DIR, logger);
  pool = createPool({ connectionString: database.url, applicationName: "item-store-test" }, logger);
  items = createItemStore(pool);
  for (const namespace of [
    ["users", "alice"],
    ["users\\", "bob"],
    ["users%", "carol"],
    ["users_x", "dave"],
    ["usersAx", "erin"],
  ]) {
    await items.put(namespace, "k", JSON.stringify({ who: namespace[1] }), undefined);
  }
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await drop?.();
});

const whoUnder = async (prefix: string[]) =>
  (await items.search(prefix, undefined, 100, 0, false)).map((row) => (JSON.parse(row.value_text) as { who: string }).who).sort();

describe("item search by namespace prefix", () => {
  it("matches a prefix's LIKE characters literally: backslash, percent and underscore", async () => {
    expect(await whoUnder(["users\\"])).toEqual(["bob"]);
    expect(await whoUnder(["users%"])).toEqual(["carol"]);
    expect(await whoUnder(["users_x"])).toEqual(["dave"]);
    expect(await whoUnder(["users"])).toEqual(["alice"]);
    expect(await whoUnder(["users", "alice"])).toEqual(["alice"]);
  });

  it("escapes the escape character before the wildcards", () => {
    expect(escapeLike("a\\%_b")).toBe("a\\\\\\%\\_b");
  });
});
