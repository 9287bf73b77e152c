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
 * How complex a JSON body may be. The byte limit alone does not bound the work a body causes:
 * 10 MB of `[` nests 5 million deep (and every recursive step after parsing - serialising,
 * converting, storing - overflows the stack), and 10 MB of distinct keys in one object costs
 * seconds of parsing alone (an object that large leaves V8's fast representation).
 */
export interface JsonLimits {
  /** Most levels of nested objects and arrays (the top-level value is level 1). */
  maxDepth: number;
  /** Most object keys plus array elements in the whole body. */
  maxItems: number;
  /** Most keys in any one object. */
  maxObjectKeys: number;
}

/*
 * Defaults no LangGraph client comes near: its deepest bodies (a message's content blocks, a tool
 * call's arguments, a JSON schema in a config) nest tens of levels, and a long conversation of a
 * few thousand messages is well under 100 000 values. They keep every request cheap: a body at
 * the limits parses in about 10 ms, and 200 levels stay far from the depth (a few thousand)
 * where recursive JSON code downstream runs out of stack.
 */
export const DEFAULT_JSON_LIMITS: Readonly<JsonLimits> = Object.freeze({
  maxDepth: 200,
  maxItems: 200_000,
  maxObjectKeys: 10_000,
});

/**
 * A JSON body over a complexity limit: answered 413, like a body over the byte limit. The body is
 * valid and may even match the schema; it is refused because of the work it would cause, which
 * is what 413 (Content Too Large) says, and the SDKs do not retry it.
 */
export class JsonTooComplexError extends Error {
  readonly statusCode = 413;
  constructor(message: string) {
    super(message);
    this.name = "JsonTooComplexError";
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/**
 * Checks the raw text of a JSON document against the limits in one pass, without parsing it and
 * without recursion, and answers the first limit exceeded (undefined: within them). It runs before
 * JSON.parse, so a body over a limit costs a scan of its text up to the point where it went over.
 * The text is not validated: for valid JSON the counts are exact, and invalid JSON within the
 * limits is left to the parser to refuse.
 */
export function exceededJsonLimit(text: string, limits: JsonLimits): string | undefined {
  const { maxDepth, maxItems, maxObjectKeys } = limits;
  // Per open container: the items seen so far and whether it is an object.
  const counts = new Uint32Array(maxDepth + 1);
  const isObject = new Uint8Array(maxDepth + 1);
  let depth = 0;
  let items = 0;
  // Just after `{` or `[`: the next token that is not its close is its first item.
  let awaitingFirst = false;
  const countItem = (): string | undefined => {
    items++;
    if (items > maxItems) {
      return `Request body has too many values: the limit is ${maxItems} object keys and array elements in all`;
    }
    const count = (counts[depth] ?? 0) + 1;
    counts[depth] = count;
    if (count > maxObjectKeys && isObject[depth] === 1) {
      return `Request body has an object with too many keys: the limit is ${maxObjectKeys} keys per object`;
    }
    return undefined;
  };
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    // Whitespace between tokens changes nothing.
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth > 0) depth--;
      awaitingFirst = false;
      continue;
    }
    if (c === COMMA) {
      if (depth > 0) {
        const exceeded = countItem();
        if (exceeded) return exceeded;
      }
      continue;
    }
    if (awaitingFirst) {
      awaitingFirst = false;
      const exceeded = countItem();
      if (exceeded) return exceeded;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      if (depth > maxDepth) return `Request body is nested too deeply: the limit is ${maxDepth} levels`;
      counts[depth] = 0;
      isObject[depth] = c === OPEN_OBJECT ? 1 : 0;
      awaitingFirst = true;
    } else if (c === QUOTE) {
      // Jump to the closing quote. The next quote is it unless a backslash precedes it: then
      // the string has escapes, walked one character at a time (a search per escaped quote
      // would cost far more when they are dense).
      let end = text.indexOf('"', i + 1);
      if (end !== -1 && text.charCodeAt(end - 1) === BACKSLASH) {
        end = -1;
        for (let j = i + 1; j < length; j++) {
          const d = text.charCodeAt(j);
          if (d === BACKSLASH) j++;
          else if (d === QUOTE) {
            end = j;
            break;
          }
        }
      }
      if (end === -1) return undefined; // unterminated: the parser refuses it
      i = end;
    }
  }
  return undefined;
}

declare module "fastify" {
  interface FastifyInstance {
    /** The complexity limits of JSON bodies, for parsers that encapsulated routes install. */
    jsonBodyLimits: Readonly<JsonLimits>;
  }
}

export interface JsonBodyOptions {
  /** Complexity limits of JSON bodies (defaults: DEFAULT_JSON_LIMITS). */
  limits?: Partial<JsonLimits>;
}

/**
 * Replaces Fastify's JSON body parser: an empty body (the SDKs POST some endpoints without one)
 * parses as "no body" instead of failing, invalid JSON becomes an InvalidJsonError, and a body
 * over a complexity limit a JsonTooComplexError, before anything parses it. Parsing itself stays
 * Fastify's, with prototype-poisoning protection.
 */
export const jsonBodyPlugin = fp<JsonBodyOptions>(
  async (fastify, options) => {
    const limits: Readonly<JsonLimits> = Object.freeze({ ...DEFAULT_JSON_LIMITS, ...options.limits });
    fastify.decorate("jsonBodyLimits", limits);
    const parse = fastify.getDefaultJsonParser("error", "error");
    // JSON only: a text/plain body would otherwise reach the schemas as a string.
    fastify.removeContentTypeParser(["application/json", "text/plain"]);
    fastify.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
      const text = typeof body === "string" ? body : body.toString("utf8");
      if (text.trim() === "") {
        done(null, undefined);
        return;
      }
      const exceeded = exceededJsonLimit(text, limits);
      if (exceeded !== undefined) {
        done(new JsonTooComplexError(exceeded), undefined);
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
