import type { FastifyInstance, FastifySchemaCompiler } from "fastify";
import { exceededJsonLimit, JsonTooComplexError } from "./json-body.js";

/*
 * JSON-RPC 2.0 over HTTP, for the protocol endpoints (A2A, MCP) whose errors are JSON-RPC error
 * objects rather than the REST `{"detail"}` body: their bodies are parsed leniently, so that
 * invalid JSON reaches the handler (as a parse error to answer) instead of the error handler.
 */

export type JsonRpcId = string | number | null;

/** The error codes of the JSON-RPC 2.0 specification. */
export const JsonRpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** The start of the range left to implementations ("server error"). */
  ServerError: -32000,
} as const;

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

/** A JSON-RPC error to answer, with the HTTP status it goes out with. */
export class JsonRpcFailure extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly httpStatus = 200,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = "JsonRpcFailure";
  }

  toJSON(): JsonRpcErrorObject {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

export interface JsonRpcRequest {
  id: JsonRpcId;
  method: string;
  params: unknown;
}

export const rpcResult = (id: JsonRpcId, result: unknown) => ({ jsonrpc: "2.0" as const, id, result });

export const rpcError = (id: JsonRpcId, error: JsonRpcFailure | JsonRpcErrorObject) => ({
  jsonrpc: "2.0" as const,
  id,
  error: error instanceof JsonRpcFailure ? error.toJSON() : error,
});

/** A request body that is not JSON (or is empty); the handler answers it with a parse error. */
export const UNPARSABLE_BODY: unique symbol = Symbol("unparsable JSON body");

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The envelope of one JSON-RPC request: `jsonrpc: "2.0"`, a string or number `id` (a request
 * without one is a notification, which these endpoints do not take), a string `method`.
 * Throws a parse error (400) for a body that is not JSON, an invalid request (400) otherwise.
 */
export function parseJsonRpcRequest(body: unknown): JsonRpcRequest {
  if (body === UNPARSABLE_BODY) throw new JsonRpcFailure(JsonRpcCode.ParseError, "Parse error: the body is not valid JSON", 400);
  if (Array.isArray(body))
    throw new JsonRpcFailure(JsonRpcCode.InvalidRequest, "Invalid request: batches are not supported", 400);
  if (!isObject(body))
    throw new JsonRpcFailure(JsonRpcCode.InvalidRequest, "Invalid request: send a JSON-RPC 2.0 request object", 400);
  if (body.jsonrpc !== "2.0")
    throw new JsonRpcFailure(JsonRpcCode.InvalidRequest, `Invalid request: 'jsonrpc' must be "2.0"`, 400);
  const id = body.id;
  if (id === undefined || !(typeof id === "string" || typeof id === "number" || id === null)) {
    throw new JsonRpcFailure(JsonRpcCode.InvalidRequest, "Invalid request: 'id' must be a string or a number", 400);
  }
  if (typeof body.method !== "string" || body.method === "") {
    throw new JsonRpcFailure(JsonRpcCode.InvalidRequest, "Invalid request: 'method' must be a non-empty string", 400);
  }
  return { id, method: body.method, params: body.params };
}

/** The request id, when the body has a usable one (for the error answer to a bad envelope). */
export function requestIdOf(body: unknown): JsonRpcId {
  if (!isObject(body)) return null;
  const id = body.id;
  return typeof id === "string" || typeof id === "number" ? id : null;
}

/**
 * Replaces the JSON body parser of the calling (encapsulated) plugin: invalid or empty JSON
 * becomes UNPARSABLE_BODY instead of a 422. Parsing stays Fastify's, with prototype-poisoning
 * protection; the body size limit and the complexity limits of the JSON body plugin still apply.
 */
export function lenientJsonBodies(fastify: FastifyInstance): void {
  const parse = fastify.getDefaultJsonParser("error", "error");
  fastify.removeContentTypeParser("application/json");
  fastify.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text.trim() === "") {
      done(null, UNPARSABLE_BODY);
      return;
    }
    // Over a complexity limit: refused (413) like a body over the byte limit, before parsing.
    const exceeded = exceededJsonLimit(text, fastify.jsonBodyLimits);
    if (exceeded !== undefined) {
      done(new JsonTooComplexError(exceeded), undefined);
      return;
    }
    parse(request, text, (err, value) => done(null, err ? UNPARSABLE_BODY : value));
  });
}

/**
 * A validator that lets the body through as it is: the schemas of the protocol endpoints document
 * the envelope, and the handler answers its faults as JSON-RPC errors.
 */
export const documentOnly: FastifySchemaCompiler<unknown> = () => (value: unknown) => ({ value });
