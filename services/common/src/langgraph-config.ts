import { readFile } from "node:fs/promises";
import path from "node:path";

/** The parts of a langgraph.json that LangOpen reads. */
export interface LanggraphConfig {
  /** Absolute path of the langgraph.json. */
  path: string;
  /** Its folder, against which graph paths resolve. */
  dir: string;
  /** Graph id to `./file.ts:export` (or an object with a `path`). */
  graphs: Record<string, string>;
  env?: Record<string, string> | string;
  store?: unknown;
  checkpointer?: unknown;
}

/** Reads and checks a langgraph.json; the error names the file and what is wrong. */
export async function readLanggraphConfig(file: string): Promise<LanggraphConfig> {
  const absolute = path.resolve(file);
  let raw: string;
  try {
    raw = await readFile(absolute, "utf8");
  } catch (err) {
    throw new Error(`Cannot read ${absolute}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new Error(`${absolute} is not valid JSON: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error(`${absolute} must hold a JSON object`);
  const graphsIn = (parsed as { graphs?: unknown }).graphs;
  if (!graphsIn || typeof graphsIn !== "object" || Array.isArray(graphsIn)) {
    throw new Error(`${absolute} must have a "graphs" object mapping graph ids to "./file:export"`);
  }
  const graphs: Record<string, string> = {};
  for (const [id, spec] of Object.entries(graphsIn)) {
    const target = typeof spec === "string" ? spec : (spec as { path?: unknown } | null)?.path;
    if (typeof target !== "string" || !target.includes(":")) {
      throw new Error(`${absolute}: graph "${id}" must be "./file:export", got ${JSON.stringify(spec)}`);
    }
    graphs[id] = target;
  }
  const { env, store, checkpointer } = parsed as Partial<LanggraphConfig>;
  return { path: absolute, dir: path.dirname(absolute), graphs, env, store, checkpointer };
}
