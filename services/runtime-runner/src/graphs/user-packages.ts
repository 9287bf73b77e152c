import { readFile, realpath } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";

/**
 * Imports `pkg` (with an optional `subpath` such as "./zod/schema") as the user's project at
 * `fromDir` would: the first node_modules/<pkg> found walking up from there, through the
 * package's "import" export. Undefined when the project has no such package.
 *
 * Node 20 cannot resolve a bare specifier relative to another file without a flag, hence the
 * walk. The file is realpath'd so the module is the very instance the user's graph imported.
 */
export async function importUserPackage(
  fromDir: string,
  pkg: string,
  subpath = ".",
): Promise<Record<string, unknown> | undefined> {
  const found = await findUserPackage(fromDir, pkg);
  if (!found) return undefined;
  const entry = exportEntry(found.manifest, subpath);
  if (entry === undefined) return undefined;
  const file = await realpath(path.join(found.dir, entry));
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

interface PackageManifest {
  version?: string;
  exports?: unknown;
  module?: string;
  main?: string;
}

/** The folder and package.json of the first node_modules/<pkg> walking up from fromDir. */
export async function findUserPackage(
  fromDir: string,
  pkg: string,
): Promise<{ dir: string; manifest: PackageManifest } | undefined> {
  for (let dir = path.resolve(fromDir); ; dir = path.dirname(dir)) {
    const pkgDir = path.join(dir, "node_modules", ...pkg.split("/"));
    const manifest = await readFile(path.join(pkgDir, "package.json"), "utf8").catch(() => undefined);
    if (manifest !== undefined) return { dir: pkgDir, manifest: JSON.parse(manifest) as PackageManifest };
    if (path.dirname(dir) === dir) return undefined;
  }
}

function exportEntry(manifest: PackageManifest, subpath: string): string | undefined {
  const { exports } = manifest;
  if (exports === undefined) return subpath === "." ? (manifest.module ?? manifest.main ?? "index.js") : subpath;
  const target =
    typeof exports === "string" || isConditions(exports)
      ? subpath === "."
        ? exports
        : undefined
      : (exports as Record<string, unknown>)[subpath];
  return pickCondition(target);
}

/** An exports object whose keys are conditions ("import", "default") rather than subpaths. */
function isConditions(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Object.keys(value).some((key) => key.startsWith("."));
}

function pickCondition(target: unknown): string | undefined {
  if (typeof target === "string") return target;
  if (typeof target !== "object" || target === null) return undefined;
  const conditions = target as Record<string, unknown>;
  for (const key of ["node", "import", "default"]) {
    if (key in conditions) {
      const picked = pickCondition(conditions[key]);
      if (picked !== undefined) return picked;
    }
  }
  return undefined;
}
