import { createRequire } from "node:module";
import { ConfigError, createLogger, createReplicatedTransport, loadConfig, stopOnSignals, urlList } from "@langopen/common";
import { buildApp } from "./app.js";
import { loadAuth } from "./auth/index.js";
import { type GatewayConfig, GatewayConfigSchema } from "./config.js";

function readConfig(): Readonly<GatewayConfig> {
  try {
    return loadConfig(GatewayConfigSchema, process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

const config = readConfig();

const { version } = createRequire(import.meta.url)("../package.json") as { version: string };
const logger = createLogger({ service: "gateway", level: config.LOG_LEVEL, version });
const transport = createReplicatedTransport(urlList(config.API_SERVER_URL));
const auth = await loadAuth({
  apiKeys: config.LANGOPEN_API_KEYS,
  apiKeysFile: config.LANGOPEN_API_KEYS_FILE,
  runtime: config.AUTH_RUNTIME_URL ? createReplicatedTransport(urlList(config.AUTH_RUNTIME_URL)) : undefined,
});
const app = await buildApp({
  logger,
  transport,
  auth,
  bodyLimitBytes: config.BODY_LIMIT_BYTES,
  sseHeartbeatMs: config.SSE_HEARTBEAT_MS,
  info: { version },
});
await app.listen({
  port: config.PORT,
  host: config.HOST,
  listenTextResolver: (address) => `Started gateway at ${address} for the api-server at ${config.API_SERVER_URL}`,
});

stopOnSignals(logger, "gateway", () => app.close(), { forceAfterMs: config.SHUTDOWN_GRACE_MS });
