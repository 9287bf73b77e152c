import { readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { formatEgressEntry, parseEgress, readLanggraphConfig } from "@langopen/common";
import type { Defect } from "./failure.js";

export const DEFAULT_CONFIG_PATH = "langgraph.json";

export interface ProjectCheck {
  /** Every defect found (empty: the project is valid). */
  defects: Defect[];
  /** The graph ids of langgraph.json (those it declares, even when it has defects). */
  graphIds: string[];
  /** Its `egress`, normalized ("api.openai.com:443"); empty when it has defects or declares none. */
  egress: string[];
  /** The config's path relative to the source, `/`-separated. */
  configPath: string;
  /** The folder of the langgraph.json (the project: its package.json, node_modules). */
  projectDir: string;
}

/** The config path relative to the source, or undefined when it would leave it. */
export function normalizeConfigPath(configPath: string): string | undefined {
  const given = configPath === "" ? DEFAULT_CONFIG_PATH : configPath.replace(/\\/g, "/");
  if (path.posix.isAbsolute(given) || /^[A-Za-z]:/.test(given)) return undefined;
  const normal = path.posix.normalize(given);
  if (normal === ".." || normal.startsWith("../") || normal === "." || normal.endsWith("/")) return undefined;
  return normal;
}

/** Whether `target` is `root` or inside it (both absolute, resolved). */
const isInside = (root: string, target: string) => {
  const rel = path.relative(root, target);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
};

/** The 1-based line of a character offset. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  const end = Math.min(Math.max(offset, 0), text.length);
  for (let i = 0; i < end; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * The offset where `text` stops being JSON (as JSON.parse reads it), or -1 when it is valid.
 * JSON.parse's messages do not always say where (Node 20: "Unexpected token '}', ... is not
 * valid JSON"), and a defect needs a line.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const ws = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const string = () => {
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c < 32) fail();
      if (c === 92) {
        const next = text[i + 1] ?? "";
        if ('"\\/bfnrt'.includes(next) && next !== "") i += 2;
        else if (next === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else {
          i++;
          fail();
        }
        continue;
      }
      i++;
    }
    fail();
  };
  const value = (depth: number): void => {
    if (depth > 512) fail();
    ws();
    const c = text[i];
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      i++;
      ws();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === "{") {
          ws();
          if (text[i] !== '"') fail();
          string();
          ws();
          if (text[i] !== ":") fail();
          i++;
        }
        value(depth + 1);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === close) {
          i++;
          return;
        }
        fail();
      }
    }
    if (c === '"') {
      string();
      return;
    }
    number.lastIndex = i;
    if (number.exec(text)) {
      i = number.lastIndex;
      return;
    }
    for (const literal of ["true", "false", "null"]) {
      if (text.startsWith(literal, i)) {
        i += literal.length;
        return;
      }
    }
    fail();
  };
  try {
    value(0);
    ws();
    if (i < text.length) fail();
    return -1;
  } catch (at) {
    if (typeof at === "number") return at;
    throw at;
  }
}

/** The line of `"key":` in `text` (from `from` on), or 0 when it is not found. */
function lineOfKey(text: string, key: string, from = 0): number {
  const pattern = new RegExp(`${JSON.stringify(key).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*:`, "g");
  pattern.lastIndex = from;
  const match = pattern.exec(text);
  return match ? lineAt(text, match.index) : 0;
}

/** The offset of the `graphs` object's key, where graph ids are looked up (0 when not found). */
const graphsOffset = (text: string) => /"graphs"\s*:/.exec(text)?.index ?? 0;

/**
 * Checks a source's langgraph.json: it exists inside the source, is JSON, satisfies
 * readLanggraphConfig, and each graph's file exists inside the source. Collects every defect it
 * can instead of stopping at the first (a schema error and missing graph files are reported
 * together; invalid JSON stops the rest).
 */
export async function checkProject(sourceDir: string, configPath: string): Promise<ProjectCheck> {
  const root = await realpath(sourceDir);
  const defects: Defect[] = [];
  const relative = normalizeConfigPath(configPath);
  if (relative === undefined) {
    defects.push({ file: configPath, line: 0, message: "the config path must be a file inside the source" });
    return { defects, graphIds: [], egress: [], configPath, projectDir: root };
  }
  const file = path.join(root, relative);
  const projectDir = path.dirname(file);
  const result = (graphIds: string[] = [], egress: string[] = []): ProjectCheck => ({
    defects,
    graphIds,
    egress: defects.length === 0 ? egress : [],
    configPath: relative,
    projectDir,
  });
  let real: string;
  try {
    real = await realpath(file);
  } catch {
    defects.push({ file: relative, line: 0, message: "not found in the source" });
    return result();
  }
  if (!isInside(root, real)) {
    defects.push({ file: relative, line: 0, message: "is a link to a file outside the source" });
    return result();
  }
  if (!(await stat(real)).isFile()) {
    defects.push({ file: relative, line: 0, message: "is not a file" });
    return result();
  }
  const text = await readFile(real, "utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const at = jsonErrorOffset(text);
    const reason = (err as Error).message.replace(/,? ".*" is not valid JSON$/s, "");
    defects.push({ file: relative, line: lineAt(text, at < 0 ? text.length : at), message: `not valid JSON: ${reason}` });
    return result();
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    defects.push({ file: relative, line: 1, message: "must hold a JSON object" });
    return result();
  }
  const graphsIn = (parsed as { graphs?: unknown }).graphs;
  const graphIds = graphsIn && typeof graphsIn === "object" && !Array.isArray(graphsIn) ? Object.keys(graphsIn) : [];

  const egressIn = (parsed as { egress?: unknown }).egress;
  const egress = parseEgress(egressIn);
  try {
    await readLanggraphConfig(real);
  } catch (err) {
    const message = (err as Error).message.replaceAll(`${real}: `, "").replaceAll(real, relative);
    // The egress problems (what it checks last) are reported below, each at its entry's line.
    if (message !== egress.problems.join("; ")) {
      // The line of the first quoted name the message gives (a key, a graph id), when it is in the file.
      const named = /"([^"]+)"/.exec(message)?.[1];
      let line = 0;
      if (named !== undefined) {
        const key = named.split(".").at(-1) ?? named;
        line = message.startsWith("graph ") ? lineOfKey(text, key, graphsOffset(text)) : lineOfKey(text, key);
        if (line === 0) line = lineOfKey(text, key);
      }
      defects.push({ file: relative, line, message });
    }
  }
  for (const { line, message } of egressDefects(text, egressIn, egress.problems)) defects.push({ file: relative, line, message });

  if (graphsIn && typeof graphsIn === "object" && !Array.isArray(graphsIn)) {
    for (const [id, spec] of Object.entries(graphsIn as Record<string, unknown>)) {
      const target = typeof spec === "string" ? spec : (spec as { path?: unknown } | null)?.path;
      // A malformed entry is readLanggraphConfig's defect, reported above.
      if (typeof target !== "string" || !target.includes(":")) continue;
      const graphFile = target.slice(0, target.lastIndexOf(":"));
      const problem = await graphFileProblem(root, projectDir, graphFile);
      if (problem)
        defects.push({ file: relative, line: lineOfKey(text, id, graphsOffset(text)), message: `graph "${id}": ${problem}` });
    }
  }
  return result(graphIds, egress.entries.map(formatEgressEntry));
}

/**
 * The problems of `egress` with their lines: an entry's at the line of that entry (its string,
 * looked for in order after the "egress" key), the others (not a list, too many) at the key's.
 */
function egressDefects(text: string, value: unknown, problems: string[]): Array<{ line: number; message: string }> {
  if (problems.length === 0) return [];
  const keyLine = lineOfKey(text, "egress");
  const lines = new Map<string, number>();
  if (Array.isArray(value)) {
    let from = /"egress"\s*:/.exec(text)?.index ?? 0;
    for (const item of value) {
      let line = keyLine;
      if (typeof item === "string") {
        const literal = JSON.stringify(item);
        const at = text.indexOf(literal, from);
        if (at >= 0) {
          line = lineAt(text, at);
          from = at + literal.length;
        }
      }
      for (const problem of parseEgress([item]).problems) if (!lines.has(problem)) lines.set(problem, line);
    }
  }
  return problems.map((message) => ({ line: lines.get(message) ?? keyLine, message }));
}

async function graphFileProblem(root: string, projectDir: string, graphFile: string): Promise<string | undefined> {
  if (graphFile === "") return "names no file";
  const resolved = path.resolve(projectDir, graphFile);
  if (!isInside(root, resolved)) return `${graphFile} is outside the project`;
  let real: string;
  try {
    real = await realpath(resolved);
  } catch {
    return `${graphFile} does not exist`;
  }
  if (!isInside(root, real)) return `${graphFile} is a link to a file outside the project`;
  if (!(await stat(real)).isFile()) return `${graphFile} is not a file`;
  return undefined;
}
