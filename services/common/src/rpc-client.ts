import { type CallOptions, Code, ConnectError, type HandlerContext, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { bearerToken } from "./internal-credentials.js";
import { encodeNestedMessagesWithoutCopies } from "./protobuf-writer.js";
import { REQUEST_ID_HEADER, RPC_SESSION_MEMORY_MB, requestScopeKey } from "./rpc-server.js";

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
    pingIntervalMs: 10_000,
    idleConnectionTimeoutMs: 60_000,
    acceptCompression: [],
    nodeOptions: { maxSessionMemory: RPC_SESSION_MEMORY_MB },
    interceptors: options.token === undefined ? [forwardRequestId()] : [forwardRequestId(), bearerToken(options.token)],
  });
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
export function createReplicatedTransport(baseUrls: string[], options: RpcTransportOptions = {}): Transport {
  if (baseUrls.length === 0) throw new Error("at least one base URL is required");
  const transports = baseUrls.map((url) => createRpcTransport(url, options));
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
