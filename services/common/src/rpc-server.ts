import { setMaxListeners } from "node:events";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { DescFile, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import { internal, unavailable } from "./errors.js";
import { Health } from "@langopen/gen/health/v1/health_pb";
import { HealthState, registerHealth, ServingStatus } from "./health.js";
import { isPgUnavailable, pgErrorToConnect } from "./postgres.js";
import { isRedisUnavailable } from "./redis.js";
import { registerReflection } from "./reflection.js";
import { createInProcessTransport, recordRoutes, replayRoutes } from "./in-process-transport.js";
import type { Transport } from "@connectrpc/connect";

export interface RpcServerOptions {
  host: string;
  port: number;
  logger: Logger;
  /** Registers the business services. */
  routes: (router: ConnectRouter) => void;
  /** The services registered by routes, for health and reflection. */
  services: DescService[];
}

export interface RpcServer {
  /** The bound port (useful when started on port 0). */
  readonly port: number;
  readonly url: string;
  readonly health: HealthState;
  /**
   * The same services (business, health, reflection) called in this process: no HTTP/2 and no
   * serialization, the same interceptors, headers, deadlines, signals and shutdown. For a gateway
   * composed into the same process as this server.
   */
  readonly inProcessTransport: Transport;
  /** Stops accepting, ends open streams with UNAVAILABLE so clients reconnect, waits for the rest. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Turns whatever escapes a handler into a ConnectError: ConnectErrors pass unchanged, a lost
 * Postgres becomes UNAVAILABLE naming it, anything else becomes INTERNAL with a generic message
 * and the cause logged.
 */
export function edgeInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const service = req.method.parent.typeName;
    const method = req.method.name;
    try {
      const res = await next(req);
      if (!res.stream) return res;
      // Errors of a server stream surface while its messages are produced: map those too.
      const messages = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* messages;
          } catch (err) {
            // The caller went away (a cancelled run, a closed stream) and the next write to it
            // failed: nothing went wrong on this side.
            if (req.signal.aborted && !(err instanceof ConnectError)) {
              logger.debug({ err, rpc_service: service, rpc_method: method }, "Stopped RPC: the caller went away");
              throw new ConnectError("the caller went away", Code.Canceled, undefined, undefined, err);
            }
            throw toConnectError(err, logger, service, method);
          }
        })(),
      };
    } catch (err) {
      throw toConnectError(err, logger, service, method);
    }
  };
}

function toConnectError(err: unknown, logger: Logger, service: string, method: string): ConnectError {
  if (err instanceof ConnectError) {
    if (err.code === Code.Internal || err.code === Code.Unknown || err.code === Code.DataLoss) {
      logger.error({ err, rpc_service: service, rpc_method: method }, "Failed RPC");
    }
    return err;
  }
  const mapped = pgErrorToConnect(err);
  if (mapped) return mapped;
  if (isPgUnavailable(err)) {
    logger.error({ err, rpc_service: service, rpc_method: method }, "Lost Postgres during RPC");
    return unavailable("postgres", err);
  }
  if (isRedisUnavailable(err)) {
    logger.error({ err, rpc_service: service, rpc_method: method }, "Lost Redis during RPC");
    return unavailable("redis", err);
  }
  logger.error({ err, rpc_service: service, rpc_method: method }, "Failed RPC with unexpected error");
  return internal();
}

/** Serves gRPC, gRPC-Web and Connect on one cleartext HTTP/2 port, with health and reflection. */
export async function startRpcServer(options: RpcServerOptions): Promise<RpcServer> {
  const { logger } = options;
  const health = new HealthState();
  const shutdown = new AbortController();
  // Every open request listens to the one shutdown signal.
  setMaxListeners(0, shutdown.signal);
  const files: DescFile[] = [...new Set([...options.services, Health].map((s) => s.file))];
  // The implementations are built once and served both on the port and in process.
  const recorded = recordRoutes((router) => {
    options.routes(router);
    registerHealth(router, health);
    registerReflection(router, files);
  });
  const interceptors = [edgeInterceptor(logger)];
  const handler = connectNodeAdapter({
    routes: (router) => replayRoutes(router, recorded),
    interceptors,
    shutdownSignal: shutdown.signal,
  });
  const inProcessTransport = createInProcessTransport({ routes: recorded, interceptors, shutdownSignal: shutdown.signal });
  const server = http2.createServer(handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  health.set("", ServingStatus.SERVING);
  for (const service of options.services) health.set(service.typeName, ServingStatus.SERVING);
  const hostForUrl = options.host.includes(":") ? `[${options.host}]` : options.host;
  logger.info({ port, host: options.host }, "Started RPC server");

  return {
    port,
    url: `http://${hostForUrl === "0.0.0.0" ? "127.0.0.1" : hostForUrl}:${port}`,
    health,
    inProcessTransport,
    async close(graceMs = 5_000) {
      health.setAll(ServingStatus.NOT_SERVING);
      shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      const timer = setTimeout(() => {
        for (const session of sessions) session.destroy();
      }, graceMs);
      await closed;
      clearTimeout(timer);
      logger.info("Stopped RPC server");
    },
  };
}
