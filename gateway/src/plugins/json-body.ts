import type { FastifyRequest } from "fastify";
import fp from "fastify-plugin";

/** A request body that is not JSON although its content type says so (answered 422, as FastAPI does). */
export class InvalidJsonError extends Error {
  readonly statusCode = 422;
  constructor() {
    super("Request body is not valid JSON");
    this.name = "InvalidJsonError";
  }
}

/**
 * Replaces Fastify's JSON body parser: an empty body (the SDKs POST some endpoints without one)
 * parses as "no body" instead of failing, and invalid JSON becomes an InvalidJsonError. Parsing
 * itself stays Fastify's, with prototype-poisoning protection.
 */
export const jsonBodyPlugin = fp(
  async (fastify) => {
    const parse = fastify.getDefaultJsonParser("error", "error");
    // JSON only: a text/plain body would otherwise reach the schemas as a string.
    fastify.removeContentTypeParser(["application/json", "text/plain"]);
    fastify.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
      const text = typeof body === "string" ? body : body.toString("utf8");
      if (text.trim() === "") {
        done(null, undefined);
        return;
      }
      parse(request, text, (err, value) => {
        if (err) done(new InvalidJsonError(), undefined);
        else done(null, value);
      });
    });
  },
  { name: "json-body", fastify: "5.x" },
);

/**
 * preValidation hook of endpoints whose body is optional (searches, counts, versions...): a
 * missing body validates as `{}`.
 */
export async function emptyBodyAsObject(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}
