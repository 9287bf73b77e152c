import { access, readFile } from "node:fs/promises";
import path from "node:path";
import type { LanggraphConfig } from "@langopen/common";
import { build, transform } from "esbuild";
import { parseExportPath } from "../graphs/project-export.js";
import { parseGraphSpec } from "../graphs/spec.js";
import { isTypeScriptFile } from "../graphs/typescript.js";

/**
 * A project's entry seen outside the sandbox: a TypeScript one compiled (the file to import
 * instead, or why it failed); a JavaScript one with a syntax error, where it is (`file:line:column`;
 * Node's import error does not say, and the sandbox may not run `node --check`).
 */
export type BuiltModule = { file: string } | { error: string } | { syntaxErrorAt: string };
/** Source file (absolute) to its compiled module. */
export type BuiltModules = Record<string, BuiltModule>;

/**
 * Compiles the TypeScript entries of a project (its graphs and its auth module) with esbuild,
 * before the sandboxed runtime starts: under Node's permission model the runtime can neither
 * spawn esbuild's service process nor register loader hooks (they run on a worker thread).
 *
 * Each entry becomes one ES module bundling the project's own files, with every package left
 * external, so `@langchain/langgraph` stays the single copy the runtime shares. The output lies
 * in `outDir`, which must be inside the project (its node_modules/.cache), so that the bare
 * imports resolve to the project's node_modules as its sources would. Graph code sees the
 * difference in `import.meta.url` (the compiled file's), and `require` works through
 * createRequire from there.
 */
export async function buildTypeScriptEntries(config: LanggraphConfig, outDir: string): Promise<BuiltModules> {
  const entries = new Set<string>();
  for (const spec of Object.values(config.graphs)) entries.add(parseGraphSpec(spec, config.dir).file);
  if (typeof config.auth?.path === "string") entries.add(parseExportPath(config.auth.path, config.dir).file);
  if (typeof config.http?.app === "string") entries.add(parseExportPath(config.http.app, config.dir).file);
  const tsconfig = path.join(config.dir, "tsconfig.json");
  const built: BuiltModules = {};
  await Promise.all(
    [...entries]
      .filter((file) => /\.[cm]?js$/.test(file))
      .map(async (file) => {
        const source = await readFile(file, "utf8").catch(() => undefined);
        if (source === undefined) return;
        try {
          await transform(source, { loader: "js", sourcefile: file, logLevel: "silent" });
        } catch (err) {
          const at = (err as { errors?: Array<{ location?: { line: number; column: number } | null }> }).errors?.[0]?.location;
          if (at) built[file] = { syntaxErrorAt: `${file}:${at.line}:${at.column + 1}` };
        }
      }),
  );
  await Promise.all(
    [...entries].filter(isTypeScriptFile).map(async (file, i) => {
      const outfile = path.join(outDir, `${i}-${path.basename(file).replace(/\.[^.]+$/, "")}.mjs`);
      try {
        await build({
          entryPoints: [file],
          absWorkingDir: config.dir,
          outfile,
          bundle: true,
          packages: "external",
          format: "esm",
          platform: "node",
          target: "node20",
          sourcemap: true,
          logLevel: "silent",
          tsconfig: (await exists(tsconfig)) ? tsconfig : undefined,
          banner: {
            js: 'import { createRequire as __langopenCreateRequire } from "node:module"; const require = __langopenCreateRequire(import.meta.url);',
          },
        });
        built[file] = { file: outfile };
      } catch (err) {
        built[file] = { error: buildError(err, config.dir) };
      }
    }),
  );
  return built;
}

function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** esbuild's first error as "file:line:column: text", else the message. */
function buildError(err: unknown, dir: string): string {
  const errors = (err as { errors?: Array<{ text: string; location?: { file: string; line: number; column: number } | null }> })
    .errors;
  const first = errors?.[0];
  if (!first) return err instanceof Error ? err.message : String(err);
  const where = first.location
    ? // The column as esbuild prints it (from 0), as the message said when tsx compiled in the runtime.
      `${path.resolve(dir, first.location.file)}:${first.location.line}:${first.location.column}: `
    : "";
  return `${where}${first.text}`;
}
