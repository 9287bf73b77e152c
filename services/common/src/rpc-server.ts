import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { DescFile, DescService } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ContextValues,
  createContextKey,
  createContextValues,
  type Interceptor,
} from "@connectrpc/connect";
import { codeToHttpStatus, codeToString } from "@connectrpc/connect/protocol-connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Health } from "@langopen/gen/health/v1/health_pb";
import type { Logger } from "pino";
import { errorInfo, internal, unavailable } from "./errors.js";
import { HealthState, registerHealth, ServingStatus } from "./health.js";
import { createInProcessTransport, recordRoutes, replayRoutes } from "./in-process-transport.js";
import { authInterceptor, credentialCheckOnHeaders, type RpcAuth } from "./internal-credentials.js";
import { type Registry, rpcMetricsInterceptor, rpcServerRecorder } from "./metrics.js";
import { encodeNestedMessagesWithoutCopies } from "./protobuf-writer.js";
import { isRedisUnavailable } from "./redis.js";
import { registerReflection } from "./reflection.js";
import { tracingServerInterceptor } from "./telemetry.js";

/**
 * Megabytes an HTTP/2 session between services may buffer before Node ends it with
 * ENHANCE_YOUR_CALM, failing every call on it (Node's default is 10). One run near the body limit
 * (10 MB) streams a copy per stream mode on a session shared with every other call, so the
 * default let one large message fail unrelated calls; the body and event-log limits bound what
 * is really buffered.
 */
export const RPC_SESSION_MEMORY_MB = 256;

/**
 * Most JSON nesting the public API lets through (LANGOPEN_JSON_MAX_DEPTH may not exceed it).
 * Deeper, recursive code downstream (serialising, converting, storing) nears the end of the stack.
 */
export const MAX_JSON_DEPTH = 500;

/**
 * Levels of nested messages the services decode (protobuf's default is 100). A JSON value in a
 * Struct (metadata, config, context) takes two per level of the JSON: with the default, a
 * thread's metadata nested 50 deep, which the public API accepts, failed between the gateway
 * and the api-server as a message that could not be decoded.
 */
export const RPC_RECURSION_LIMIT = 2 * MAX_JSON_DEPTH + 64;

// The credentials of the internal ports belong with the server that checks them.
export * from "./internal-credentials.js";

export interface RpcServerOptions {
  host: string;
  port: number;
  /**
   * A Unix socket to listen on instead of host and port (a runtime in gVisor, which has no network:
   * its parent passes connections on). `url` is then `unix:<path>` and `port` 0.
   */
  socketPath?: string;
  logger: Logger;
  /** Registers the business services. */
  routes: (router: ConnectRouter) => void;
  /** The services registered by routes, for health and reflection. */
  services: DescService[];
  /**
   * Who may call (tokens and roles); every service but health then needs a token. Absent: every
   * caller is trusted (only for servers nothing untrusted can reach, and tests).
   */
  auth?: RpcAuth;
  /**
   * For a server whose callers prove who they are otherwise than by the internal tokens (`auth`):
   * checks each call on its headers before its body is read, so that a caller it refuses never
   * makes it buffer a body. Resolves to what the check learned, to set on the call's context
   * values (who the caller is), to "open" for a call that carries no credential (the server then
   * reads at most OPEN_CALL_READ_MAX_BYTES of it), or rejects with the error to answer (a
   * ConnectError: its code and message; anything else: INTERNAL). Health checks, and paths that are
   * not business methods (reflection, unknown ones), are not checked: they are read as calls without one.
   */
  checkHeaders?: (call: HeaderCheckCall) => Promise<((values: ContextValues) => void) | "open" | undefined>;
  /** The largest message the server reads (Connect's default: 4 GiB). */
  readMaxBytes?: number;
  /** The token inProcessTransport sends: in-process callers act with its role. */
  inProcessToken?: string;
  /** Interceptors run after the standard ones (request scope, credentials, metrics), e.g. a service's own access checks. */
  interceptors?: Interceptor[];
  /** Where the server counts and times the RPCs it answers (langopen_rpc_server_*); absent: not measured. */
  metrics?: Registry;
}

/** What a header check (RpcServerOptions.checkHeaders) sees of a call. */
export interface HeaderCheckCall {
  /** `/package.Service/Method`. */
  path: string;
  header(name: string): string | undefined;
  /** The peer's address. */
  address: string | undefined;
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

const HEALTH_PATH = `/${Health.typeName}/`;

/**
 * The largest message a server that checks its callers reads of a call that carries no credential
 * (a health check; a data plane asking the control plane about a key): such a caller makes it hold
 * no more.
 */
export const OPEN_CALL_READ_MAX_BYTES = 64 * 1024;

/**
 * Answers a call with `error` in its own protocol without reading its body: gRPC and gRPC-web get
 * a trailers-only response (grpc-status and grpc-message); the Connect protocol, a unary call the
 * HTTP status of the code with its JSON error, a streaming one HTTP 200 and the error in the
 * end-of-stream message. The stream is then reset with NO_ERROR, which tells the caller to stop
 * sending (RFC 9113 §8.1).
 */
function refuseUnread(stream: http2.ServerHttp2Stream, contentType: string, error: ConnectError): void {
  if (stream.destroyed) return;
  const reset = () => {
    if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
  };
  if (/^application\/grpc/i.test(contentType)) {
    stream.respond(
      {
        ":status": 200,
        "content-type": contentType,
        "grpc-status": String(error.code),
        "grpc-message": encodeURIComponent(error.rawMessage),
      },
      { endStream: true },
    );
    setImmediate(reset);
    return;
  }
  const body = { code: codeToString(error.code), message: error.rawMessage };
  if (/^application\/connect\+/i.test(contentType)) {
    // A streaming call of the Connect protocol: HTTP 200 and the error in its end-of-stream message.
    const json = Buffer.from(JSON.stringify({ error: body }));
    const envelope = Buffer.alloc(5 + json.length);
    envelope.writeUInt8(END_STREAM_FLAG, 0);
    envelope.writeUInt32BE(json.length, 1);
    json.copy(envelope, 5);
    stream.respond({ ":status": 200, "content-type": contentType });
    stream.end(envelope, reset);
    return;
  }
  stream.respond({ ":status": codeToHttpStatus(error.code), "content-type": "application/json" });
  stream.end(JSON.stringify(body), reset);
}

/** The flag of the Connect protocol's end-of-stream message. */
const END_STREAM_FLAG = 0b10;

/** The address of the peer that made an RPC over the network; absent for in-process calls. */
export const peerAddressKey = createContextKey<string | undefined>(undefined, { description: "langopen peer address" });

/** The header carrying a request's id from the gateway through every service it reaches. */
export const REQUEST_ID_HEADER = "x-request-id";

/** The request an RPC serves: its id, and a logger whose every line carries it. */
export interface RequestScope {
  readonly requestId: string;
  /** A child of the server's logger with request_id, rpc_service and rpc_method (made on first use). */
  readonly log: Logger;
}

/**
 * Where handlers find the request they serve: `requestScopeKey` in their context's values (see
 * requestLogger), and where the client interceptor of rpc-client.ts finds the id to forward.
 */
export const requestScopeKey = createContextKey<RequestScope | undefined>(undefined, { description: "langopen request" });

class Scope implements RequestScope {
  #log: Logger | undefined;
  constructor(
    readonly requestId: string,
    private readonly parent: Logger,
    private readonly fields: Record<string, string>,
  ) {}

  get log(): Logger {
    // Made on first use: most RPCs log nothing at the info level, and a child costs microseconds.
    this.#log ??= this.parent.child({ request_id: this.requestId, ...this.fields });
    return this.#log;
  }
}

/** The logger of the request a handler serves, e.g. `requestLogger(ctx.values, logger).warn(...)`. */
export function requestLogger(values: ContextValues, fallback: Logger): Logger {
  return values.get(requestScopeKey)?.log ?? fallback;
}

/**
 * Context values for calls a process makes on its own behalf (no inbound request): the calls
 * carry the id (through the client interceptor, or directly in process) and log through `log`.
 */
export function requestContext(requestId: string, log: Logger): ContextValues {
  return createContextValues().set(requestScopeKey, { requestId, log });
}

/** An id a caller sent that is safe to log and forward: printable ASCII, not too long. */
function acceptedRequestId(value: string | null): string | undefined {
  return value !== null && /^[\x21-\x7e]{1,200}$/.test(value) ? value : undefined;
}

/**
 * Gives every RPC its request scope: the caller's `x-request-id` (else the id of a caller in the
 * same process, else a new one) and a logger carrying it with the RPC's service and method. The
 * caller's context values are left as they were: the scope goes on a layer above them.
 */
export function requestInterceptor(logger: Logger): Interceptor {
  return (next) => (req) => {
    const requestId =
      acceptedRequestId(req.header.get(REQUEST_ID_HEADER)) ?? req.contextValues.get(requestScopeKey)?.requestId ?? randomUUID();
    const values = Object.create(req.contextValues) as ContextValues;
    values.set(
      requestScopeKey,
      new Scope(requestId, logger, { rpc_service: req.method.parent.typeName, rpc_method: req.method.name }),
    );
    return next({ ...req, contextValues: values });
  };
}

/**
 * The interceptors of every server: its metrics (outermost: they count what callers get), request
 * scopes, then the edge, then who may call (see authInterceptor).
 */
export function serverInterceptors(logger: Logger, auth?: RpcAuth, metrics?: Registry): Interceptor[] {
  // Under npm start the parts of one process name themselves on their logger (service): their spans too.
  const { service: component } = logger.bindings() as { service?: unknown };
  return [
    ...(metrics ? [rpcMetricsInterceptor(metrics)] : []),
    tracingServerInterceptor(typeof component === "string" ? component : undefined),
    requestInterceptor(logger),
    edgeInterceptor(logger),
    authInterceptor(auth, logger),
  ];
}

/**
 * Turns whatever escapes a handler into a ConnectError: ConnectErrors pass unchanged (stores
 * translate their database's errors themselves), a lost Redis becomes UNAVAILABLE naming it,
 * anything else becomes INTERNAL with a generic message and the cause logged. Logs through the
 * request's logger (requestInterceptor) when there is one; `debug` per answered RPC.
 */
export function edgeInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const service = req.method.parent.typeName;
    const method = req.method.name;
    const log = () => req.contextValues.get(requestScopeKey)?.log ?? logger.child({ rpc_service: service, rpc_method: method });
    const started = performance.now();
    const answered = () => {
      if (logger.isLevelEnabled("debug")) log().debug({ duration_ms: Math.round(performance.now() - started) }, "Answered RPC");
    };
    try {
      const res = await next(req);
      if (!res.stream) {
        answered();
        return res;
      }
      // Errors of a server stream surface while its messages are produced: map those too.
      const messages = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* messages;
            answered();
          } catch (err) {
            // The caller went away (a cancelled run, a closed stream) and the next write to it
            // failed: nothing went wrong on this side.
            if (req.signal.aborted && !(err instanceof ConnectError)) {
              log().debug({ err }, "Stopped RPC: the caller went away");
              throw new ConnectError("the caller went away", Code.Canceled, undefined, undefined, err);
            }
            throw toConnectError(err, log);
          }
        })(),
      };
    } catch (err) {
      throw toConnectError(err, log);
    }
  };
}

function toConnectError(err: unknown, log: () => Logger): ConnectError {
  if (err instanceof ConnectError) {
    if (err.code === Code.Internal || err.code === Code.Unknown || err.code === Code.DataLoss) {
      log().error({ err }, "Failed RPC");
    } else if (err.code === Code.Unavailable && err.cause !== undefined) {
      // Lost here, by this process (a store's lost Postgres): a dependency's outage is worth an
      // error line. An UNAVAILABLE from a called service or from shutdown carries no cause.
      log().error({ err, dependency: errorInfo(err)?.metadata.dependency }, "Lost dependency during RPC");
    }
    return err;
  }
  if (isRedisUnavailable(err)) {
    log().error({ err }, "Lost Redis during RPC");
    return unavailable("redis", err);
  }
  log().error({ err }, "Failed RPC with unexpected error");
  return internal();
}

/** Serves gRPC, gRPC-Web and Connect on one cleartext HTTP/2 port, with health and reflection. */
export async function startRpcServer(options: RpcServerOptions): Promise<RpcServer> {
  const { logger } = options;
  encodeNestedMessagesWithoutCopies();
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
  const interceptors = [...serverInterceptors(logger, options.auth, options.metrics), ...(options.interceptors ?? [])];
  // What checkHeaders learned of each call, for its context values.
  const learned = new WeakMap<object, (values: ContextValues) => void>();
  const adapter = (readMaxBytes: number | undefined) =>
    connectNodeAdapter({
      routes: (router) => replayRoutes(router, recorded),
      binaryOptions: { recursionLimit: RPC_RECURSION_LIMIT },
      ...(readMaxBytes !== undefined ? { readMaxBytes } : {}),
      interceptors,
      shutdownSignal: shutdown.signal,
      contextValues: (req) => {
        const values = createContextValues().set(peerAddressKey, req.socket?.remoteAddress);
        learned.get(req)?.(values);
        return values;
      },
    });
  const handler = adapter(options.readMaxBytes);
  // A server that checks its callers reads little of a call that carries no credential.
  const openHandler = adapter(Math.min(OPEN_CALL_READ_MAX_BYTES, options.readMaxBytes ?? OPEN_CALL_READ_MAX_BYTES));
  const inProcessTransport = createInProcessTransport({
    routes: recorded,
    interceptors,
    shutdownSignal: shutdown.signal,
    token: options.inProcessToken,
  });
  // A call without an accepted credential is answered from its headers, its body never read.
  const refusalOf = options.auth ? credentialCheckOnHeaders(options.auth) : undefined;
  const { checkHeaders } = options;
  // The business and health methods served, by path. Refusals before the body are counted as the
  // interceptors count the rest: for these only (a path is the caller's to choose, a label value must not be).
  const recordRpc = options.metrics ? rpcServerRecorder(options.metrics) : undefined;
  const methods = new Map<string, { service: string; method: string }>(
    [...options.services, Health].flatMap((service) =>
      service.methods.map((m) => [`/${service.typeName}/${m.name}`, { service: service.typeName, method: m.name }] as const),
    ),
  );
  const checked = refusalOf !== undefined || checkHeaders !== undefined;
  const server = http2.createServer({ maxSessionMemory: RPC_SESSION_MEMORY_MB }, (req, res) => {
    if (!checked) return handler(req, res);
    const arrived = process.hrtime.bigint();
    const path = req.url.split("?", 1)[0] as string;
    const labels = methods.get(path);
    // Health, and what the server does not serve as a business method (reflection, whose calls its
    // interceptors check; an unknown path, which Connect answers 404): read as calls without a credential.
    if (labels === undefined || path.startsWith(HEALTH_PATH)) return openHandler(req, res);
    const refuse = (err: ConnectError, why: string) => {
      logger.warn({ rpc_path: path, why }, "Refused RPC before its body");
      refuseUnread(req.stream, String(req.headers["content-type"] ?? ""), err);
      recordRpc?.(labels, err, Number(process.hrtime.bigint() - arrived) / 1e9);
    };
    const refusal = refusalOf?.(path, req.headers.authorization);
    if (refusal !== undefined) return refuse(new ConnectError(refusal.message, Code.Unauthenticated), refusal.why);
    if (!checkHeaders) return handler(req, res);
    const header = (name: string) => {
      const value = req.headers[name.toLowerCase()];
      return Array.isArray(value) ? value[0] : value;
    };
    // The body waits in the stream meanwhile, bounded by HTTP/2 flow control.
    checkHeaders({ path, header, address: req.socket?.remoteAddress }).then(
      (learn) => {
        if (learn === "open") return openHandler(req, res);
        if (learn) learned.set(req, learn);
        handler(req, res);
      },
      (err: unknown) => {
        if (err instanceof ConnectError) return refuse(err, err.rawMessage);
        logger.error({ err }, "Could not check an RPC's headers");
        refuse(internal(), "the check failed");
      },
    );
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const listening = () => {
      server.off("error", reject);
      resolve();
    };
    if (options.socketPath !== undefined) server.listen(options.socketPath, listening);
    else server.listen(options.port, options.host, listening);
  });
  const port = options.socketPath !== undefined ? 0 : (server.address() as AddressInfo).port;
  health.set("", ServingStatus.SERVING);
  for (const service of options.services) health.set(service.typeName, ServingStatus.SERVING);
  const hostForUrl = options.host.includes(":") ? `[${options.host}]` : options.host;
  if (options.socketPath !== undefined) logger.info({ socket: options.socketPath }, "Started RPC server");
  else logger.info({ port, host: options.host }, "Started RPC server");

  return {
    port,
    url:
      options.socketPath !== undefined
        ? `unix:${options.socketPath}`
        : `http://${hostForUrl === "0.0.0.0" ? "127.0.0.1" : hostForUrl}:${port}`,
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
