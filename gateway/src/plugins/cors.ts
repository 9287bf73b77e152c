import cors, { type FastifyCorsOptions } from "@fastify/cors";
import type { LanggraphCorsConfig } from "@langopen/common";
import fp from "fastify-plugin";
import { RequestRefused } from "./error-handler.js";

/*
 * Which web pages may use the API from a browser. Answering other origins without
 * `Access-Control-Allow-Origin` is not enough: a browser still sends a page's "simple" requests
 * (a form POST, a fetch without custom headers) and only hides the answer from the page, so the
 * request would run (delete a thread, start a run). A request carrying an `Origin` that is not
 * allowed is therefore refused with 403 before any work, preflight or not. Requests without
 * `Origin` (SDKs, curl, servers) are not browser cross-origin requests and pass untouched.
 *
 * @fastify/cors does the header work; its `origin` callback is where the refusal happens: an
 * error there goes to the error handler (403 `{"detail": ...}`) before the route runs.
 */

/** Methods a browser may use when the configuration names none: every method the API has. */
export const DEFAULT_CORS_METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH"];

/** The longest part of a refused Origin repeated in the answer. */
const MAX_ECHOED_ORIGIN = 200;

/** `http(s)://localhost`, `127.0.0.1` or `[::1]`, with or without a port. */
const LOOPBACK_ORIGIN = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/i;

/** Decides whether a page of an origin may call the API. */
export type OriginPolicy = (origin: string) => boolean;

function stringList(value: unknown, key: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new Error(`langgraph.json: "http.cors.${key}" must be a list of strings, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * The origins a `cors` section allows (its regex, which wins over its list, or its list, where
 * `*` allows any), or loopback pages only when there is none. The regex must match the whole
 * origin: `https://app\.example\.com` does not let in `https://app.example.com.evil.example`.
 */
export function originPolicy(config: LanggraphCorsConfig | undefined): OriginPolicy {
  if (config === undefined) return (origin) => LOOPBACK_ORIGIN.test(origin);
  if (config.allow_origin_regex !== undefined) {
    if (typeof config.allow_origin_regex !== "string") {
      throw new Error(`langgraph.json: "http.cors.allow_origin_regex" must be a string`);
    }
    let pattern: RegExp;
    try {
      pattern = new RegExp(`^(?:${config.allow_origin_regex})$`);
    } catch (err) {
      throw new Error(
        `langgraph.json: "http.cors.allow_origin_regex" is not a valid regular expression: ${(err as Error).message}`,
      );
    }
    return (origin) => pattern.test(origin);
  }
  const origins = stringList(config.allow_origins, "allow_origins") ?? [];
  if (origins.includes("*")) return () => true;
  const allowed = new Set(origins.map((o) => o.replace(/\/$/, "").toLowerCase()));
  return (origin) => allowed.has(origin.toLowerCase());
}

/** The configured exposed headers, followed by those of ours it does not name (any case). */
export function exposedHeadersOf(config: LanggraphCorsConfig | undefined, ours: readonly string[]): string[] {
  const configured = stringList(config?.expose_headers, "expose_headers") ?? [];
  const named = new Set(configured.map((h) => h.toLowerCase()));
  return [...configured, ...ours.filter((h) => !named.has(h.toLowerCase()))];
}

/** Whether a page of `origin` is this very server as the request reached it (same-origin, not cross-origin). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

export interface CorsOptions {
  /** `http.cors` of langgraph.json; absent: loopback origins only. */
  cors?: LanggraphCorsConfig;
  /** Headers browsers may always read (the configured ones come first). */
  exposedHeaders: readonly string[];
  /**
   * Let pages served under the request's own Host through (the portal on a named host). Safe
   * only while the Host check is on: it has already refused hosts this server does not serve.
   */
  allowSameOrigin: boolean;
}

/** CORS for the public API: allowed origins get the headers, others are refused with 403. */
export const corsPlugin = fp<CorsOptions>(
  async (fastify, options) => {
    const allowed = originPolicy(options.cors);
    const config = options.cors ?? {};
    if (config.max_age !== undefined && (!Number.isInteger(config.max_age) || config.max_age < 0)) {
      throw new Error(
        `langgraph.json: "http.cors.max_age" must be a whole number of seconds, got ${JSON.stringify(config.max_age)}`,
      );
    }
    if (config.allow_credentials !== undefined && typeof config.allow_credentials !== "boolean") {
      throw new Error(`langgraph.json: "http.cors.allow_credentials" must be true or false`);
    }
    const allowedHeaders = stringList(config.allow_headers, "allow_headers");
    const granted: FastifyCorsOptions = {
      origin: true, // the request's own Origin, once allowed below
      methods: stringList(config.allow_methods, "allow_methods") ?? DEFAULT_CORS_METHODS,
      // Absent: the headers a preflight asks for are allowed (the SDKs send x-api-key, content-type...).
      ...(allowedHeaders !== undefined && { allowedHeaders }),
      credentials: config.allow_credentials ?? false,
      exposedHeaders: exposedHeadersOf(options.cors, options.exposedHeaders),
      ...(config.max_age !== undefined && { maxAge: config.max_age }),
      // A bare OPTIONS with an allowed Origin is answered as a preflight, not with a text body.
      strictPreflight: false,
    };
    // No Origin: no CORS headers at all (and OPTIONS is then no preflight but a method the path lacks).
    const none: FastifyCorsOptions = { origin: false };
    await fastify.register(cors, {
      delegator: (request, callback) => {
        const { origin } = request.headers;
        if (origin === undefined) return callback(null, none);
        if (allowed(origin) || (options.allowSameOrigin && sameOrigin(origin, request.headers.host))) {
          return callback(null, granted);
        }
        request.log.warn({ origin }, "Refused a request from an origin that is not allowed");
        callback(new RequestRefused(403, `Origin ${origin.slice(0, MAX_ECHOED_ORIGIN)} is not allowed`));
      },
    });
  },
  { name: "cors", fastify: "5.x" },
);
