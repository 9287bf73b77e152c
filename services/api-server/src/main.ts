import { ConfigError, createLogger, loadConfig } from "@langopen/common";
import { graphIdsOf, startApiServer } from "./compose.js";
import { ApiServerConfigSchema } from "./config.js";

async function main(): Promise<void> {
  const config = loadConfig(ApiServerConfigSchema, process.env);
  const logger = createLogger({ service: "api-server", level: config.LOG_LEVEL });
  const server = await startApiServer(
    {
      databaseUrl: config.DATABASE_URL,
      host: config.RPC_HOST,
      port: config.RPC_PORT,
      poolSize: config.DATABASE_POOL_SIZE,
      graphIds: await graphIdsOf(config.LANGOPEN_CONFIG),
      refreshTtlOnRead: config.STORE_REFRESH_TTL_ON_READ,
    },
    logger,
  );
  const stop = async (signal: string) => {
    logger.info({ signal }, "Stopping api-server");
    await server.stop(config.SHUTDOWN_GRACE_MS);
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
