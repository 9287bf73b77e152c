import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Client, Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { KubeConfig } from "@kubernetes/client-node";
import { type BuildUser, createBuilderService } from "@langopen/builder";
import {
  generateInternalSecret,
  type Logger,
  loadOrCreateSigningKey,
  migrate,
  type Pool,
  type Registry,
  type RpcServer,
  StartupError,
  serverInterceptors,
  startPolling,
  startRpcServer,
} from "@langopen/common";
import { createPool } from "@langopen/data-plane";
import { BuilderService } from "@langopen/gen/langopen/builder/v1/builder_service_pb";
import { ApiKeyService } from "@langopen/gen/langopen/control/v1/api_key_service_pb";
import { AuditService } from "@langopen/gen/langopen/control/v1/audit_service_pb";
import { DeploymentService } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { SecretService } from "@langopen/gen/langopen/control/v1/secret_service_pb";
import { startEmbeddedPostgres } from "@langopen/launcher";
import pg from "pg";
import { createBundleKeyIssuer } from "./bundle-keys.js";
import { DeploymentDatabases } from "./database-store.js";
import type { Driver } from "./driver/contract.js";
import { KubernetesDriver, type SecretKeyRef } from "./driver/kubernetes.js";
import { LocalDriver } from "./driver/local.js";
import { checkOperatorKey, hashApiKey, newApiKey } from "./keys.js";
import { logSource } from "./logs.js";
import { createPlatformOidc, type PlatformOidcSettings } from "./oidc.js";
import { pipelinePass } from "./pipeline.js";
import { startPortalServer } from "./portal.js";
import { SecretBox } from "./secrets.js";
import {
  authenticatedCallerKey,
  CALLS_WITHOUT_CREDENTIAL,
  CONTROL_READ_MAX_BYTES,
  type ControlServiceOptions,
  callerOnHeaders,
  createAuthenticator,
  credentialOf,
  registerControlServices,
} from "./service.js";
import { ControlStore, type SandboxName } from "./store.js";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../migrations", import.meta.url));

/** Where a pod finds its own namespace. */
const POD_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/** The data plane each deployment runs: the launcher's entry point. */
const LAUNCHER_MAIN = path.join(path.dirname(fileURLToPath(import.meta.resolve("@langopen/launcher"))), "main.js");

export interface PlatformOptions {
  host: string;
  port: number;
  /** Where its RPCs are counted (langopen_rpc_server_*); served by main when METRICS_PORT asks. */
  metrics?: Registry;
  /** Where the platform keeps its Postgres (when embedded), keys, bundles, builds and deployments. */
  dataDir: string;
  /** Absent: an embedded Postgres in dataDir. */
  databaseUrl?: string;
  /** The first admin key; absent: generated (and returned once as `generatedAdminKey`). */
  adminKey?: string;
  /** The secrets key as text; absent: the file below, else made in dataDir. */
  secretsKey?: string;
  secretsKeyFile?: string;
  allowFileUrls?: boolean;
  buildTimeoutSeconds: number;
  buildConcurrency: number;
  npmCache?: string;
  /** The unprivileged user builds' git and npm run as; absent: this process's. */
  buildUser?: BuildUser | undefined;
  defaultSandbox: SandboxName;
  drainMs: number;
  keyCacheSeconds: number;
  /** Milliseconds between passes of the control loop (sooner when a change wakes it). */
  loopMs?: number;
  /** Variables every data plane gets (default: PATH and HOME). */
  dataPlaneEnv?: Record<string, string | undefined>;
  /** What runs deployments (default: local, processes on this machine). */
  driver?: "local" | "kubernetes";
  /** The control plane's URL as data planes reach it; absent: the URL it listens on. */
  publicControlUrl?: string;
  /** The Kubernetes driver's settings. */
  kubernetes?: KubernetesPlatformOptions;
  /** The portal over HTTP/1.1 on its own port (0: any free one), the app at /portal/; absent: not served. */
  portal?: { port: number; dir?: string };
  /** An OpenID Connect provider whose users sign in (on both ports, and the portal offers it); absent: API keys only. */
  oidc?: PlatformOidcSettings;
}

export interface KubernetesPlatformOptions {
  /** Absent: the default (in a pod: its service account; else ~/.kube/config or KUBECONFIG). */
  kubeConfig?: KubeConfig;
  /** Absent: the pod's namespace, else "default". */
  namespace?: string;
  redisSecret?: SecretKeyRef;
  /** Default "langopen-signing-key". */
  publicKeyConfigMap?: string;
}

export interface Platform {
  /** The control plane's Connect/gRPC URL. */
  readonly url: string;
  /** The admin key made at this first start, when none was given: shown once. */
  readonly generatedAdminKey?: string;
  readonly server: RpcServer;
  /** The portal's URL (its app), when it is served. */
  readonly portalUrl?: string;
  stop(): Promise<void>;
}

/** The control plane's database on the platform's Postgres (made when missing); its URL. */
async function controlDatabase(adminUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = 'langopen_control'");
    if (found.rowCount === 0) await client.query("CREATE DATABASE langopen_control");
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = "/langopen_control";
  return url.toString();
}

/** The control plane's RPC services: every call of theirs carries its caller's credential (but CALLS_WITHOUT_CREDENTIAL). */
const CONTROL_SERVICES = [DeploymentService, ApiKeyService, SecretService, AuditService, BuilderService];
const CREDENTIAL_PATHS = CONTROL_SERVICES.map((service) => `/${service.typeName}/`);

/**
 * Builder calls come from this process (the pipeline, in process, with its token) or from an
 * admin key: a build runs a repository's code through git and npm, and writes signed bundles.
 */
function builderGuard(store: ControlStore, inProcessToken: string): Interceptor {
  return (next) => async (req) => {
    if (req.service.typeName !== BuilderService.typeName) return next(req);
    const header = req.header.get("authorization") ?? "";
    const token = /^Bearer +(\S+) *$/i.exec(header)?.[1];
    if (token === inProcessToken) return next(req);
    if (!token) throw new ConnectError("The builder needs an admin API key", Code.Unauthenticated);
    const key = await store.findApiKey(hashApiKey(token));
    if (!key) throw new ConnectError("The API key is not valid (unknown or revoked)", Code.Unauthenticated);
    if (key.role !== "ADMIN" || key.deployment_id !== null)
      throw new ConnectError("Only an admin key for every deployment may call the builder directly", Code.PermissionDenied);
    return next(req);
  };
}

/** The first admin key, when the platform has no key at all. */
async function bootstrapAdminKey(store: ControlStore, given: string | undefined, logger: Logger): Promise<string | undefined> {
  if ((await store.countApiKeys()) > 0) return undefined;
  if (given) checkOperatorKey(given);
  const fresh = newApiKey();
  const key = given ?? fresh.key;
  const row = await store.insertApiKey({
    name: "admin",
    role: "ADMIN",
    deploymentId: null,
    prefix: key.slice(0, 10),
    sha256: hashApiKey(key),
    createdBy: "",
  });
  await store.audit({
    actor: "system",
    actorName: "platform",
    action: "api_key.create",
    target: row.key_id,
    details: { name: "admin", role: "ADMIN", from: given ? "LANGOPEN_ADMIN_KEY" : "generated" },
    allowed: true,
  });
  logger.info(
    { key_id: row.key_id },
    given ? "Created the first admin key from LANGOPEN_ADMIN_KEY" : "Generated the first admin key",
  );
  return given ? undefined : key;
}

/** The control plane, the builder and the local driver in one process, on one Postgres. */
export async function startPlatform(options: PlatformOptions, logger: Logger): Promise<Platform> {
  const kubernetes = options.driver === "kubernetes";
  if (kubernetes && !options.databaseUrl)
    throw new StartupError(
      "The Kubernetes driver needs DATABASE_URL: a Postgres the control plane and the data planes both reach (each deployment gets a database on it)",
    );
  if (!kubernetes && options.defaultSandbox === "KATA")
    throw new StartupError("The kata sandbox runs only on Kubernetes (LANGOPEN_DRIVER=kubernetes)");
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch((err: unknown) => logger.warn({ err }, "Failed to stop a component"));
  };
  try {
    const dataDir = path.resolve(options.dataDir);
    let adminUrl = options.databaseUrl;
    if (!adminUrl) {
      const db = await startEmbeddedPostgres(dataDir, logger);
      stops.push(db.stop);
      adminUrl = db.url;
    }
    const controlUrl = options.databaseUrl ?? (await controlDatabase(adminUrl));
    await migrate(controlUrl, MIGRATIONS_DIR, logger);
    const pool: Pool = createPool({ connectionString: controlUrl, applicationName: "langopen-control-plane" }, logger);
    stops.push(() => pool.end());
    const store = new ControlStore(pool);
    const secretBox = options.secretsKey
      ? SecretBox.fromText(options.secretsKey)
      : await SecretBox.fromFile(
          options.secretsKeyFile ?? path.join(dataDir, "secrets-key"),
          options.secretsKeyFile === undefined,
        );
    const signing = await loadOrCreateSigningKey(path.join(dataDir, "signing-key.pem"));
    const publicKeyFile = path.join(dataDir, "signing-key.pub.pem");
    await writeFile(publicKeyFile, signing.publicKeyPem);
    const bundleDir = path.join(dataDir, "bundles");
    const loopback = options.host === "127.0.0.1" || options.host === "::1" || options.host === "localhost";
    const builder = createBuilderService({
      dataDir: path.join(dataDir, "builder"),
      bundleDir,
      signingKey: signing.privateKey,
      allowFileUrls: options.allowFileUrls ?? loopback,
      timeoutMs: options.buildTimeoutSeconds * 1_000,
      concurrency: options.buildConcurrency,
      npmCache: options.npmCache,
      user: options.buildUser,
      logger: logger.child({ component: "builder" }),
    });
    stops.push(() => builder.close());
    const generatedAdminKey = await bootstrapAdminKey(store, options.adminKey, logger);

    const inProcessToken = generateInternalSecret();
    let wake = () => {};
    let builderClient: Client<typeof BuilderService> | undefined;
    const deploymentsDir = path.join(dataDir, "deployments");
    const logs = logSource(
      { streamBuildLog: (...args) => (builderClient as Client<typeof BuilderService>).streamBuildLog(...args) } as Client<
        typeof BuilderService
      >,
      (id) => path.join(deploymentsDir, id, "runtime.log"),
    );
    const serviceOptions: ControlServiceOptions = {
      store,
      secrets: secretBox,
      logs,
      logger,
      wake: () => wake(),
      defaultSandbox: options.defaultSandbox,
      verifyCacheSeconds: options.keyCacheSeconds,
      bundleDir,
      oidc: options.oidc && createPlatformOidc(options.oidc),
    };
    const authenticateCredential = createAuthenticator(serviceOptions);
    const server = await startRpcServer({
      host: options.host,
      port: options.port,
      logger,
      metrics: options.metrics,
      services: CONTROL_SERVICES,
      inProcessToken,
      readMaxBytes: CONTROL_READ_MAX_BYTES,
      // A call's credential is checked on its headers, before its body (an upload) is read.
      checkHeaders: async (call) => {
        if (!CREDENTIAL_PATHS.some((prefix) => call.path.startsWith(prefix)) || CALLS_WITHOUT_CREDENTIAL.has(call.path))
          return "open";
        const credential = credentialOf(call.header);
        // The builder's own calls carry the in-process token, which builderGuard checks.
        if (credential === inProcessToken && call.path.startsWith(`/${BuilderService.typeName}/`)) return undefined;
        const caller = await callerOnHeaders(authenticateCredential, credential, call.address ?? "unknown", logger);
        return (values) => values.set(authenticatedCallerKey, caller);
      },
      interceptors: [builderGuard(store, inProcessToken)],
      routes: (router) => {
        registerControlServices(router, serviceOptions);
        builder.register(router);
      },
    });
    stops.push(() => server.close());
    // The same services for browsers, over HTTP/1.1, the portal's methods only.
    const portal =
      options.portal &&
      (await startPortalServer({
        host: options.host,
        port: options.portal.port,
        dir: options.portal.dir,
        routes: (router) => registerControlServices(router, serviceOptions),
        authenticate: authenticateCredential,
        interceptors: serverInterceptors(logger, undefined, options.metrics),
        logger,
        oidc: options.oidc && { issuer: options.oidc.issuer, clientId: options.oidc.clientId },
      }));
    if (portal) stops.push(() => portal.close());
    builderClient = createClient(BuilderService, server.inProcessTransport);
    const databases = new DeploymentDatabases({ adminDatabaseUrl: adminUrl, secretBox });
    let driver: Driver;
    if (kubernetes) {
      const k = options.kubernetes ?? {};
      let kubeConfig = k.kubeConfig;
      if (!kubeConfig) {
        kubeConfig = new KubeConfig();
        kubeConfig.loadFromDefault();
      }
      const namespace = k.namespace ?? ((await readFile(POD_NAMESPACE_FILE, "utf8").catch(() => "")).trim() || "default");
      driver = new KubernetesDriver({
        kubeConfig,
        namespace,
        databases,
        bundleKeys: createBundleKeyIssuer(store),
        publicKeyPem: signing.publicKeyPem,
        publicKeyConfigMap: k.publicKeyConfigMap ?? "langopen-signing-key",
        bundleUrl: options.publicControlUrl ?? server.url,
        ...(k.redisSecret ? { redisSecret: k.redisSecret } : {}),
        logger: logger.child({ component: "driver" }),
      });
      logger.info({ namespace, cluster: kubeConfig.getCurrentCluster()?.server }, "Deployments run on Kubernetes");
      if (!options.publicControlUrl)
        logger.warn(
          { url: server.url },
          "LANGOPEN_PUBLIC_CONTROL_URL is not set: AgentDeployments name the address the control plane listens on, which data planes may not reach",
        );
    } else {
      driver = new LocalDriver({
        deploymentsDir,
        bundleDir,
        publicKeyFile,
        databases,
        controlUrl: server.url,
        launcherMain: LAUNCHER_MAIN,
        logger: logger.child({ component: "driver" }),
        drainMs: options.drainMs,
        baseEnv: options.dataPlaneEnv,
      });
    }
    stops.push(() => driver.stop());
    const loop = startPolling(
      (_signal) =>
        pipelinePass({ store, builder: builderClient as Client<typeof BuilderService>, driver, secrets: secretBox, logger }),
      {
        intervalMs: options.loopMs ?? 1_000,
        logger,
        failure: "Control loop pass failed",
      },
    );
    wake = () => loop.wake();
    stops.push(() => loop.stop());
    logger.info({ url: server.url, portal: portal?.url, oidc_issuer: options.oidc?.issuer }, "Platform is ready");
    return { url: server.url, generatedAdminKey, server, portalUrl: portal?.url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
