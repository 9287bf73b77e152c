import { type Logger, readLanggraphConfig } from "@langopen/common";
import { loadProjectExport } from "../graphs/project-export.js";
import type { BuiltModules } from "../sandbox/typescript-build.js";

/** What `http.app` must export: a Hono app, or anything else answering a fetch Request. */
export interface HttpApp {
  fetch(request: Request): Response | Promise<Response>;
}

/** The project's custom routes, loaded. */
export interface ProjectHttpApp {
  /** `http.app` as written in langgraph.json. */
  readonly spec: string;
  readonly app: HttpApp;
}

export interface LoadHttpAppOptions {
  configPath: string;
  logger: Logger;
  /** A module that takes longer than this to load fails the load. */
  loadTimeoutMs?: number;
  /** The project's TypeScript entries compiled before this process started (see the graph registry). */
  builtModules?: BuiltModules;
}

function isHttpApp(value: unknown): value is HttpApp {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { fetch?: unknown }).fetch === "function"
  );
}

/**
 * Loads the app that `http.app` of a langgraph.json names, the way graphs load (resolved against
 * the config's folder, TypeScript through the same hooks). Undefined when the project declares
 * none. Throws when the module cannot be loaded or has no `fetch`: routes the project declares
 * that silently answer 404 would be worse than a runtime that does not start.
 */
export async function loadProjectHttpApp(options: LoadHttpAppOptions): Promise<ProjectHttpApp | undefined> {
  const config = await readLanggraphConfig(options.configPath);
  const spec = config.http?.app;
  if (spec === undefined) return undefined;
  if (typeof spec !== "string" || spec === "")
    throw new Error(`${config.path}: "http.app" must be a path like "./src/app.ts:app"`);
  let exported: unknown;
  try {
    exported = await loadProjectExport(spec, {
      dir: config.dir,
      builtModules: options.builtModules,
      timeoutMs: options.loadTimeoutMs ?? 30_000,
    });
  } catch (err) {
    throw new Error(`Failed to load HTTP app: ${spec}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  if (!isHttpApp(exported)) throw new Error(`HTTP app must have a fetch(request) method (e.g. a Hono app): ${spec}`);
  options.logger.info({ app: spec }, "Loaded HTTP app");
  return { spec, app: exported };
}
