import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseEnv } from "node:util";
import { StartupError } from "./service-process.js";

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
  /** `ui` of langgraph.json: a UI namespace (usually a graph id) to the file exporting its React components. */
  ui?: Record<string, string>;
  /** `ui_config` of langgraph.json: modules the bundles take from the page instead of bundling them. */
  ui_config?: { shared?: string[] };
  /** Keys present that apply to building an image or to Python projects only: accepted, not applied (worth a warning). */
  ignored: string[];
}

/**
 * Every top-level key of langgraph.json and what LangOpen does with it. "apply": read and
 * honoured. "ignore": accepted with a warning, because it only matters when building a
 * container image or for Python graphs (the upstream JS CLI accepts these too, so a project's
 * file keeps working unchanged). Any other key, and "refuse" keys, fail the start naming the key:
 * a setting that silently does nothing would be worse than a clear message.
 */
export const LANGGRAPH_JSON_KEYS: Record<string, { action: "apply" | "ignore" | "refuse"; why: string }> = {
  $schema: { action: "apply", why: "the file's JSON Schema, for editors (nothing to serve)" },
  graphs: { action: "apply", why: "the graphs served" },
  env: { action: "apply", why: "the graphs' environment (an object, or a path to a .env file)" },
  auth: { action: "apply", why: "custom authentication" },
  http: { action: "apply", why: "CORS, custom routes and the disable_* switches" },
  langopen: { action: "apply", why: "LangOpen's own settings (sandbox allowances)" },
  node_version: { action: "ignore", why: "LangOpen runs graphs on the Node.js that runs it" },
  dependencies: { action: "ignore", why: "packages are installed by the project itself (npm install), not by LangOpen" },
  dockerfile_lines: { action: "ignore", why: "applies to building a container image" },
  docker_compose_file: { action: "ignore", why: "applies to building a container image" },
  base_image: { action: "ignore", why: "applies to building a container image" },
  image_distro: { action: "ignore", why: "applies to building a container image" },
  api_version: { action: "ignore", why: "applies to building a container image" },
  _INTERNAL_docker_tag: { action: "ignore", why: "applies to building a container image" },
  keep_pkg_tools: { action: "ignore", why: "applies to building a container image" },
  python_version: { action: "ignore", why: "applies to Python graphs only" },
  pip_config_file: { action: "ignore", why: "applies to Python graphs only" },
  pip_installer: { action: "ignore", why: "applies to Python graphs only" },
  ui: { action: "apply", why: "generative UI components, bundled at start and served under /ui" },
  ui_config: { action: "apply", why: "the packages UI bundles share with the page (`shared`)" },
  node_loader: { action: "refuse", why: "custom Node.js loaders are not supported" },
  store: { action: "refuse", why: "store.index (semantic search) and store.ttl are not supported" },
  checkpointer: { action: "refuse", why: "checkpointer settings (ttl, serde) are not supported" },
};

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
  /** Whether the custom routes of `app` are authenticated as the API's routes are (default: open, as upstream). */
  enable_custom_route_auth?: boolean;
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
  const ignored: string[] = [];
  for (const [key, value] of Object.entries(parsed)) {
    const known = Object.hasOwn(LANGGRAPH_JSON_KEYS, key) ? LANGGRAPH_JSON_KEYS[key] : undefined;
    if (known === undefined)
      throw new StartupError(`${absolute}: unknown key "${key}" (see the README for the keys LangOpen reads)`);
    if (known.action === "ignore") ignored.push(key);
    // An empty section asks for nothing, so it is no reason to refuse the project.
    const empty = value === null || (typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0);
    if (known.action === "refuse" && !empty) throw new StartupError(`${absolute}: "${key}" is not supported: ${known.why}`);
  }
  const { env, store, checkpointer, auth, http, ui, ui_config } = parsed as Partial<LanggraphConfig>;
  if (env !== undefined && typeof env !== "string" && (env === null || typeof env !== "object" || Array.isArray(env))) {
    throw new StartupError(
      `${absolute}: "env" must be an object of variables or the path of a .env file, got ${JSON.stringify(env)}`,
    );
  }
  for (const [key, section] of Object.entries({ auth, http })) {
    if (section !== undefined && (section === null || typeof section !== "object" || Array.isArray(section))) {
      throw new Error(`${absolute}: "${key}" must be an object, got ${JSON.stringify(section)}`);
    }
  }
  if (auth?.path !== undefined && (typeof auth.path !== "string" || auth.path.length === 0)) {
    throw new Error(`${absolute}: "auth.path" must be "./file:export" or "./file", got ${JSON.stringify(auth.path)}`);
  }
  checkUi(absolute, ui, ui_config);
  return { path: absolute, dir: path.dirname(absolute), graphs, env, store, checkpointer, auth, http, ui, ui_config, ignored };
}

/** `ui` must map names to files inside the project, `ui_config.shared` list module names. */
function checkUi(file: string, ui: unknown, uiConfig: unknown): void {
  if (ui !== undefined) {
    if (ui === null || typeof ui !== "object" || Array.isArray(ui))
      throw new StartupError(`${file}: "ui" must map names to component files, got ${JSON.stringify(ui)}`);
    for (const [name, target] of Object.entries(ui)) {
      if (typeof target !== "string" || target === "")
        throw new StartupError(`${file}: "ui.${name}" must be the path of a file, got ${JSON.stringify(target)}`);
      const resolved = path.resolve(path.dirname(file), target);
      if (path.relative(path.dirname(file), resolved).startsWith("..") || path.isAbsolute(target))
        throw new StartupError(`${file}: "ui.${name}" must be a file inside the project, got ${JSON.stringify(target)}`);
    }
  }
  if (uiConfig !== undefined) {
    const shared = (uiConfig as { shared?: unknown } | null)?.shared;
    const valid =
      uiConfig !== null &&
      typeof uiConfig === "object" &&
      !Array.isArray(uiConfig) &&
      Object.keys(uiConfig).every((key) => key === "shared") &&
      (shared === undefined || (Array.isArray(shared) && shared.every((name) => typeof name === "string" && name !== "")));
    if (!valid)
      throw new StartupError(`${file}: "ui_config" must be {"shared": ["module", ...]}, got ${JSON.stringify(uiConfig)}`);
  }
}

/**
 * The variables `env` of a langgraph.json gives: its object, or the variables of the `.env` file
 * it names (relative to the langgraph.json; a missing file fails the start). As upstream, a
 * variable already set in `inherited` keeps that value: the deployment's environment wins over
 * the project's defaults, so those are left out here.
 */
export async function readProjectEnv(
  config: Pick<LanggraphConfig, "env" | "dir" | "path">,
  inherited: Record<string, string | undefined> = {},
): Promise<Record<string, string>> {
  let declared: Record<string, unknown>;
  if (typeof config.env === "string") {
    const file = path.resolve(config.dir, config.env);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw new StartupError(
        `${config.path}: cannot read the env file "${config.env}" (${file}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    declared = parseEnv(text);
  } else {
    declared = config.env ?? {};
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(declared)) {
    if (inherited[name] !== undefined) continue;
    if (typeof value !== "string")
      throw new StartupError(`${config.path}: env variable "${name}" must be a string, got ${JSON.stringify(value)}`);
    out[name] = value;
  }
  return out;
}

/** The config and context of one graph's default assistant. */
export interface DefaultAssistantSettings {
  config: { [key: string]: JsonValue };
  context: { [key: string]: JsonValue };
}

type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * The default assistants' settings from `LANGGRAPH_CONFIG` (JSON: graph id to a config whose
 * `context` key, if any, is the assistant's context), as the upstream server reads it. Taken from
 * the environment or else the project's `env`, the way upstream's CLI hands both to its server.
 */
export async function defaultAssistantSettings(
  config: Pick<LanggraphConfig, "env" | "dir" | "path">,
  inherited: Record<string, string | undefined>,
): Promise<Record<string, DefaultAssistantSettings>> {
  const raw = inherited.LANGGRAPH_CONFIG ?? (await readProjectEnv(config, inherited)).LANGGRAPH_CONFIG;
  if (raw === undefined || raw === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new StartupError(`LANGGRAPH_CONFIG is not valid JSON: ${(err as Error).message}`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  if (!isObject(parsed) || !Object.values(parsed).every(isObject)) {
    throw new StartupError('LANGGRAPH_CONFIG must map graph ids to configs, such as {"agent": {"configurable": {"model": "x"}}}');
  }
  const out: Record<string, DefaultAssistantSettings> = {};
  for (const [graphId, value] of Object.entries(parsed as Record<string, Record<string, JsonValue>>)) {
    const { context, ...rest } = value;
    if (context !== undefined && !isObject(context))
      throw new StartupError(`LANGGRAPH_CONFIG: "${graphId}.context" must be an object`);
    out[graphId] = { config: rest, context: (context as DefaultAssistantSettings["context"] | undefined) ?? {} };
  }
  return out;
}
