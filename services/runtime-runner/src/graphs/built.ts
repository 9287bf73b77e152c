import type { BuiltModules } from "../sandbox/typescript-build.js";

/**
 * The file to import for a module of the project: its compiled form when it was built outside
 * the sandbox (a failed build throws the compiler's error), else the file itself.
 */
export function builtFileOf(file: string, built: BuiltModules | undefined): string {
  const module = built?.[file];
  if (module === undefined || "syntaxErrorAt" in module) return file;
  if ("error" in module) throw new Error(module.error);
  return module.file;
}
