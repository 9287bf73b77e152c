import { randomBytes } from "node:crypto";
import pg from "pg";

/** A database of its own on a shared server, so each test file starts from an empty schema. */
export interface TestDatabase {
  /** The server URL with the database name swapped in. */
  readonly url: string;
  readonly name: string;
  /** Drops the database, disconnecting whoever is still connected. Safe to call more than once. */
  drop(): Promise<void>;
}

/**
 * Creates a uniquely named database on the server of `baseUrl` (a superuser URL, such as the
 * `databaseUrl` the global setup provides).
 */
export async function createTestDatabase(baseUrl: string): Promise<TestDatabase> {
  const name = `test_${process.pid}_${randomBytes(6).toString("hex")}`;
  await withAdmin(baseUrl, async (admin) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
        return;
      } catch (err) {
        // 55006: "source database template1 is being accessed by other users", a transient clash
        // with another CREATE DATABASE running at the same moment.
        if ((err as { code?: unknown }).code !== "55006" || attempt >= 5) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  });
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    name,
    drop() {
      dropped ??= withAdmin(baseUrl, async (admin) => {
        await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(name)} WITH (FORCE)`);
      });
      return dropped;
    },
  };
}

async function withAdmin(baseUrl: string, work: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 10_000 });
  client.on("error", () => {}); // a lost connection surfaces through the query instead
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}
