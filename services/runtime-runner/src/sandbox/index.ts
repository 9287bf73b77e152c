import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chown, lstat, mkdtemp, readdir, readFile, realpath, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  createLogger,
  type EgressEntry,
  type LanggraphConfig,
  type Logger,
  readLanggraphConfig,
  readProjectEnv,
  StartupError,
  unreadableBy,
} from "@langopen/common";
import { staticSchemaSpecs, writeStaticSchemasWhenReady } from "../schemas/static.js";
import { bundleProjectUi } from "../ui/bundle.js";
import { findRunsc, type GvisorSpawn, gvisorSpawn, newSocketDir, PARENT_MESSAGE_PREFIX, removeStaleSandboxes } from "./gvisor.js";
import { DEFAULT_SANDBOX_ID, type SandboxMode } from "./modes.js";
import { startSandboxNetwork } from "./network.js";
import { type BuiltModules, buildTypeScriptEntries } from "./typescript-build.js";

export {
  findRunsc,
  type GvisorSpawn,
  gvisorSpawn,
  PARENT_MESSAGE_PREFIX,
  removeStaleSandboxes,
} from "./gvisor.js";
export {
  type RuntimeExitCause,
  type RuntimeMemoryLimits,
  type RuntimeProcessExit,
  runtimeExitCause,
  withMemoryLimit,
} from "./memory.js";
export { DEFAULT_SANDBOX_ID, SANDBOX_MODES, type SandboxMode } from "./modes.js";
export { type BuiltModule, type BuiltModules, buildTypeScriptEntries } from "./typescript-build.js";

/** What a project may ask for in langgraph.json (`"langopen": {"sandbox": {"allow": [...]}}`), and Node's flag for each. */
const ALLOWANCES = {
  child_process: "--allow-child-process",
  workers: "--allow-worker",
  addons: "--allow-addons",
  wasi: "--allow-wasi",
} as const;
export type SandboxAllowance = keyof typeof ALLOWANCES;

/**
 * The flag that turns Node's permission model on: `--permission` where this Node knows it (22.13
 * and later, where it is stable; Node 24 refuses the old name), `--experimental-permission` on
 * Node 20. The runtime runs on the launcher's own Node, so the launcher's answer holds for it.
 */
export const PERMISSION_FLAG = process.allowedNodeEnvironmentFlags.has("--permission")
  ? "--permission"
  : "--experimental-permission";

export interface SandboxSettings {
  mode: SandboxMode;
  /** The uid and gid the runtime runs as when this process is root (default 65534, `nobody`). */
  uid?: number;
  gid?: number;
  /** Folders graph code must not read even when they lie inside the project (the data directory). */
  hidden?: string[];
  /**
   * Names of variables the runtime must not inherit, besides those every LangOpen service reads
   * (see isLangOpenVariable): the launcher passes the keys of its own configuration.
   */
  deny?: readonly string[];
  /**
   * Derive graphs' schemas from their TypeScript types (LANGOPEN_TYPED_SCHEMAS, default on): the
   * sandboxed runtime may not start the worker thread that runs the compiler, so this process
   * runs it and leaves the result in `typedSchemasFile`.
   */
  typedSchemas?: boolean;
  /** Where this process logs what it does for the runtime (the preparation, the schema extraction, refused egress). */
  logger?: Logger;
  /**
   * With `gvisor`: destinations of the installation's own ("host:port": its Postgres, its Redis)
   * that graph code never reaches through the egress proxy, even when langgraph.json's `egress`
   * declares them. The api-servers and the runtime's own ports are added by startInGvisor.
   */
  egressDenied?: readonly string[];
}

/** How to spawn one runtime process of a project (see PreparedProject.prepareProcess). */
export interface SandboxSpawn {
  /** Flags before the script (Node's permission model, when on). */
  execArgv: string[];
  /** Its whole environment (the caller adds the runtime's own settings). */
  env: Record<string, string>;
  uid?: number;
  gid?: number;
  cwd: string;
  /** Its scratch folder (HOME and TMPDIR), the only place it may write; none without the sandbox. */
  scratchDir?: string;
  /** Source file to compiled file of the project's TypeScript entries (LANGOPEN_BUILT_MODULES), if any. */
  builtModules?: BuiltModules;
  /** Where the schemas of the graphs' TypeScript types will be once extracted (LANGOPEN_TYPED_SCHEMAS_FILE), if any. */
  typedSchemasFile?: string;
  /** Where the project's UI components are bundled (LANGOPEN_UI_DIR), if it declares any. */
  uiDir?: string;
  /**
   * Why the process runs as this process's own user although this one is root (the project is
   * not readable by the sandbox user): worth a warning, the permission model still applies.
   */
  sameUserBecause?: string;
  /**
   * With `gvisor`: the runsc to run the process with, and the host paths to hide inside (the
   * `hidden` folders, which the host root mounted read-only would otherwise show), and what it
   * may read inside /tmp, which is private to the sandbox (the project may lie there).
   */
  gvisor?: {
    runsc: string;
    hidden: string[];
    readOnly: string[];
    /** `egress` of langgraph.json: all that the egress proxy opens (see network.ts). */
    egress: EgressEntry[];
    /** See SandboxSettings.egressDenied. */
    egressDenied: readonly string[];
    logger?: Logger;
  };
  /** Removes the scratch folder (what its project shares stays: see PreparedProject). */
  dispose(): Promise<void>;
}

/**
 * Variables of LangOpen itself, which graph code never gets: every LANGOPEN_* (secrets, data
 * directory, settings), the data plane's addresses with their passwords, Postgres client
 * variables (PG*), npm's (they name the installation and its scripts), WEBHOOK_* (the signing
 * secret), and NODE_OPTIONS (it could carry flags that undo the permission model).
 */
export function isLangOpenVariable(name: string): boolean {
  return (
    name.startsWith("LANGOPEN_") ||
    name.startsWith("PG") ||
    name.startsWith("npm_") ||
    name.startsWith("WEBHOOK_") ||
    name === "DATABASE_URL" ||
    name === "REDIS_URL" ||
    name === "NODE_OPTIONS"
  );
}

/**
 * The environment graph code gets: the inherited one without LangOpen's variables and the
 * `deny` names (what the user exported on purpose, such as model API keys, passes), the `env`
 * object of langgraph.json over it, HOME and TMPDIR set to the scratch folder.
 */
export function sandboxEnv(
  inherited: Record<string, string | undefined>,
  options: { deny?: readonly string[]; projectEnv?: Record<string, string>; scratchDir?: string },
): Record<string, string> {
  const deny = new Set(options.deny ?? []);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(inherited)) {
    if (value === undefined || deny.has(name) || isLangOpenVariable(name)) continue;
    env[name] = value;
  }
  for (const [name, value] of Object.entries(options.projectEnv ?? {})) {
    if (typeof value === "string" && !isLangOpenVariable(name)) env[name] = value;
  }
  if (options.scratchDir !== undefined) {
    env.HOME = options.scratchDir;
    env.TMPDIR = options.scratchDir;
  }
  return env;
}

/** `langopen.sandbox.allow` of a langgraph.json, checked: an unknown value fails the start. */
export async function readSandboxAllowances(configPath: string): Promise<SandboxAllowance[]> {
  const raw = JSON.parse(await readFile(configPath, "utf8")) as { langopen?: unknown };
  const langopen = raw.langopen;
  if (langopen === undefined) return [];
  const sandbox = isObject(langopen) ? langopen.sandbox : undefined;
  if (!isObject(langopen) || (sandbox !== undefined && !isObject(sandbox))) {
    throw new StartupError(`${configPath}: "langopen" must be an object such as {"sandbox": {"allow": ["child_process"]}}`);
  }
  const allow = sandbox?.allow;
  if (allow === undefined) return [];
  const known = Object.keys(ALLOWANCES);
  if (!Array.isArray(allow) || !allow.every((value) => typeof value === "string" && known.includes(value))) {
    throw new StartupError(
      `${configPath}: "langopen.sandbox.allow" must be a list of ${known.map((k) => `"${k}"`).join(", ")}, got ${JSON.stringify(allow)}`,
    );
  }
  return [...new Set(allow as SandboxAllowance[])];
}

/**
 * A project prepared for its runtime processes: what they all share, prepared once per version
 * of the project's files (see prepareProject), then one `prepareProcess` per process started
 * on it (a restart included).
 */
export interface PreparedProject {
  /** Source file to compiled file of the project's TypeScript entries (LANGOPEN_BUILT_MODULES), if any. */
  readonly builtModules?: BuiltModules;
  /** Where the schemas of the graphs' TypeScript types will be once extracted (LANGOPEN_TYPED_SCHEMAS_FILE), if any. */
  readonly typedSchemasFile?: string;
  /** Where the project's UI components are bundled (LANGOPEN_UI_DIR), if it declares any. */
  readonly uiDir?: string;
  /** See SandboxSpawn's. */
  readonly sameUserBecause?: string;
  /** One runtime process of it: its own scratch folder (removed by its dispose), environment and flags. */
  prepareProcess(): Promise<SandboxSpawn>;
  /** Removes what was prepared (the build folder); once no process of it runs. */
  dispose(): Promise<void>;
}

/**
 * Prepares a project for sandboxed runtime processes, once for all of them: the TypeScript
 * entries compiled (graph code may not spawn esbuild itself), the UI components bundled, the
 * typed schemas' extraction started, and the allow-lists of Node's permission model: read the
 * project (but not `hidden` folders inside it), the node_modules it resolves from and the
 * runtime's own code. Each process then gets its own scratch folder (owned by the unprivileged
 * user when this process is root), the only place it may write. The result is for this version
 * of the project's files: a change needs another preparation.
 */
export async function prepareProject(
  configPath: string,
  settings: SandboxSettings,
  inherited: Record<string, string | undefined>,
): Promise<PreparedProject> {
  const startedAt = Date.now();
  const config = await readLanggraphConfig(configPath);
  const projectDir = config.dir;
  const projectEnv = await readProjectEnv(config, inherited);
  const prepared = (fields: Record<string, unknown>) =>
    settings.logger?.info(
      { config: config.path, ...fields, took_ms: Date.now() - startedAt },
      "Prepared the project for its runtime processes",
    );
  const runsc = settings.mode === "gvisor" ? await findRunsc(inherited.PATH ?? process.env.PATH) : undefined;
  if (!staleRemoved) {
    // Once per process: what launchers killed before they could clean up left behind.
    staleRemoved = true;
    await removeStaleSandboxes(runsc, [path.join(projectDir, "node_modules", ".cache", "langopen")]);
  }
  if (settings.mode === "none") {
    // For debugging only: no permission model, no other user, TypeScript through tsx as before; still none of LangOpen's variables.
    const ui = await bundleUiOutside(config);
    prepared({ sandbox: settings.mode, ui: ui !== undefined });
    return {
      uiDir: ui?.dir,
      prepareProcess: async () => ({
        execArgv: [],
        env: sandboxEnv(inherited, { deny: settings.deny, projectEnv }),
        cwd: process.cwd(),
        uiDir: ui?.dir,
        dispose: async () => {},
      }),
      dispose: async () => ui?.dispose(),
    };
  }
  // Compiled entries go inside the project, where their bare imports resolve as the sources' do.
  // The pid in the name lets a later start tell a leftover of a dead process from a live one's.
  const buildDir = path.join(
    projectDir,
    "node_modules",
    ".cache",
    "langopen",
    `langopen-runtime-${process.pid}-${randomBytes(6).toString("hex")}`,
  );
  const dispose = () => rm(buildDir, { recursive: true, force: true }).catch(() => {});
  try {
    const allowances = await readSandboxAllowances(config.path);
    const asRoot = process.getuid?.() === 0;
    let uid = asRoot ? (settings.uid ?? DEFAULT_SANDBOX_ID) : undefined;
    let gid = asRoot ? (settings.gid ?? DEFAULT_SANDBOX_ID) : undefined;
    let sameUserBecause: string | undefined;
    if (uid !== undefined && gid !== undefined) {
      const unreadable = await unreadableBy(uid, gid, [config.path, RUNTIME_PACKAGE_DIR]);
      if (unreadable !== undefined) {
        sameUserBecause = `${unreadable} is not readable by uid ${uid} gid ${gid} (make it and its parent folders readable, e.g. chmod o+rX, or set LANGOPEN_SANDBOX_UID/GID to a user who can read it)`;
        uid = undefined;
        gid = undefined;
      }
    }
    const builtModules = await buildTypeScriptEntries(config, buildDir);
    const typedSchemasFile =
      settings.typedSchemas !== false && !allowances.includes("workers")
        ? await extractForSandbox(config, builtModules, path.join(buildDir, "schemas.json"), settings.logger)
        : undefined;
    const uiDir = await bundleProjectUi(config, path.join(buildDir, "ui"));
    const hidden = await Promise.all((settings.hidden ?? []).map((dir) => realpath(dir).catch(() => path.resolve(dir))));
    const codeRoots = [
      ...(await resolutionRoots(projectDir, hidden)),
      ...(await resolutionRoots(RUNTIME_PACKAGE_DIR, hidden)),
      ...(await readableBut(RUNTIME_PACKAGE_DIR, hidden)),
    ];
    // Node's permission model checks the path asked for, not where a link leads: a link the
    // project ships that leads out of what it may read is left out (with its folder's other entries listed).
    const realProject = await realpath(projectDir);
    const escaping = await escapingLinks(realProject, [realProject, ...codeRoots], hidden);
    const roots = [...(await readableBut(projectDir, [...hidden, ...escaping])), ...codeRoots];
    const gvisor = runsc
      ? {
          runsc,
          hidden,
          readOnly: await underTmp([projectDir, realProject, ...codeRoots]),
          egress: config.egress ?? [],
          egressDenied: settings.egressDenied ?? [],
          logger: settings.logger,
        }
      : undefined;
    const built = Object.keys(builtModules).length > 0 ? builtModules : undefined;
    prepared({
      sandbox: settings.mode,
      compiled: Object.values(builtModules).filter((m) => "file" in m).length,
      ui: uiDir !== undefined,
      readable: roots.length,
    });
    return {
      builtModules: built,
      typedSchemasFile,
      uiDir,
      sameUserBecause,
      async prepareProcess() {
        const scratchDir = await mkdtemp(path.join(os.tmpdir(), `langopen-runtime-${process.pid}-`));
        const removeScratch = () => rm(scratchDir, { recursive: true, force: true }).catch(() => {});
        try {
          if (uid !== undefined && gid !== undefined) await chown(scratchDir, uid, gid);
        } catch (err) {
          await removeScratch();
          throw err;
        }
        // One flag per path (Node 20.20 takes no comma-separated list; earlier 20.x split on commas,
        // so a path holding one is left out and stays unreadable).
        const readable = [...new Set([...roots, scratchDir])].filter((p) => !p.includes(","));
        const execArgv = [
          PERMISSION_FLAG,
          ...(built ? ["--enable-source-maps"] : []),
          "--disable-warning=ExperimentalWarning",
          ...readable.map((p) => `--allow-fs-read=${p}`),
          `--allow-fs-write=${scratchDir}`,
          ...allowances.map((a) => ALLOWANCES[a]),
        ];
        return {
          execArgv,
          env: sandboxEnv(inherited, { deny: settings.deny, projectEnv, scratchDir }),
          uid,
          gid,
          cwd: projectDir,
          scratchDir,
          builtModules: built,
          typedSchemasFile,
          uiDir,
          sameUserBecause,
          gvisor,
          dispose: removeScratch,
        };
      },
      dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}

let staleRemoved = false;

/**
 * The project's UI components bundled into a folder of their own (for a runtime without the
 * sandbox, which has no build folder in the project); undefined when it declares none.
 */
export async function bundleUiOutside(config: LanggraphConfig): Promise<{ dir: string; dispose(): Promise<void> } | undefined> {
  if (config.ui === undefined || Object.keys(config.ui).length === 0) return undefined;
  const dir = await mkdtemp(path.join(os.tmpdir(), `langopen-ui-${process.pid}-`));
  const dispose = () => rm(dir, { recursive: true, force: true }).catch(() => {});
  try {
    await bundleProjectUi(config, dir);
  } catch (err) {
    await dispose();
    throw err;
  }
  return { dir, dispose };
}

/**
 * Starts a runtime that prepareProcess prepared for gVisor. No IPC channel crosses into gVisor:
 * the credentials go as stdin's first line (stdin stays open: its end tells the runtime its
 * parent is gone), and the runtime's messages to its parent come as prefixed lines on stdout,
 * whose other lines pass on to this process's stdout. runsc itself runs as root on the host: it
 * gets nothing of this process's environment but where to find programs.
 *
 * The sandbox has no network: this process serves the runtime's TCP address (RPC_HOST:RPC_PORT,
 * and its metrics') and passes the connections on to its socket, passes on its calls to the
 * api-servers, and runs its egress proxy, which opens what the project's `egress` declares (see network.ts). All of that
 * ends with the process; dispose removes the rest.
 */
export async function startInGvisor(
  sandbox: SandboxSpawn,
  options: {
    /** The runtime's node flags and script (the Node.js binary is this process's). */
    argv: string[];
    env: Record<string, string>;
    memoryMb?: number;
    credentials?: object;
    onMessage?: (message: unknown) => void;
  },
): Promise<{ proc: ChildProcess; gvisor: GvisorSpawn }> {
  if (!sandbox.gvisor || !sandbox.scratchDir) throw new Error("the sandbox was not prepared for gVisor");
  const socketDir = await newSocketDir();
  const network = await startSandboxNetwork({
    dir: socketDir,
    env: options.env,
    egress: sandbox.gvisor.egress,
    denied: sandbox.gvisor.egressDenied,
    uid: sandbox.uid,
    gid: sandbox.gid,
    logger: sandbox.gvisor.logger,
  }).catch(async (err: unknown) => {
    await rm(socketDir, { recursive: true, force: true }).catch(() => {});
    throw err;
  });
  const removeNetwork = async () => {
    await network.close();
    await rm(socketDir, { recursive: true, force: true }).catch(() => {});
  };
  let gvisor: GvisorSpawn;
  try {
    gvisor = await gvisorSpawn({
      runsc: sandbox.gvisor.runsc,
      argv: [process.execPath, ...options.argv],
      env: { ...network.env, LANGOPEN_PARENT_CHANNEL: "stdio" },
      cwd: sandbox.cwd,
      uid: sandbox.uid,
      gid: sandbox.gid,
      scratchDir: sandbox.scratchDir,
      hidden: sandbox.gvisor.hidden,
      readOnly: sandbox.gvisor.readOnly,
      memoryMb: options.memoryMb,
      socketDir,
    });
  } catch (err) {
    await removeNetwork();
    throw err;
  }
  const proc = spawn(gvisor.command, gvisor.args, { env: { PATH: process.env.PATH ?? "" }, stdio: ["pipe", "pipe", "inherit"] });
  proc.stdin?.on("error", () => {});
  // Its address is served (and its calls passed on) for as long as it runs.
  proc.once("exit", () => void network.close());
  // It serves on its socket; its parent hears of the TCP address this process serves for it.
  const onMessage = (message: unknown) => {
    const started = (message as { type?: unknown } | undefined)?.type === "started";
    options.onMessage?.(started ? { ...(message as object), url: tcpUrl(options.env) } : message);
  };
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    if (line.startsWith(PARENT_MESSAGE_PREFIX)) {
      let message: unknown;
      try {
        message = JSON.parse(line.slice(PARENT_MESSAGE_PREFIX.length));
      } catch {
        return;
      }
      onMessage(message);
    } else if (line !== "") {
      process.stdout.write(`${line}\n`);
    }
  });
  // First, before it loads any graph: the credentials.
  if (options.credentials) proc.stdin?.write(`${JSON.stringify(options.credentials)}\n`);
  return {
    proc,
    gvisor: {
      ...gvisor,
      async dispose() {
        await gvisor.dispose();
        await removeNetwork();
      },
    },
  };
}

/** The TCP address a runtime is reached at (RPC_HOST:RPC_PORT), as a URL. */
function tcpUrl(env: Record<string, string>): string {
  const host = env.RPC_HOST || "127.0.0.1";
  const shown = host === "0.0.0.0" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  return `http://${shown}:${env.RPC_PORT}`;
}

/**
 * Starts extracting the schemas of the project's compiled TypeScript graphs for a sandboxed
 * runtime (see writeStaticSchemasWhenReady), and answers the file they will be in; none when the
 * project has no such graph. Runtimes of the same project version (the same compiled code) share
 * one extraction.
 */
async function extractForSandbox(
  config: LanggraphConfig,
  builtModules: BuiltModules,
  file: string,
  logger: Logger = createLogger({ service: "runtime-runner", level: "silent" }),
): Promise<string | undefined> {
  const specs = staticSchemaSpecs(config.graphs, config.dir, (_, source) => {
    const built = builtModules[source];
    return built !== undefined && "file" in built;
  });
  if (Object.keys(specs).length === 0) return undefined;
  const digest = createHash("sha256").update(JSON.stringify(specs));
  for (const spec of Object.values(specs)) {
    const built = builtModules[spec.sourceFile] as { file: string };
    digest.update(await readFile(built.file));
  }
  writeStaticSchemasWhenReady(specs, digest.digest("hex"), file, { logger: logger.child({ component: "schemas" }) });
  return file;
}

/** The runtime-runner package's folder (dist/sandbox/index.js is two folders below it). */
const RUNTIME_PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Of `paths`, those that exist under /tmp (which gVisor's sandbox gets a private one of), without
 * those inside another: whole folders, the hidden ones inside are covered separately.
 */
async function underTmp(paths: string[]): Promise<string[]> {
  const candidates: string[] = [];
  for (const p of new Set(paths)) {
    if (inside(p, "/tmp") && p !== "/tmp" && (await stat(p).catch(() => undefined))) candidates.push(p);
  }
  return candidates.filter((p) => !candidates.some((other) => other !== p && inside(p, other)));
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * `dir` (and its real path) as read allow-list entries, except the `hidden` folders inside it:
 * a folder holding one is replaced by its entries, recursively, leaving the hidden one out.
 */
async function readableBut(dir: string, hidden: string[]): Promise<string[]> {
  const real = await realpath(dir).catch(() => undefined);
  if (real === undefined) return [];
  if (hidden.some((h) => inside(real, h) || inside(dir, h))) return [];
  if (!hidden.some((h) => inside(h, real))) return real === dir ? [dir] : [dir, real];
  const out: string[] = [];
  for (const entry of await readdir(real, { withFileTypes: true })) {
    out.push(...(await readableBut(path.join(real, entry.name), hidden)));
  }
  return out;
}

/** How many entries of a project are looked at for links (a bigger project starts without the rest looked at). */
const MAX_SCANNED = 50_000;

/**
 * The symbolic links under `root` (node_modules and `hidden` folders excepted) whose target lies
 * outside every one of `allowed`, or does not exist (it could be made later).
 */
async function escapingLinks(root: string, allowed: string[], hidden: string[]): Promise<string[]> {
  const found: string[] = [];
  let scanned = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (++scanned > MAX_SCANNED) return;
      const full = path.join(dir, entry.name);
      if (entry.name === "node_modules" || hidden.some((h) => inside(full, h))) continue;
      if (entry.isSymbolicLink()) {
        const target = await realpath(full).catch(() => undefined);
        if (target === undefined || !allowed.some((a) => inside(target, a))) found.push(full);
      } else if (entry.isDirectory()) {
        await walk(full);
      }
    }
  };
  await walk(root);
  return found;
}

/**
 * Where modules imported from `fromDir` may resolve: each node_modules walking up from it, and
 * the real folders of the links inside (workspace packages), except `hidden` folders.
 */
async function resolutionRoots(fromDir: string, hidden: string[]): Promise<string[]> {
  const out: string[] = [];
  for (let dir = path.resolve(fromDir); ; dir = path.dirname(dir)) {
    const modules = path.join(dir, "node_modules");
    // Even where none exists: Node 20.20's existsSync throws on a path it may not read, and
    // modules look for one there (jiti, which the runtime's code loads, from the working folder).
    if (!hidden.some((h) => inside(modules, h))) out.push(modules);
    if ((await lstat(modules).catch(() => undefined))?.isDirectory()) {
      out.push(...(await readableBut(modules, hidden)));
      for (const link of await linksIn(modules)) out.push(...(await readableBut(link, hidden)));
    }
    if (path.dirname(dir) === dir) return out;
  }
}

/** The symbolic links among a node_modules' packages (scoped ones too). */
async function linksIn(modules: string): Promise<string[]> {
  const links: string[] = [];
  for (const entry of await readdir(modules, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(modules, entry.name);
    if (entry.isSymbolicLink()) links.push(full);
    else if (entry.isDirectory() && entry.name.startsWith("@")) {
      for (const scoped of await readdir(full, { withFileTypes: true }).catch(() => [])) {
        if (scoped.isSymbolicLink()) links.push(path.join(full, scoped.name));
      }
    }
  }
  return links;
}
