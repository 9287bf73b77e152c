import { existsSync } from "node:fs";
import path from "node:path";

/**
 * Node hooks are process-wide, so TypeScript support is switched on once per process (the
 * first langgraph.json with a TypeScript graph decides which tsconfig.json tsx reads).
 *
 * tsx's global `register()` is used rather than the scoped `tsImport()`: tsImport loads every
 * module under a namespace of its own, so a graph's `@langchain/langgraph` would be a second
 * copy, different from the one other graphs and the runtime see (its `Send` would fail
 * `instanceof`, its message classes would not be the runtime's).
 */
let enabled: Promise<void> | undefined;

export function isTypeScriptFile(file: string): boolean {
  return /\.(ts|mts|cts|tsx)$/.test(file);
}

/** Makes `import()` of .ts/.mts/.cts files work (ESM and CommonJS), once per process. */
export function enableTypeScript(projectDir: string): Promise<void> {
  enabled ??= (async () => {
    const tsconfigPath = path.join(projectDir, "tsconfig.json");
    const tsconfig = existsSync(tsconfigPath) ? tsconfigPath : false;
    const esm = await import("tsx/esm/api");
    esm.register({ tsconfig });
    const cjs = await import("tsx/cjs/api");
    cjs.register();
  })();
  return enabled;
}
