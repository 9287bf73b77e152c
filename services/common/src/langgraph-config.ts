import { readFile } from "node:fs/promises";
import path from "node:path";

/** The parts of a langgraph.json that LangOpen reads. */
export interface LanggraphConfig {
  /** Absolute path of the langgraph.json. */
  path: string;
  /** Its folder, against which graph paths resolve. */
  dir: string;
  /** Graph id to `./file.ts:export` (or an object with a `path`). */
  graphs: Record<string, string>;
  env?: Record<string, string> | string;
  store?: unknown;
  checkpointer?: unknown;
  /** `auth` of langgraph.json: the custom auth module and its settings. */
  auth?: LanggraphAuthConfig;
  /** `http` of langgraph.json: CORS, the `disable_*` switches, custom routes. */
  http?: LanggraphHttpConfig;
}

/** `auth` of langgraph.json (the upstream keys). */
export interface LanggraphAuthConfig {
  /** `./file.ts:export` (no export: the default export) of an `Auth` instance. */
  path?: string;
  /** Trust `x-auth-scheme: langsmith` requests as the Studio user (never by default in LangOpen). */
  disable_studio_auth?: boolean;
  /** How long what `authenticate` answered may be reused for the same credential. */
  cache?: { cache_keys?: string[]; ttl_seconds?: number; max_size?: number };
}

/** `cors` of langgraph.json's `http` (the upstream keys). */
export interface LanggraphCorsConfig {
  allow_origins?: string[];
  allow_origin_regex?: string;
  allow_methods?: string[];
  allow_headers?: string[];
  allow_credentials?: boolean;
  expose_headers?: string[];
  max_age?: number;
}

/** `http` of langgraph.json (the upstream keys LangOpen reads). */
export interface LanggraphHttpConfig {
  cors?: LanggraphCorsConfig;
  disable_assistants?: boolean;
  disable_threads?: boolean;
  disable_runs?: boolean;
  disable_store?: boolean;
  disable_meta?: boolean;
  disable_mcp?: boolean;
  disable_a2a?: boolean;
  disable_webhooks?: boolean;
  /** Host names (besides loopback ones) that requests may name in `Host`; LangOpen's own key. */
  allowed_hosts?: string[];
  app?: string;
}

/** Reads and checks a langgraph.json; the error names the file and what is wrong. */
export async function readLanggraphConfig(file: string): Promise<LanggraphConfig> {
  const absolute = path.resolve(file);
  let raw: string;
  try {
    raw = await readFile(absolute, "utf8");
  } catch (err) {
    throw new Error(`Cannot read ${absolute}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new Error(`${absolute} is not valid JSON: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error(`${absolute} must hold a JSON object`);
  const graphsIn = (parsed as { graphs?: unknown }).graphs;
  if (!graphsIn || typeof graphsIn !== "object" || Array.isArray(graphsIn)) {
    throw new Error(`${absolute} must have a "graphs" object mapping graph ids to "./file:export"`);
  }
  const graphs: Record<string, string> = {};
  for (const [id, spec] of Object.entries(graphsIn)) {
    const target = typeof spec === "string" ? spec : (spec as { path?: unknown } | null)?.path;
    if (typeof target !== "string" || !target.includes(":")) {
      throw new Error(`${absolute}: graph "${id}" must be "./file:export", got ${JSON.stringify(spec)}`);
    }
    graphs[id] = target;
  }
  const { env, store, checkpointer, auth, http } = parsed as Partial<LanggraphConfig>;
  for (const [key, section] of Object.entries({ auth, http })) {
    if (section !== undefined && (section === null || typeof section !== "object" || Array.isArray(section))) {
      throw new Error(`${absolute}: "${key}" must be an object, got ${JSON.stringify(section)}`);
    }
  }
  if (auth?.path !== undefined && (typeof auth.path !== "string" || auth.path.length === 0)) {
    throw new Error(`${absolute}: "auth.path" must be "./file:export" or "./file", got ${JSON.stringify(auth.path)}`);
  }
  return { path: absolute, dir: path.dirname(absolute), graphs, env, store, checkpointer, auth, http };
}
