import { execFile } from "node:child_process";
import { access } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { RunnableConfig } from "@langchain/core/runnables";
import { Command, Send } from "@langchain/langgraph";
import { failedPrecondition, type Logger, notFound, Reason, readLanggraphConfig } from "@langopen/common";
import { builtFileOf } from "./built.js";
import { callFactory, type GraphTarget, toGraphTarget } from "./resolve.js";
import { registerSdkLogger } from "./sdk-logger.js";
import { parseGraphSpec } from "./spec.js";

export { parseGraphSpec };

import type { BuiltModules } from "../sandbox/typescript-build.js";
import {
  mayStartWorkers,
  readStaticSchemas,
  type StaticGraphSchema,
  startStaticSchemas,
  staticSchemaSpecs,
} from "../schemas/static.js";
import type { CompiledGraphLike, LanggraphClasses } from "./types.js";
import { enableTypeScript, isTypeScriptFile } from "./typescript.js";
import { findUserPackage, importUserPackage } from "./user-packages.js";

export interface GraphStatus {
  graphId: string;
  /** The spec as written in langgraph.json, e.g. "./agent.ts:graph". */
  spec: string;
  /** The absolute path of the graph's module. */
  file: string;
  loaded: boolean;
  /** Why it failed to load, when it did. */
  error?: string;
}

export interface GraphRegistry {
  /** Folder of the langgraph.json (the user's project). */
  readonly projectDir: string;
  /** The Command and Send classes of the user's @langchain/langgraph. */
  readonly langgraph: LanggraphClasses;
  /** The version of the user's @langchain/langgraph, when found. */
  readonly langgraphVersion?: string;
  list(): GraphStatus[];
  /**
   * The compiled graph to use for a request: the loaded graph, or what its factory builds for
   * this config. NOT_FOUND for an unknown graph, FAILED_PRECONDITION for one that failed to load
   * or whose factory failed.
   */
  resolve(graphId: string, config: RunnableConfig): Promise<CompiledGraphLike>;
  /** Like resolve, but a factory's own error is thrown as is (a run reports it as its error). */
  build(graphId: string, config: RunnableConfig): Promise<CompiledGraphLike>;
  /** Imports a module of the user's @langchain/langgraph (e.g. "./zod/schema"), if present. */
  importLanggraph(subpath: string): Promise<Record<string, unknown> | undefined>;
  /**
   * The schemas derived from the TypeScript types of a graph (or of its subgraph at `namespace`)
   * at start; undefined for a JavaScript graph or when they could not be derived.
   */
  typedSchemas(graphId: string, namespace?: string): Promise<StaticGraphSchema | undefined>;
}

export interface GraphRegistryOptions {
  configPath: string;
  logger: Logger;
  /** A graph whose module takes longer to load is reported as failed; a factory taking longer fails its call. */
  loadTimeoutMs?: number;
  /** The project's TypeScript entries compiled before this process started (under the sandbox, which cannot compile). */
  builtModules?: BuiltModules;
  /** Where the supervisor of a sandboxed runtime leaves the schemas of the graphs' TypeScript types. */
  typedSchemasFile?: string;
}

interface Entry {
  status: GraphStatus;
  target?: GraphTarget;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Where `node --check` finds a syntax error in a JavaScript file ("/app/agent.mjs:3:7"), if it
 * finds one: Node's import error does not say (an error in a module it imports is not found).
 */
function syntaxErrorLocation(file: string): Promise<string | undefined> {
  // Under the sandbox this process may not spawn one: the message then goes without the location.
  if (!/\.[cm]?js$/.test(file) || !mayRunProcesses()) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    execFile(process.execPath, ["--check", file], { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve(undefined);
      // "<file>:<line>\n<source line>\n<carets under the error>\n..."
      const [where, , carets] = stderr.split("\n");
      const line = where?.startsWith(`${file}:`) ? where.slice(file.length + 1) : undefined;
      const column = carets ? carets.indexOf("^") + 1 : 0;
      resolve(line && /^\d+$/.test(line) ? `${file}:${line}${column > 0 ? `:${column}` : ""}` : undefined);
    });
  });
}

/** Why a graph's module failed to load: the error's message, its kind when not a plain Error, and where a syntax error is. */
async function loadError(err: unknown, file: string, built: BuiltModules | undefined): Promise<string> {
  if (!(err instanceof Error)) return String(err);
  const text = err.name === "Error" || err.message.startsWith(err.name) ? err.message : `${err.name}: ${err.message}`;
  if (err.name !== "SyntaxError") return text;
  const seen = built?.[file];
  const location = seen && "syntaxErrorAt" in seen ? seen.syntaxErrorAt : await syntaxErrorLocation(file);
  return location ? `${text} (${location})` : text;
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Whether this process may start processes (Node's permission model may refuse). */
export function mayRunProcesses(): boolean {
  const permission = (process as { permission?: { has(scope: string): boolean } }).permission;
  return permission === undefined || permission.has("child");
}

async function loadTarget(graphId: string, spec: string, dir: string, built: BuiltModules | undefined): Promise<GraphTarget> {
  const { file, exportName } = parseGraphSpec(spec, dir);
  await access(file).catch(() => {
    throw new Error(`${path.relative(dir, file)} does not exist in ${dir}`);
  });
  const module = (await import(pathToFileURL(builtFileOf(file, built)).href)) as Record<string, unknown>;
  // A CommonJS module (or TypeScript compiled as CommonJS) may only expose module.exports.
  const fallback = module.default as Record<string, unknown> | undefined;
  const exported = exportName in module ? module[exportName] : fallback?.[exportName];
  if (exported === undefined) {
    const names = Object.keys(module).filter((name) => name !== "__esModule");
    throw new Error(`${path.basename(file)} has no export "${exportName}" (exports: ${names.join(", ") || "none"})`);
  }
  return toGraphTarget(exported, `graph "${graphId}" (${spec})`);
}

/**
 * Loads every graph of a langgraph.json once, in parallel. A graph that fails (missing file,
 * missing export, throwing or hanging module, not a graph) is recorded with its error and
 * logged; the others load regardless.
 */
export async function createGraphRegistry(options: GraphRegistryOptions): Promise<GraphRegistry> {
  const { logger } = options;
  const config = await readLanggraphConfig(options.configPath);
  if (config.ignored.length > 0) {
    logger.warn({ keys: config.ignored }, "langgraph.json keys that do not apply to a running JS project are ignored");
  }
  // Before any graph module runs: graphs may call the SDK's getLogger() as they load.
  registerSdkLogger(logger);
  const timeoutMs = options.loadTimeoutMs ?? 30_000;
  const entries = new Map<string, Entry>();

  const needsHooks = (file: string) => isTypeScriptFile(file) && options.builtModules?.[file] === undefined;
  if (Object.values(config.graphs).some((spec) => needsHooks(parseGraphSpec(spec, config.dir).file))) {
    await enableTypeScript(config.dir);
  }

  await Promise.all(
    Object.entries(config.graphs).map(async ([graphId, spec]) => {
      const { file } = parseGraphSpec(spec, config.dir);
      const entry: Entry = { status: { graphId, spec, file, loaded: false } };
      entries.set(graphId, entry);
      try {
        entry.target = await withTimeout(
          loadTarget(graphId, spec, config.dir, options.builtModules),
          timeoutMs,
          `graph "${graphId}" (${spec})`,
        );
        entry.status.loaded = true;
        logger.info({ graph_id: graphId, spec, kind: entry.target.kind }, "Loaded Graph");
      } catch (err) {
        entry.status.error = await loadError(err, file, options.builtModules);
        logger.error({ graph_id: graphId, spec, file, cause: entry.status.error, err }, "Failed to load Graph");
      }
    }),
  );

  const userLanggraph = await importUserPackage(config.dir, "@langchain/langgraph").catch(() => undefined);
  const langgraph: LanggraphClasses =
    typeof userLanggraph?.Command === "function" && typeof userLanggraph.Send === "function"
      ? (userLanggraph as unknown as LanggraphClasses)
      : ({ Command, Send } as unknown as LanggraphClasses);

  function targetOf(graphId: string): GraphTarget {
    const entry = entries.get(graphId);
    if (!entry) throw notFound("Graph", graphId);
    if (!entry.target) {
      throw failedPrecondition(Reason.GraphNotLoaded, `Graph "${graphId}" failed to load: ${entry.status.error}`, {
        graph_id: graphId,
      });
    }
    return entry.target;
  }

  async function build(graphId: string, runConfig: RunnableConfig): Promise<CompiledGraphLike> {
    const target = targetOf(graphId);
    if (target.kind === "compiled") return target.graph;
    return withTimeout(
      callFactory(target.factory, runConfig, `graph "${graphId}"`),
      timeoutMs,
      `the factory of graph "${graphId}"`,
    );
  }

  // The TypeScript compiler takes seconds and hundreds of MB over a project: it runs once, on a
  // worker thread, off the request path. Where the sandbox allows this process no worker thread,
  // its supervisor runs it and leaves the result in `typedSchemasFile` (until it is there, or
  // without one, the graphs answer the schemas their runtime objects give).
  const typedSources = staticSchemaSpecs(config.graphs, config.dir, (graphId) => entries.get(graphId)?.target !== undefined);
  const typed = mayStartWorkers()
    ? startStaticSchemas(typedSources, { logger })
    : options.typedSchemasFile
      ? readStaticSchemas(options.typedSchemasFile, typedSources)
      : startStaticSchemas({}, { logger });

  const langgraphVersion = (await findUserPackage(config.dir, "@langchain/langgraph").catch(() => undefined))?.manifest.version;

  return {
    projectDir: config.dir,
    langgraph,
    langgraphVersion,
    list: () => [...entries.values()].map((entry) => ({ ...entry.status })).sort((a, b) => a.graphId.localeCompare(b.graphId)),
    build,
    async resolve(graphId, runConfig) {
      targetOf(graphId);
      try {
        return await build(graphId, runConfig);
      } catch (err) {
        throw failedPrecondition(Reason.GraphFactoryFailed, `The factory of graph "${graphId}" failed: ${message(err)}`, {
          graph_id: graphId,
        });
      }
    },
    importLanggraph: (subpath) => importUserPackage(config.dir, "@langchain/langgraph", subpath).catch(() => undefined),
    typedSchemas: (graphId, namespace) => typed.get(graphId, namespace),
  };
}
