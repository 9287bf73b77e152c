import path from "node:path";

/** "./dir/file.ts:export" (export defaulting to "default"), resolved against the config's folder. */
export function parseGraphSpec(spec: string, dir: string): { file: string; exportName: string } {
  const colon = spec.lastIndexOf(":");
  const file = colon > 0 ? spec.slice(0, colon) : spec;
  const exportName = colon > 0 ? spec.slice(colon + 1) || "default" : "default";
  return { file: path.resolve(dir, file), exportName };
}
