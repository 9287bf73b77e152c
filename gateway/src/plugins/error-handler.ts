import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";
import { ERROR_DOMAIN, errorInfo, RETRY_AFTER_METADATA, Reason } from "@langopen/common";
import { BadRequestSchema } from "@langopen/gen/google/rpc/error_details_pb";
import type { FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { isAuthRejected } from "../auth/custom-auth.js";
import { RequestValidationError } from "../validation.js";
import { InvalidJsonError, JsonTooComplexError } from "./json-body.js";
import { DEFAULT_OVERSIZED_BODY_DRAIN, drainRequestBody, type OversizedBodyDrain } from "./oversized-body.js";

/** What the client gets: a status and the upstream error body `{"detail": "..."}`. */
export interface PublicError {
  statusCode: number;
  detail: string;
}

/**
 * THE table from Connect codes to public HTTP statuses. It follows the LangGraph-compatible
 * column of the house style, not the canonical gRPC mapping: the SDKs decide retries by
 * status and expect 422 for invalid input and 409 for conflicts.
 */
export const PUBLIC_STATUS: Readonly<Record<Code, number>> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 422,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 409,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 422,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

/** Generic details of 5xx answers: internals never reach the client. */
const GENERIC_DETAIL: Readonly<Record<number, string>> = {
  499: "Client Closed Request",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/**
 * The Retry-After (seconds) of a refusal for load (429): what the api-server asked for, else one
 * second. Undefined for every other error.
 */
export function retryAfterOf(error: unknown): string | undefined {
  if (!(error instanceof ConnectError) || error.code !== Code.ResourceExhausted) return undefined;
  const asked = Number(errorInfo(error)?.metadata[RETRY_AFTER_METADATA]);
  return String(Number.isInteger(asked) && asked > 0 ? asked : 1);
}

/** The dependency named when the gateway itself cannot reach the api-server. */
export const API_SERVER = "api-server";

/** The public answer to a ConnectError, from the api-server or raised by the gateway itself. */
export function fromConnectError(err: ConnectError): PublicError {
  const info = errorInfo(err);
  const authored = info?.domain === ERROR_DOMAIN;
  // The few endpoints whose contract says 400 (store namespaces, protocol envelopes).
  if (info?.reason === Reason.MalformedInput) return { statusCode: 400, detail: err.rawMessage || "Bad Request" };
  const statusCode = PUBLIC_STATUS[err.code] ?? 500;
  if (err.code === Code.Unavailable) {
    // The api-server names the dependency it lost ("postgres is unavailable"); a ConnectError
    // without our ErrorInfo was raised by the transport: the api-server itself is out of reach.
    return { statusCode, detail: authored && err.rawMessage ? err.rawMessage : `${API_SERVER} is unavailable` };
  }
  // Unimplemented answers we author say what is missing (e.g. "needs the runtime"); nothing internal.
  if (err.code === Code.Unimplemented && authored && err.rawMessage) return { statusCode, detail: err.rawMessage };
  if (statusCode >= 500 || err.code === Code.Canceled) {
    return { statusCode, detail: GENERIC_DETAIL[statusCode] ?? "Internal Server Error" };
  }
  return { statusCode, detail: withViolations(err) };
}

/** The message, followed by the field violations of a BadRequest detail it does not already name. */
function withViolations(err: ConnectError): string {
  const message = err.rawMessage;
  const violations = err.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations);
  const missing = violations.filter((v) => !message.includes(v.field));
  if (missing.length === 0) return message || "Invalid request";
  const listed = missing.map((v) => `'${v.field}' ${v.description}`).join("; ");
  return message ? `${message}: ${listed}` : listed;
}

/**
 * A request the gateway refuses on its own before any work (a Host or Origin it does not serve):
 * answered with this status and detail, which are written for the client.
 */
export class RequestRefused extends Error {
  override readonly name = "RequestRefused";
  constructor(
    readonly statusCode: number,
    readonly detail: string,
  ) {
    super(detail);
  }
}

interface FastifyLikeError {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
  validation?: unknown;
  validationContext?: unknown;
}

/** Every error that reaches the error handler, as the client sees it. */
export function toPublicError(error: unknown, bodyLimitBytes?: number): PublicError {
  // The project's auth answered: its status and message, as the user's code chose them.
  if (isAuthRejected(error)) return { statusCode: error.status, detail: error.detail };
  if (error instanceof ConnectError) return fromConnectError(error);
  if (error instanceof RequestRefused) return { statusCode: error.statusCode, detail: error.detail };
  if (error instanceof RequestValidationError || error instanceof InvalidJsonError) {
    return { statusCode: 422, detail: error.message };
  }
  if (error instanceof JsonTooComplexError) return { statusCode: error.statusCode, detail: error.message };
  if (error !== null && typeof error === "object") {
    const e = error as FastifyLikeError;
    // Fastify's own messages (Ajv's "body must have required property", "FST_ERR_...") are not
    // for users: every answer here is written in this file.
    if (e.validation !== undefined) {
      return {
        statusCode: 422,
        detail: typeof e.validationContext === "string" ? `Invalid ${e.validationContext}` : "Invalid request",
      };
    }
    switch (e.code) {
      case "FST_ERR_CTP_BODY_TOO_LARGE":
        return {
          statusCode: 413,
          detail:
            bodyLimitBytes === undefined
              ? "Request body is too large"
              : `Request body is too large: the limit is ${bodyLimitBytes} bytes`,
        };
      case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
        return { statusCode: 415, detail: "Unsupported media type: send the body as application/json" };
      case "FST_ERR_CTP_EMPTY_JSON_BODY":
      case "FST_ERR_CTP_INVALID_JSON_BODY":
        return { statusCode: 422, detail: "Request body is not valid JSON" };
      case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
        return { statusCode: 400, detail: "Request body size did not match Content-Length" };
      case "FST_ERR_BAD_URL":
        return { statusCode: 400, detail: "Request URL is not valid: a part of its path is not correctly percent-encoded" };
      case "FST_ERR_MAX_PARAM_LENGTH":
        return { statusCode: 414, detail: "Request URL is too long: a part of its path is over the limit" };
    }
    // Other client errors Fastify raises (aborted uploads...) keep their status, with its name.
    if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
      return { statusCode: e.statusCode, detail: STATUS_CODES[e.statusCode] ?? "Bad Request" };
    }
  }
  return { statusCode: 500, detail: GENERIC_DETAIL[500] as string };
}

/**
 * Fastify's `frameworkErrors` option: the errors it meets before any route (a path that is not
 * correctly percent-encoded, or with a part over the length limit), answered as every other.
 */
export function answerFrameworkError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { statusCode, detail } = toPublicError(error);
  request.log.debug({ err: error, status_code: statusCode }, "Rejected request");
  void reply.code(statusCode).send({ detail });
}

/** Node's answers to requests it cannot parse, by its error code; anything else is a 400. */
const CLIENT_ERRORS: Readonly<Record<string, PublicError>> = {
  HPE_HEADER_OVERFLOW: { statusCode: 431, detail: "Request headers are too large" },
  ERR_HTTP_REQUEST_TIMEOUT: { statusCode: 408, detail: "The request took too long to arrive" },
};

/**
 * Fastify's `clientErrorHandler` option: a request Node's HTTP parser refused (headers or URL too
 * long, malformed HTTP) never reaches a route, and Fastify's own answer is in its wording and
 * shape. This one writes the upstream `{"detail": "..."}` body, then closes the connection.
 */
export function answerClientError(this: { log: FastifyRequest["log"] }, error: Error, socket: Duplex): void {
  const code = (error as FastifyLikeError).code;
  // A reset connection has nobody left to answer.
  if (code === "ECONNRESET" || socket.destroyed) return;
  const { statusCode, detail } = (typeof code === "string" ? CLIENT_ERRORS[code] : undefined) ?? {
    statusCode: 400,
    detail: "The request is not valid HTTP",
  };
  this.log.debug({ err: error, status_code: statusCode }, "Rejected a request Node could not parse");
  if (socket.writable) {
    const body = JSON.stringify({ detail });
    socket.write(
      `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Answers worth an error log line: internal failures and lost dependencies. */
export function isServerFault(statusCode: number): boolean {
  return statusCode >= 500;
}

/** Turns a Fastify route URL (`/threads/:thread_id/copy`) into a matcher of request paths. */
export function routeMatcher(url: string): RegExp {
  const pattern = url
    .split("/")
    .map((segment) => {
      if (segment === "*") return ".*";
      if (segment.startsWith(":")) return "[^/]+";
      return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return new RegExp(`^${pattern}$`);
}

export interface ErrorHandlerOptions {
  bodyLimitBytes?: number;
  /** How much of a body over the limit is read before the 413 (see OversizedBodyDrain). */
  oversizedBodyDrain?: Partial<OversizedBodyDrain>;
}

/** Fastify's error for a body over the limit, raised before or while it reads the body. */
export function isBodyTooLarge(error: unknown): boolean {
  return error !== null && typeof error === "object" && (error as FastifyLikeError).code === "FST_ERR_CTP_BODY_TOO_LARGE";
}

/**
 * Before a 413: reads and discards the rest of the body, so that the client, still sending,
 * gets the answer instead of a connection closed under its upload. Fastify marks the answer
 * `Connection: close`; once the whole body is read the connection is clean and may stay open.
 * Past the bounds the answer goes out at once and the connection closes.
 */
async function drainOversizedBody(request: FastifyRequest, reply: FastifyReply, drain: OversizedBodyDrain): Promise<void> {
  const outcome = await drainRequestBody(request.raw, drain);
  if (outcome.complete) {
    reply.removeHeader("connection");
    return;
  }
  reply.header("connection", "close");
  request.log.warn(
    { reason: outcome.reason, drained_bytes: outcome.bytes, content_length: request.headers["content-length"] },
    "Closed connection of an oversized request",
  );
}

/**
 * The one place where public error statuses are chosen: errors thrown by routes and by Fastify
 * (validation, body parsing, limits), unknown routes (404) and known paths with another method
 * (405, with `Allow`).
 */
export const errorHandlerPlugin = fp<ErrorHandlerOptions>(
  async (fastify, { bodyLimitBytes, oversizedBodyDrain }) => {
    const drain: OversizedBodyDrain = { ...DEFAULT_OVERSIZED_BODY_DRAIN, ...oversizedBodyDrain };
    const routes: { method: string; matcher: RegExp }[] = [];
    fastify.addHook("onRoute", (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const method of methods) {
        // OPTIONS is the CORS preflight catch-all; it would make every path look known.
        if (method !== "OPTIONS") routes.push({ method, matcher: routeMatcher(route.url) });
      }
    });

    fastify.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
      const raw = request.url.split("?")[0] ?? "/";
      const path = raw.length > 1 ? raw.replace(/\/$/, "") : raw;
      const allowed = [...new Set(routes.filter((r) => r.matcher.test(path)).map((r) => r.method))];
      if (allowed.length > 0 && !allowed.includes(request.method)) {
        return reply.code(405).header("allow", allowed.join(", ")).send({ detail: "Method Not Allowed" });
      }
      return reply.code(404).send({ detail: "Not Found" });
    });

    fastify.setErrorHandler(async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
      const { statusCode, detail } = toPublicError(error, bodyLimitBytes);
      if (isBodyTooLarge(error)) await drainOversizedBody(request, reply, drain);
      if (isServerFault(statusCode)) request.log.error({ err: error, status_code: statusCode }, "Failed request");
      else request.log.debug({ err: error, status_code: statusCode }, "Rejected request");
      if (isAuthRejected(error)) reply.headers(error.headers);
      const retryAfter = retryAfterOf(error);
      if (retryAfter !== undefined) reply.header("retry-after", retryAfter);
      return reply.code(statusCode).send({ detail });
    });
  },
  { name: "error-handler", fastify: "5.x" },
);
