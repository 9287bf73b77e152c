import { access } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { BuiltModules } from "../sandbox/typescript-build.js";
import { builtFileOf } from "./built.js";
import { enableTypeScript, isTypeScriptFile } from "./typescript.js";

/**
 * A `"./file.ts:name"` of langgraph.json (`auth.path`, `http.app`) split on its first colon and
 * resolved against the config's folder; no name means the default export.
 */
export function parseExportPath(spec: string, dir: string): { file: string; exportName: string } {
  const colon = spec.indexOf(":");
  const file = colon >= 0 ? spec.slice(0, colon) : spec;
  const exportName = colon >= 0 ? spec.slice(colon + 1) || "default" : "default";
  return { file: path.resolve(dir, file), exportName };
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the module did not finish loading within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function importExport(file: string, exportName: string, built: BuiltModules | undefined): Promise<unknown> {
  await access(file).catch(() => {
    throw new Error(`${file} does not exist`);
  });
  const module = (await import(pathToFileURL(builtFileOf(file, built)).href)) as Record<string, unknown>;
  // A CommonJS module (or TypeScript compiled as CommonJS) may only expose module.exports.
  const fallback = module.default;
  const exported =
    exportName in module
      ? module[exportName]
      : typeof fallback === "object" && fallback !== null
        ? (fallback as Record<string, unknown>)[exportName]
        : undefined;
  if (exported === undefined || exported === null) {
    const names = Object.keys(module).filter((name) => name !== "__esModule");
    throw new Error(`${path.basename(file)} has no export "${exportName}" (exports: ${names.join(", ") || "none"})`);
  }
  return exported;
}

/**
 * One export of one of the project's modules (the auth instance, the custom routes' app), loaded
 * as graphs load: its compiled copy when the sandbox compiled it beforehand, else TypeScript
 * through the loader hooks. Throws when the file, or the export, is missing, or the load takes
 * longer than `timeoutMs`.
 */
export async function loadProjectExport(
  spec: string,
  options: { dir: string; builtModules?: BuiltModules; timeoutMs: number },
): Promise<unknown> {
  const { file, exportName } = parseExportPath(spec, options.dir);
  if (isTypeScriptFile(file) && options.builtModules?.[file] === undefined) await enableTypeScript(options.dir);
  return withTimeout(importExport(file, exportName, options.builtModules), options.timeoutMs);
}
