import type { FastifyInstance, FastifyRequest } from "fastify";
import { exceededJsonLimit, JsonTooComplexError } from "../../plugins/json-body.js";
import { RequestValidationError } from "../../validation.js";

/** A request body that is not JSON. The protocol routes answer 400 for it, not the usual 422. */
export class MalformedJson {
  readonly message = "Request body is not valid JSON";
}

/**
 * Makes invalid JSON reach the handlers of this scope as a MalformedJson instead of failing the
 * request (an empty body stays "no body"); parsing itself stays Fastify's, after the complexity
 * limits of every JSON body (over them: 413).
 */
export function acceptMalformedJson(fastify: FastifyInstance): void {
  const parse = fastify.getDefaultJsonParser("error", "error");
  fastify.removeContentTypeParser("application/json");
  fastify.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text.trim() === "") {
      done(null, undefined);
      return;
    }
    const exceeded = exceededJsonLimit(text, fastify.jsonBodyLimits);
    if (exceeded !== undefined) {
      done(new JsonTooComplexError(exceeded), undefined);
      return;
    }
    parse(request, text, (err, value) => done(null, err ? new MalformedJson() : value));
  });
}

/**
 * Why a protocol request's body cannot be read: a message for a 400, or undefined when it can.
 * A wrong path parameter is not the body's fault: it is thrown, for the usual 422.
 */
export function malformedBody(request: FastifyRequest): string | undefined {
  if (request.body instanceof MalformedJson) return request.body.message;
  const error = request.validationError;
  if (error === undefined || error === null) return undefined;
  if (error instanceof RequestValidationError && error.validationContext !== "body") throw error;
  return error.message;
}
