import type http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import { type CallOptions, Code, ConnectError, type HandlerContext, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { bearerToken } from "./internal-credentials.js";
import { encodeNestedMessagesWithoutCopies } from "./protobuf-writer.js";
import { REQUEST_ID_HEADER, RPC_RECURSION_LIMIT, RPC_SESSION_MEMORY_MB, requestScopeKey } from "./rpc-server.js";
import { tracingClientInterceptor } from "./telemetry.js";

/**
 * Forwards the id of the request a call is made for as `x-request-id`, read from the call's
 * context values (a handler passes its own: `inCallOf(ctx)`; a process acting on
 * its own behalf, `requestContext(...)`). A header the caller set itself wins.
 */
export function forwardRequestId(): Interceptor {
  return (next) => (req) => {
    if (!req.header.has(REQUEST_ID_HEADER)) {
      const requestId = req.contextValues.get(requestScopeKey)?.requestId;
      if (requestId !== undefined) req.header.set(REQUEST_ID_HEADER, requestId);
    }
    return next(req);
  };
}

/**
 * Whether the peer refused the call's HTTP/2 stream (REFUSED_STREAM: it did nothing with it, as
 * when it is shutting down), so that calling again is safe. The Connect client says so
 * (Unavailable) when it reads the reset code, but reports Internal when Node raises the reset as
 * a stream error first.
 */
export function refusedStream(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if ((e as { code?: unknown }).code === "ERR_HTTP2_STREAM_ERROR" && e.message.includes("NGHTTP2_REFUSED_STREAM")) return true;
  }
  return false;
}

/**
 * A call whose stream the peer refused fails Unavailable, whichever way Node reported the reset
 * (see refusedStream): a caller then answers 503 and may retry, never 500. Only the call's
 * opening is watched (all of a unary call; a streaming call until its response begins), so
 * streamed messages pass through untouched; a stream cut later is its reader's to judge.
 */
export function refusedStreamAsUnavailable(): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (err) {
      if (!refusedStream(err)) throw err;
      throw new ConnectError(
        `${req.service.typeName} refused the call (it is stopping); try again`,
        Code.Unavailable,
        undefined,
        undefined,
        err,
      );
    }
  };
}

/**
 * Call options for a call made while handling another: its context values go along, so the
 * caller's request id reaches the next service (forwardRequestId reads it there).
 */
export function inCallOf(ctx: HandlerContext): CallOptions {
  return { contextValues: ctx.values };
}

export interface RpcTransportOptions {
  /**
   * The internal credential sent on every call (`authorization: Bearer <token>`): the
   * installation's secret, or the runtime's own token. Absent: calls carry none, and only a
   * server without auth answers them.
   */
  token?: string;
  /**
   * The peer runs code that may hold its event loop for long (a runtime: graph code). Then no
   * HTTP/2 keep-alive pings, which only an event loop answers and which would end a long
   * CPU-bound run's connection; TCP keep-alive, which the peer's kernel answers, still finds a
   * peer that is gone. (The launcher's watchdog and the run timeout deal with a stuck runtime.)
   */
  peerMayBlock?: boolean;
  /**
   * Connect over this Unix socket instead of to the URL's host and port (a runtime in gVisor, which
   * has no network: its parent passes the connection on). The URL still names the server: the
   * `:authority` of the calls and, for https, the name its certificate must show.
   */
  socketPath?: string;
}

/** How often an open connection is pinged, and how long its peer may take to answer. */
const PING_INTERVAL_MS = 10_000;
const IDLE_CONNECTION_TIMEOUT_MS = 60_000;

/** Sessions that already carry the fallback listener of GuardedSessionManager. */
const guarded = new WeakSet<http2.Http2Session>();
const ignoreSessionError = () => {};

/**
 * Connect's session manager, with one guard: every session it opens has an `error` listener for
 * as long as it lives. When a peer does not answer a keep-alive ping in time (a runtime whose
 * event loop graph code holds for long, or a peer under heavy load), the manager destroys the
 * session with an error that Node emits a tick later, once the manager has removed its own
 * listeners (connectrpc/connect-es#1795 is the same race with the ping timer): an `error` event
 * without a listener ends the whole process. The calls on that session fail with Unavailable
 * either way; the guard only keeps the process alive.
 */
class GuardedSessionManager extends Http2SessionManager {
  override async request(
    method: string,
    path: string,
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
  ): Promise<http2.ClientHttp2Stream> {
    const stream = await super.request(method, path, headers, options);
    const session = stream.session;
    if (session && !guarded.has(session)) {
      guarded.add(session);
      session.on("error", ignoreSessionError);
    }
    return stream;
  }
}

/**
 * A binary gRPC transport over HTTP/2 to another service; create one per target, in compose.
 * Asks for uncompressed responses: between services of one deployment, gzip costs both sides
 * more CPU than the bytes it saves (a run's checkpoints and state answers often pass the 1 KiB
 * at which servers start compressing).
 */
export function createRpcTransport(baseUrl: string, options: RpcTransportOptions = {}): Transport {
  encodeNestedMessagesWithoutCopies();
  return createGrpcTransport({
    baseUrl,
    binaryOptions: { recursionLimit: RPC_RECURSION_LIMIT },
    sessionManager: new GuardedSessionManager(
      baseUrl,
      {
        pingIntervalMs: options.peerMayBlock ? Number.POSITIVE_INFINITY : PING_INTERVAL_MS,
        idleConnectionTimeoutMs: IDLE_CONNECTION_TIMEOUT_MS,
      },
      {
        maxSessionMemory: RPC_SESSION_MEMORY_MB,
        createConnection:
          options.socketPath !== undefined
            ? (authority: URL) => connectOverSocket(authority, options.socketPath as string)
            : options.peerMayBlock
              ? (authority: URL) =>
                  net.connect({
                    host: authority.hostname.replace(/^\[|\]$/g, ""),
                    port: Number(authority.port || 80),
                    keepAlive: true,
                    keepAliveInitialDelay: PING_INTERVAL_MS,
                  })
              : undefined,
      },
    ),
    acceptCompression: [],
    interceptors: [
      refusedStreamAsUnavailable(),
      tracingClientInterceptor(),
      forwardRequestId(),
      ...(options.token === undefined ? [] : [bearerToken(options.token)]),
    ],
  });
}

/** A connection to `authority` over a Unix socket: TLS inside it for https (ALPN h2, the URL's host name checked). */
function connectOverSocket(authority: URL, socketPath: string): net.Socket {
  const socket = net.connect(socketPath);
  if (authority.protocol !== "https:") return socket;
  const host = authority.hostname.replace(/^\[|\]$/g, "");
  return tls.connect({ socket, host, servername: net.isIP(host) ? undefined : host, ALPNProtocols: ["h2"] });
}

/** Base URLs from a comma-separated list, e.g. API_SERVER_URL=http://a:8124,http://b:8124. */
export function urlList(value: string): string[] {
  return value
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u.length > 0);
}

/** Whether a call failed before reaching the server, so another replica may take it safely. */
function neverReached(err: unknown): boolean {
  if (!(err instanceof ConnectError) || err.code !== Code.Unavailable) return false;
  const text = `${err.rawMessage} ${String((err.cause as Error | undefined)?.message ?? "")}`;
  return /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|GOAWAY|REFUSED_STREAM/i.test(text);
}

/**
 * One transport over several replicas of a service: calls go round-robin, and a call that
 * could not reach its replica (refused connection) moves on to the next, so a restarting
 * replica costs no failed requests. Calls that reached a server are never repeated.
 */
export function createReplicatedTransport(
  baseUrls: string[],
  options: Omit<RpcTransportOptions, "socketPath"> & {
    /** The Unix socket to reach each of baseUrls over, in order (see RpcTransportOptions.socketPath); absent: their host and port. */
    socketPaths?: readonly string[];
  } = {},
): Transport {
  if (baseUrls.length === 0) throw new Error("at least one base URL is required");
  const { socketPaths, ...common } = options;
  const transports = baseUrls.map((url, i) => createRpcTransport(url, { ...common, socketPath: socketPaths?.[i] }));
  if (transports.length === 1) return transports[0] as Transport;
  let next = 0;
  const attempt = async <T>(call: (t: Transport) => Promise<T>): Promise<T> => {
    const start = next++ % transports.length;
    let last: unknown;
    for (let i = 0; i < transports.length; i++) {
      try {
        return await call(transports[(start + i) % transports.length] as Transport);
      } catch (err) {
        if (!neverReached(err)) throw err;
        last = err;
      }
    }
    throw last;
  };
  return {
    unary: (method, signal, timeoutMs, header, input, contextValues) =>
      attempt((t) => t.unary(method, signal, timeoutMs, header, input, contextValues)),
    stream: async (method, signal, timeoutMs, header, input, contextValues) => {
      // A client stream can be sent once only; a server stream's one request can be replayed.
      if (method.methodKind !== "server_streaming") {
        return (transports[next++ % transports.length] as Transport).stream(
          method,
          signal,
          timeoutMs,
          header,
          input,
          contextValues,
        );
      }
      const messages: typeof input extends AsyncIterable<infer M> ? M[] : never = [];
      for await (const m of input) messages.push(m);
      return attempt((t) => t.stream(method, signal, timeoutMs, header, replay(messages), contextValues));
    },
  };
}

async function* replay<T>(messages: T[]): AsyncIterable<T> {
  yield* messages;
}
