import { type LanggraphAuthConfig, type Logger, readLanggraphConfig } from "@langopen/common";
import { loadProjectExport } from "../graphs/project-export.js";
import type { BuiltModules } from "../sandbox/typescript-build.js";
import { isKnownEvent } from "./events.js";

/** A callback the project registered: `authenticate(request)` or a handler of `on(...)`. */
export type AuthCallback = (arg: unknown) => unknown;

/**
 * What the SDK's `Auth` keeps of what the project registered (its `~handlerCache`). Read on
 * every call rather than copied at load, as upstream does: the object is the project's.
 */
export interface AuthHandlerCache {
  authenticate?: AuthCallback;
  callbacks?: Record<string, AuthCallback | undefined>;
}

/** `auth.cache` of langgraph.json with its defaults filled in. */
export interface AuthCacheConfig {
  /** Lower-cased header names. */
  cacheKeys: string[];
  ttlSeconds: number;
  maxSize: number;
}

/** The project's custom auth, loaded. */
export interface ProjectAuth {
  /** `auth.path` as written in langgraph.json. */
  readonly path: string;
  readonly handlers: AuthHandlerCache;
  readonly cache?: AuthCacheConfig;
  readonly disableStudioAuth: boolean;
}

export interface LoadAuthOptions {
  configPath: string;
  logger: Logger;
  /** A module that takes longer than this to load fails the load. */
  loadTimeoutMs?: number;
  /** The project's TypeScript entries compiled before this process started (see the graph registry). */
  builtModules?: BuiltModules;
}

const DEFAULT_TTL_SECONDS = 60;
const DEFAULT_MAX_SIZE = 1000;
const INT32_MAX = 2 ** 31 - 1;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/**
 * Whether a value is an `Auth` of @langchain/langgraph-sdk, judged by the state the SDK keeps
 * rather than by `instanceof`: the project may bring its own copy of the SDK, whose class is not
 * the one this process would import.
 */
function isAuthInstance(value: unknown): value is { "~handlerCache": AuthHandlerCache } {
  if (!isObject(value) || !isObject(value["~handlerCache"])) return false;
  const cache = value["~handlerCache"];
  if (cache.authenticate !== undefined && typeof cache.authenticate !== "function") return false;
  if (cache.callbacks === undefined) return true;
  return isObject(cache.callbacks) && Object.values(cache.callbacks).every((cb) => typeof cb === "function");
}

function causeOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.name === "Error" || err.message.startsWith(err.name) ? err.message : `${err.name}: ${err.message}`;
}

function positiveInt(value: unknown, field: string, fallback: number, where: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > INT32_MAX) {
    throw new Error(`${where}: "auth.cache.${field}" must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** `auth.cache` checked, with upstream's defaults for what it leaves out. */
function cacheConfig(cache: LanggraphAuthConfig["cache"], where: string): AuthCacheConfig | undefined {
  if (cache === undefined) return undefined;
  if (!isObject(cache) || Array.isArray(cache)) {
    throw new Error(`${where}: "auth.cache" must be an object, got ${JSON.stringify(cache)}`);
  }
  const keys = cache.cache_keys ?? [];
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === "string" && key !== "")) {
    throw new Error(`${where}: "auth.cache.cache_keys" must be a list of header names, got ${JSON.stringify(keys)}`);
  }
  return {
    // Header names are case-insensitive; the gateway looks them up lower-cased.
    cacheKeys: keys.map((key) => key.toLowerCase()),
    ttlSeconds: positiveInt(cache.ttl_seconds, "ttl_seconds", DEFAULT_TTL_SECONDS, where),
    maxSize: positiveInt(cache.max_size, "max_size", DEFAULT_MAX_SIZE, where),
  };
}

/**
 * Loads the `Auth` instance that `auth.path` of a langgraph.json names, the way graphs load
 * (resolved against the config's folder, TypeScript through the same hooks). Undefined when the
 * project declares no auth. Throws when the module cannot be loaded or is not an `Auth`: the
 * runtime must then not start, since serving without the auth a project declares would be
 * serving it open.
 */
export async function loadProjectAuth(options: LoadAuthOptions): Promise<ProjectAuth | undefined> {
  const config = await readLanggraphConfig(options.configPath);
  const auth = config.auth;
  if (auth?.path === undefined) return undefined;
  const spec = auth.path;
  const cache = cacheConfig(auth.cache, config.path);
  if (auth.disable_studio_auth !== undefined && typeof auth.disable_studio_auth !== "boolean") {
    throw new Error(`${config.path}: "auth.disable_studio_auth" must be true or false`);
  }

  let exported: unknown;
  try {
    exported = await loadProjectExport(spec, {
      dir: config.dir,
      builtModules: options.builtModules,
      timeoutMs: options.loadTimeoutMs ?? 30_000,
    });
  } catch (err) {
    throw new Error(`Failed to load auth: ${spec}: ${causeOf(err)}`, { cause: err });
  }
  if (!isAuthInstance(exported)) throw new Error(`Auth must be an instance of Auth: ${spec}`);

  const handlers = exported["~handlerCache"];
  const keys = Object.keys(handlers.callbacks ?? {});
  const unknown = keys.filter((key) => !isKnownEvent(key));
  if (unknown.length > 0) {
    // Upstream accepts them too; a typo ("thread:create") would otherwise silently never run.
    options.logger.warn({ auth: spec, handlers: unknown }, "Found Auth handlers for events that do not exist");
  }
  options.logger.info({ auth: spec, authenticates: handlers.authenticate !== undefined, handlers: keys }, "Loaded Auth");
  return { path: spec, handlers, cache, disableStudioAuth: auth.disable_studio_auth ?? false };
}
