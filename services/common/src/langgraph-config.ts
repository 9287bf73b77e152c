import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
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
  /** `egress` of langgraph.json (LangOpen's own key): where graph code may connect, merged per destination. */
  egress?: EgressEntry[];
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
  egress: {
    action: "apply",
    why: "where graph code may connect; enforced by the operator's NetworkPolicy on Kubernetes, not by npm start yet",
  },
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
  const egressIn = (parsed as { egress?: unknown }).egress;
  const egress = parseEgress(egressIn);
  if (egress.problems.length > 0) throw new StartupError(`${absolute}: ${egress.problems.join("; ")}`);
  return {
    path: absolute,
    dir: path.dirname(absolute),
    graphs,
    env,
    store,
    checkpointer,
    auth,
    http,
    ui,
    ui_config,
    ...(egressIn !== undefined && { egress: egress.entries }),
    ignored,
  };
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

/** One destination graph code may reach: an entry of the AgentDeployment's `spec.egress`. */
export interface EgressEntry {
  /** A host name in lower case, or a wildcard suffix such as `*.example.com`. */
  host?: string;
  /** An address block in canonical form, such as `203.0.113.0/24` or `2001:db8::/32`. */
  cidr?: string;
  /** Sorted, without duplicates. */
  ports: number[];
}

/**
 * The special-purpose address blocks graph code does not reach unless something opens them on
 * purpose: the installation on Kubernetes (the operator's egressAllowedCidrs), or under gVisor an
 * `egress` entry naming a block inside them. Loopback, link-local and the cloud metadata endpoint,
 * private and shared ranges, multicast, reserved, and their IPv6 counterparts (IPv4-mapped
 * addresses among them).
 */
export const SPECIAL_PURPOSE_CIDRS = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "224.0.0.0/4",
  "240.0.0.0/4",
  "::/128",
  "::1/128",
  "::ffff:0:0/96",
  "64:ff9b::/96",
  "fc00::/7",
  "fe80::/10",
  "ff00::/8",
] as const;

/** The AgentDeployment's limits (its CRD): destinations, ports of one destination. */
export const MAX_EGRESS_ENTRIES = 64;
export const MAX_EGRESS_PORTS = 16;
const MAX_HOST_LENGTH = 253;

/** What a parser of `egress` gives: the value, or what is wrong with the input. */
type Parsed<T> = T | { problem: string };
const failed = <T extends object>(value: Parsed<T>): value is { problem: string } => "problem" in value;

/**
 * Reads `egress` of a langgraph.json: a list of `"host:port[,port…]"` or `"cidr:port[,port…]"`
 * strings (`api.openai.com:443`, `*.anthropic.com:443`, `203.0.113.0/24:443,8443`,
 * `[2001:db8::]/32:443`). Entries naming the same host or block are merged. `problems` names
 * each bad entry (empty: all are good); `entries` holds those that parsed. Absent (undefined): none.
 */
export function parseEgress(value: unknown): { entries: EgressEntry[]; problems: string[] } {
  if (value === undefined) return { entries: [], problems: [] };
  if (!Array.isArray(value))
    return {
      entries: [],
      problems: [`"egress" must be a list of strings such as "api.openai.com:443" or "203.0.113.0/24:443", got ${shown(value)}`],
    };
  const problems: string[] = [];
  const byTarget = new Map<string, EgressEntry>();
  for (const item of value) {
    if (typeof item !== "string") {
      problems.push(`egress entry ${shown(item)} must be a string such as "api.openai.com:443"`);
      continue;
    }
    const entry = parseEgressEntry(item);
    if (failed(entry)) {
      problems.push(`egress entry ${shown(item)}: ${entry.problem}`);
      continue;
    }
    const target = entry.host ?? (entry.cidr as string);
    const seen = byTarget.get(target);
    if (seen) seen.ports = [...new Set([...seen.ports, ...entry.ports])].sort((a, b) => a - b);
    else byTarget.set(target, entry);
  }
  const entries = [...byTarget.values()];
  for (const [target, entry] of byTarget)
    if (entry.ports.length > MAX_EGRESS_PORTS)
      problems.push(`the egress entries of ${target} list ${entry.ports.length} ports together, more than ${MAX_EGRESS_PORTS}`);
  if (entries.length > MAX_EGRESS_ENTRIES)
    problems.push(`"egress" names ${entries.length} destinations, more than ${MAX_EGRESS_ENTRIES}`);
  return { entries, problems };
}

/** An entry as `egress` of langgraph.json writes it, in normalized form: `api.openai.com:443`, `[2001:db8::]/32:443`. */
export function formatEgressEntry(entry: EgressEntry): string {
  const ports = entry.ports.join(",");
  if (entry.host !== undefined) return `${entry.host}:${ports}`;
  const cidr = entry.cidr ?? "";
  const slash = cidr.lastIndexOf("/");
  return cidr.includes(":") ? `[${cidr.slice(0, slash)}]${cidr.slice(slash)}:${ports}` : `${cidr}:${ports}`;
}

/** A value for a message: JSON, cut short. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 100 ? `${text.slice(0, 97)}…` : text;
}

/** One `egress` string as an entry, or what is wrong with it. */
function parseEgressEntry(raw: string): Parsed<EgressEntry> {
  const text = raw.trim();
  const colon = text.lastIndexOf(":");
  if (colon < 0 || colon < text.lastIndexOf("]"))
    return { problem: 'it names no port: write "host:port" or "cidr:port", such as "api.openai.com:443"' };
  const target = text.slice(0, colon).trim();
  const example = "such as [2001:db8::]/32:443";
  let destination: Parsed<Omit<EgressEntry, "ports">>;
  if (target === "") return { problem: "it names no host or address before the port" };
  if (target.startsWith("[")) {
    const match = /^\[([^\]]*)\](?:\/(.*))?$/s.exec(target);
    const address = match?.[1] ?? "";
    if (!match || isIP(address) !== 6 || address.includes("%"))
      return { problem: `${shown(address || target)} is not an IPv6 address (IPv6 blocks are written in brackets, ${example})` };
    if (match[2] === undefined)
      return { problem: `an address needs a prefix length: write [${address}]/128 for this address alone` };
    destination = parseBlock(address, match[2], 6);
  } else if (target.includes(":")) {
    return { problem: `an IPv6 address or block is written in brackets, ${example}` };
  } else if (target.includes("/")) {
    const slash = target.lastIndexOf("/");
    const address = target.slice(0, slash);
    if (isIP(address) !== 4)
      return { problem: `${shown(address)} is not an IPv4 address (IPv6 blocks are written in brackets, ${example})` };
    destination = parseBlock(address, target.slice(slash + 1), 4);
  } else if (isIP(target) === 4) {
    return { problem: `an address needs a prefix length: write ${target}/32 for this address alone` };
  } else {
    destination = hostOf(target);
  }
  if (failed(destination)) return destination;
  const ports = parsePorts(text.slice(colon + 1));
  if (failed(ports)) return ports;
  return { ...destination, ports: ports.ports };
}

/** The ports of an entry, sorted without duplicates. */
function parsePorts(text: string): Parsed<{ ports: number[] }> {
  const ports = new Set<number>();
  for (const part of text.split(",")) {
    const port = part.trim();
    if (port === "") return { problem: 'a port is missing (ports are separated by commas, such as "443,8443")' };
    if (/^\d+-\d+$/.test(port)) return { problem: `port ranges (${port}) are not supported: list the ports` };
    if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)
      return { problem: `port ${shown(port)} is not a number from 1 to 65535` };
    ports.add(Number(port));
  }
  if (ports.size > MAX_EGRESS_PORTS) return { problem: `${ports.size} ports, more than ${MAX_EGRESS_PORTS}` };
  return { ports: [...ports].sort((a, b) => a - b) };
}

/**
 * A host name in lower case without its final dot. A leading `*.` covers a domain's subdomains
 * and needs a domain of two labels or more (`*.com` is refused).
 */
function hostOf(given: string): Parsed<{ host: string }> {
  const host = given.toLowerCase().replace(/\.$/, "");
  const wildcard = host.startsWith("*.");
  const labels = (wildcard ? host.slice(2) : host).split(".");
  if (host.includes("*") && (!wildcard || labels.length < 2 || labels.some((l) => l.includes("*"))))
    return {
      problem: `${shown(given)}: a wildcard covers the subdomains of a domain of two labels or more, written *.example.com`,
    };
  if (host.length > MAX_HOST_LENGTH) return { problem: `the host name has more than ${MAX_HOST_LENGTH} characters` };
  const bad = labels.find((l) => !/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(l));
  if (bad !== undefined)
    return {
      problem: `${shown(given)} is not a valid host name ${
        // biome-ignore lint/suspicious/noControlCharactersInRegex: non-ASCII is what is looked for
        /[^\x00-\x7f]/.test(bad) ? "(write internationalized names in punycode, xn--…)" : `(label ${shown(bad)})`
      }`,
    };
  if (/^\d+$/.test(labels.at(-1) ?? "")) return { problem: `${shown(given)} is neither a host name nor an IPv4 address` };
  return { host };
}

/** `address/prefix` in canonical form; refused: a bad prefix, bits set past it. */
function parseBlock(address: string, prefixText: string, family: 4 | 6): Parsed<{ cidr: string }> {
  const width = family === 4 ? 32 : 128;
  const written = family === 4 ? `${address}/${prefixText}` : `[${address}]/${prefixText}`;
  if (!/^(?:0|[1-9]\d{0,2})$/.test(prefixText) || Number(prefixText) > width)
    return { problem: `the prefix length of ${written} must be a number from 0 to ${width}` };
  const prefix = Number(prefixText);
  // 16-bit groups: two for IPv4, eight for IPv6.
  const groups = family === 4 ? ipv4Groups(address) : ipv6Groups(address);
  const network = groups.map((group, i) => {
    const bits = Math.min(Math.max(prefix - 16 * i, 0), 16);
    return group & ((0xffff << (16 - bits)) & 0xffff);
  });
  const text = family === 4 ? formatIpv4(network) : formatIpv6(network);
  if (network.some((group, i) => group !== groups[i]))
    return {
      problem: `${written} has bits set past its prefix length: the block is ${family === 4 ? text : `[${text}]`}/${prefix}`,
    };
  return { cidr: `${text}/${prefix}` };
}

function ipv4Groups(address: string): number[] {
  const [a = 0, b = 0, c = 0, d = 0] = address.split(".").map(Number);
  return [(a << 8) | b, (c << 8) | d];
}

const formatIpv4 = ([high = 0, low = 0]: number[]) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;

/** The eight groups of an address isIP calls IPv6 (a trailing IPv4 part becomes two groups). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase();
  const last = text.lastIndexOf(":");
  if (text.slice(last + 1).includes(".")) {
    const [high = 0, low = 0] = ipv4Groups(text.slice(last + 1));
    text = `${text.slice(0, last + 1)}${high.toString(16)}:${low.toString(16)}`;
  }
  const groupsOf = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)));
  const [head = "", tail] = text.split("::");
  if (tail === undefined) return groupsOf(head);
  const before = groupsOf(head);
  const after = groupsOf(tail);
  return [...before, ...new Array<number>(8 - before.length - after.length).fill(0), ...after];
}

/** RFC 5952: lower-case hex, no leading zeros, the first longest run of two zero groups or more as `::`. */
function formatIpv6(groups: number[]): string {
  let start = -1;
  let length = 0;
  for (let i = 0; i < groups.length; ) {
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > length && j - i >= 2) {
      start = i;
      length = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (start < 0) return hex.join(":");
  return `${hex.slice(0, start).join(":")}::${hex.slice(start + length).join(":")}`;
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
