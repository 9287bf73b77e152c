import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { HOP_BY_HOP_HEADERS } from "@langopen/common";
import {
  HttpAppService,
  type HttpHeader,
  HttpHeaderSchema,
  type ServeRequest,
  ServeRequestSchema,
  type ServeResponse,
} from "@langopen/gen/langopen/runtime/v1/http_app_service_pb";
import { errorCodes, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { RouteGuard } from "../auth/events.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The route's auth guard, instead of its entry in the guard table (auth/events.ts). */
    authGuard?: RouteGuard;
  }
}

/** The dependency named when the project's custom routes cannot be reached. */
export const HTTP_APP_DEPENDENCY = "runtime (custom routes)";

/** How long the project's app may take to start its answer (status and headers), by default. */
export const DEFAULT_CUSTOM_ROUTE_HEAD_TIMEOUT_MS = 60_000;

export interface CustomRoutesOptions {
  /** A Connect transport to the runtime serving HttpAppService. */
  transport: Transport;
  /** The project has custom routes (`http.app`): every path no built-in route matches goes to them. */
  app: boolean;
  /** The project has UI components (`ui`): `POST /ui/:namespace` and `GET /ui/:namespace/:file` go to the runtime. */
  ui: boolean;
  /** `http.enable_custom_route_auth`: the routes are authenticated as every other one (else open, as upstream). */
  authenticate: boolean;
  bodyLimitBytes: number;
  /** How long the app may take to send its status and headers before the client gets 504. */
  headTimeoutMs?: number;
}

/** Hop-by-hop headers, and `Expect`: Node answers `100-continue` itself; the app only ever sees a body. */
const HOP_BY_HOP = new Set([...HOP_BY_HOP_HEADERS, "expect"]);

/** The request's headers in the order received, less hop-by-hop ones and those `Connection` names. */
function requestHeaders(raw: IncomingMessage): HttpHeader[] {
  const named = new Set(
    String(raw.headers.connection ?? "")
      .split(",")
      .map((name) => name.trim().toLowerCase()),
  );
  const out: HttpHeader[] = [];
  for (let i = 0; i + 1 < raw.rawHeaders.length; i += 2) {
    const name = (raw.rawHeaders[i] as string).toLowerCase();
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    out.push(create(HttpHeaderSchema, { name, value: raw.rawHeaders[i + 1] as string }));
  }
  return out;
}

/**
 * The next chunk of a request body, or null at its end. Read by hand rather than by async
 * iteration, which destroys the stream when left early: a body found too large must stay
 * readable so that the 413 drain can read the rest.
 */
async function readChunk(stream: IncomingMessage): Promise<Buffer | null> {
  for (;;) {
    const chunk = stream.read() as Buffer | null;
    if (chunk !== null) return chunk;
    if (stream.readableEnded || stream.destroyed) return null;
    await new Promise<void>((resolve) => {
      const done = () => {
        stream.off("readable", done);
        stream.off("end", done);
        stream.off("close", done);
        stream.off("error", done);
        resolve();
      };
      stream.on("readable", done);
      stream.on("end", done);
      stream.on("close", done);
      stream.on("error", done);
    });
  }
}

function hasBody(raw: IncomingMessage): boolean {
  return raw.headers["transfer-encoding"] !== undefined || Number(raw.headers["content-length"] ?? 0) > 0;
}

function refuse(reply: FastifyReply, status: number, detail: string) {
  return reply.code(status).header("content-type", "application/json; charset=utf-8").send({ detail });
}

/**
 * The project's custom routes (`http.app` of langgraph.json): every request no built-in route
 * matches goes to the app in the runtime over HttpAppService, body streamed up as it arrives and
 * the answer streamed down as the app writes it. Built-in routes come first: upstream mounts the
 * user app before its own routes so that it may shadow them, but here the app runs in another
 * process and that order would put a runtime round trip (and the runtime's health) in front of
 * every API call, and let user code answer for paths whose validation and auth the API owns.
 * The project's UI components (`ui`) are served the same way, by the runtime that bundled them.
 */
export async function customRoutes(fastify: FastifyInstance, options: CustomRoutesOptions): Promise<void> {
  const client = createClient(HttpAppService, options.transport);
  const headTimeoutMs = options.headTimeoutMs ?? DEFAULT_CUSTOM_ROUTE_HEAD_TIMEOUT_MS;
  // The body goes to the app as bytes, whatever its type: no parser of the API reads it here.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser("*", (_request, _payload, done) => done(null, undefined));

  const forward = async (request: FastifyRequest, reply: FastifyReply) => {
    const raw = request.raw;
    const declared = Number(raw.headers["content-length"] ?? 0);
    if (declared > options.bodyLimitBytes) throw new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
    const withBody = hasBody(raw);
    const call = new AbortController();
    const gone = request.clientGone;
    const onGone = () => call.abort();
    gone.addEventListener("abort", onGone, { once: true });
    let tooLarge = false;

    async function* requests(): AsyncGenerator<ServeRequest> {
      yield create(ServeRequestSchema, {
        part: {
          case: "head",
          value: {
            method: request.method,
            url: new URL(request.url, `${request.protocol}://${request.host}`).href,
            headers: requestHeaders(raw),
            hasBody: withBody,
          },
        },
      });
      if (!withBody) return;
      let received = 0;
      for (;;) {
        const chunk = await readChunk(raw);
        if (chunk === null) return;
        received += chunk.byteLength;
        if (received > options.bodyLimitBytes) {
          // The rest is left for the 413 drain; the app gets nothing more of it.
          tooLarge = true;
          call.abort();
          return;
        }
        yield create(ServeRequestSchema, { part: { case: "body", value: chunk } });
      }
    }

    const responses = client
      .serve(requests(), { signal: call.signal, headers: { "x-request-id": request.id } })
      [Symbol.asyncIterator]();
    let timer: NodeJS.Timeout | undefined;
    let first: IteratorResult<ServeResponse>;
    try {
      first = await Promise.race([
        responses.next(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new HeadTimeout()), headTimeoutMs);
        }),
      ]);
    } catch (err) {
      call.abort();
      gone.removeEventListener("abort", onGone);
      if (tooLarge) throw new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
      if (err instanceof HeadTimeout) {
        return refuse(reply, 504, `The custom route did not answer within ${Math.round(headTimeoutMs / 1000)} s`);
      }
      const connectErr = ConnectError.from(err);
      if (connectErr.code === Code.Canceled && gone.aborted) return reply;
      if (connectErr.code === Code.Unavailable || connectErr.code === Code.DeadlineExceeded) {
        request.log.warn({ err: connectErr }, "Failed to reach the runtime serving custom routes");
        return refuse(reply, 503, `${HTTP_APP_DEPENDENCY} is unavailable`);
      }
      request.log.error({ err: connectErr }, "Failed to serve a custom route");
      return refuse(reply, 500, "Internal Server Error");
    } finally {
      clearTimeout(timer);
    }
    if (first.done || first.value.part.case !== "head") {
      call.abort();
      gone.removeEventListener("abort", onGone);
      request.log.error("The runtime answered a custom route without a response head");
      return refuse(reply, 500, "Internal Server Error");
    }
    const head = first.value.part.value;
    reply.code(head.status);
    const values = new Map<string, string[]>();
    for (const { name, value } of head.headers) {
      if (HOP_BY_HOP.has(name)) continue;
      values.set(name, [...(values.get(name) ?? []), value]);
    }
    for (const [name, list] of values) reply.header(name, name === "set-cookie" ? list : list.join(", "));

    async function* body(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) {
          const next = await responses.next();
          if (next.done) return;
          if (next.value.part.case === "body") yield next.value.part.value;
        }
      } finally {
        // Ended early (client gone) or failed: the call stops, and the app's stream with it.
        call.abort();
        gone.removeEventListener("abort", onGone);
      }
    }
    // However the answer ends (sent, client gone, HEAD never reading the body), the call ends with it.
    reply.raw.once("close", () => {
      call.abort();
      gone.removeEventListener("abort", onGone);
    });
    return reply.send(Readable.from(body(), { objectMode: false }));
  };

  // The UI's routes (their guards are in the auth table: a component's HTML needs a user, its files do not).
  if (options.ui) {
    fastify.post("/ui/:namespace", forward);
    fastify.get("/ui/:namespace/:file", forward);
  }
  if (options.app) {
    fastify.route({
      method: ["GET", "POST", "PUT", "PATCH", "DELETE"],
      url: "/*",
      // The auth plugin reads it: open unless langgraph.json asks for custom routes to be authenticated.
      config: { authGuard: options.authenticate ? "authenticated" : "open" },
      handler: forward,
    });
  }
}

class HeadTimeout extends Error {}
