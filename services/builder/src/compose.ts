import { writeFile } from "node:fs/promises";
import path from "node:path";
import {
  internalOnlyAuth,
  type Logger,
  loadOrCreateSigningKey,
  type RpcServer,
  StartupError,
  startRpcServer,
  tokenSha256,
} from "@langopen/common";
import { BuilderService } from "@langopen/gen/langopen/builder/v1/builder_service_pb";
import type { BuildUser } from "./child.js";
import { createBuilderService } from "./service.js";

export interface BuilderServerOptions {
  host: string;
  port: number;
  /** Builds, bundles and the signing key. */
  dataDir: string;
  allowFileUrls: boolean;
  timeoutMs: number;
  concurrency: number;
  npmCache?: string | undefined;
  /** The unprivileged user git and npm run as; absent: this process's. */
  user?: BuildUser | undefined;
  /** The installation's secret, which callers must send; absent: every caller is trusted (loopback only). */
  internalSecret?: string | undefined;
}

export interface BuilderServer {
  readonly url: string;
  readonly server: RpcServer;
  /** The public half of the signing key (SPKI PEM): what verifies the bundles. */
  readonly publicKeyPem: string;
  stop(graceMs?: number): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/**
 * The builder on an RPC port of its own, with health and reflection: its data folder holds
 * `builds/`, `bundles/` and `signing-key.pem` (made at the first start; its public half is
 * written beside it as `signing-key.pub.pem`).
 */
export async function startBuilderServer(options: BuilderServerOptions, logger: Logger): Promise<BuilderServer> {
  if (options.internalSecret === undefined && !LOOPBACK.has(options.host))
    throw new StartupError(
      `The builder listens on ${options.host}: set LANGOPEN_INTERNAL_SECRET (or LANGOPEN_INTERNAL_SECRET_FILE) so that only the platform may start builds`,
    );
  const dataDir = path.resolve(options.dataDir);
  const signing = await loadOrCreateSigningKey(path.join(dataDir, "signing-key.pem"));
  await writeFile(path.join(dataDir, "signing-key.pub.pem"), signing.publicKeyPem);
  const builder = createBuilderService({
    dataDir,
    bundleDir: path.join(dataDir, "bundles"),
    signingKey: signing.privateKey,
    logger,
    allowFileUrls: options.allowFileUrls,
    timeoutMs: options.timeoutMs,
    concurrency: options.concurrency,
    npmCache: options.npmCache,
    user: options.user,
  });
  let server: RpcServer;
  try {
    server = await startRpcServer({
      host: options.host,
      port: options.port,
      logger,
      services: [BuilderService],
      routes: (router) => builder.register(router),
      auth: options.internalSecret === undefined ? undefined : internalOnlyAuth(tokenSha256(options.internalSecret)),
    });
  } catch (err) {
    await builder.close();
    throw err;
  }
  return {
    url: server.url,
    server,
    publicKeyPem: signing.publicKeyPem,
    async stop(graceMs) {
      await server.close(graceMs);
      await builder.close();
    },
  };
}
