import path from "node:path";
import { type LanggraphConfig, StartupError } from "@langopen/common";

/**
 * Bundles the project's generative UI components (`ui` of langgraph.json) into `outDir`, once,
 * before its runtime starts: with `@langchain/langgraph-ui`, the bundler the upstream server
 * uses (esbuild with Tailwind), so a project's components build here exactly as they do there
 * (React and the SDK left for the page to provide, `ui_config.shared` too). It runs outside the
 * sandbox, which may not start esbuild. The runtime serves the result (see loadProjectUi).
 * Answers `outDir`, or undefined when the project declares no UI.
 */
export async function bundleProjectUi(config: LanggraphConfig, outDir: string): Promise<string | undefined> {
  if (config.ui === undefined || Object.keys(config.ui).length === 0) return undefined;
  try {
    // Loaded only here: it brings a native CSS compiler, which a sandboxed runtime (importing this
    // module's neighbours) may not load, and which only a project with UI needs.
    const { build } = await import("@langchain/langgraph-ui");
    await build({ cwd: config.dir, defs: config.ui, config: config.ui_config ?? {}, output: outDir });
  } catch (err) {
    // esbuild's message lists each error with its file and line.
    throw new StartupError(
      `${config.path}: failed to bundle the UI components (${Object.values(config.ui).join(", ")}): ${(err as Error)?.message ?? String(err)}`,
    );
  }
  return path.resolve(outDir);
}
