import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { Worker } from "node:worker_threads";
import type { Logger } from "@langopen/common";
import { parseGraphSpec } from "../graphs/spec.js";
import { isTypeScriptFile } from "../graphs/typescript.js";

/** The schemas the TypeScript types of one graph (or subgraph) give, as upstream's extractor names them. */
export interface StaticGraphSchema {
  state?: unknown;
  input?: unknown;
  output?: unknown;
  config?: unknown;
}

/** Per graph id: the graph's export name, and `<export>|<namespace>` for each subgraph found in its source. */
export type StaticSchemas = Record<string, Record<string, StaticGraphSchema>>;

export interface StaticSchemaSpec {
  /** The graph's TypeScript source (absolute). */
  sourceFile: string;
  exportSymbol: string;
}

/** The TypeScript graphs among a langgraph.json's `graphs` (id to "./file:export"), with `keep` choosing among them. */
export function staticSchemaSpecs(
  graphs: Record<string, string>,
  dir: string,
  keep: (graphId: string, file: string) => boolean = () => true,
): Record<string, StaticSchemaSpec> {
  const out: Record<string, StaticSchemaSpec> = {};
  for (const [graphId, spec] of Object.entries(graphs)) {
    const { file, exportName } = parseGraphSpec(spec, dir);
    if (isTypeScriptFile(file) && keep(graphId, file)) out[graphId] = { sourceFile: file, exportSymbol: exportName };
  }
  return out;
}

export interface ExtractOptions {
  timeoutMs: number;
  /** What the compiler printed (type errors in the project, symbols it could not describe). */
  onOutput?: (text: string) => void;
}

// LangGraph's own extractor (the one its JS server uses): it runs the TypeScript compiler over the
// graph's source with a template that infers the state, update, input, output and config types of
// each graph and subgraph, then turns those types into JSON Schema. Reusing it keeps the output the
// same as the reference server's, where a hand-made walk over the types would drift from it.
const EXTRACTOR = "@langchain/langgraph-api/schema";

function extractInWorker(specs: StaticSchemaSpec[], options: ExtractOptions): Promise<unknown[]> {
  // The package's worker entry lies beside its exported module; it is started with our own
  // options so that the compiler's diagnostics come to us instead of this process's stdout.
  const workerFile = new URL("./parser.worker.mjs", import.meta.resolve(EXTRACTOR));
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerFile, { stdout: true, stderr: true });
    // A runtime that stops while the compiler still runs must not wait for it.
    worker.unref();
    let output = "";
    const collect = (chunk: Buffer) => {
      if (output.length < 64_000) output += chunk.toString("utf8");
    };
    worker.stdout.on("data", collect);
    worker.stderr.on("data", collect);
    const finish = (fn: () => void) => {
      clearTimeout(timer);
      if (output) options.onOutput?.(output);
      void worker.terminate();
      fn();
    };
    const timer = setTimeout(
      () => finish(() => reject(new Error(`the schema extraction did not finish within ${options.timeoutMs} ms`))),
      options.timeoutMs,
    );
    worker.once("message", (result: unknown[]) => finish(() => resolve(result)));
    worker.once("error", (err) => finish(() => reject(err)));
    worker.once("exit", (code) => finish(() => reject(new Error(`the schema extraction stopped (exit code ${code})`))));
    worker.postMessage(specs);
  });
}

/** The typed schemas of the given graphs (by graph id), derived from their TypeScript sources. */
export async function extractStaticSchemas(
  graphs: Record<string, StaticSchemaSpec>,
  options: ExtractOptions,
): Promise<StaticSchemas> {
  const ids = Object.keys(graphs);
  if (ids.length === 0) return {};
  const specs = ids.map((id) => graphs[id] as StaticSchemaSpec);
  const results = await extractInWorker(specs, options);
  return Object.fromEntries(ids.map((id, i) => [id, (results[i] ?? {}) as Record<string, StaticGraphSchema>]));
}

/** Whether this process may start worker threads (Node's permission model may refuse). */
export function mayStartWorkers(): boolean {
  const permission = (process as { permission?: { has(scope: string): boolean } }).permission;
  return permission === undefined || permission.has("worker");
}

/** The typed schemas of a project's graphs, extracted once at start and kept. */
export interface StaticSchemaCache {
  /** The schema of a graph (no namespace) or of one of its subgraphs; undefined when none could be derived. */
  get(graphId: string, namespace?: string): Promise<StaticGraphSchema | undefined>;
  /** Settles when the extraction has finished (or failed). */
  readonly ready: Promise<void>;
}

/** The schema of one graph (no namespace) or of one of its subgraphs in what the extractor gave. */
function lookup(
  schemas: StaticSchemas,
  graphs: Record<string, StaticSchemaSpec>,
  graphId: string,
  namespace: string | undefined,
): StaticGraphSchema | undefined {
  const byName = schemas[graphId];
  if (!byName) return undefined;
  const root = graphs[graphId]?.exportSymbol;
  const rootName = root !== undefined && root in byName ? root : Object.keys(byName).find((name) => !name.includes("|"));
  if (rootName === undefined) return undefined;
  // A subgraph the source does not show (built dynamically) takes its parent's schemas, as upstream does.
  return (namespace ? byName[`${rootName}|${namespace}`] : undefined) ?? byName[rootName];
}

/** Extracts, logging the outcome; a failure is logged as a warning and gives no schemas. */
function extractLogged(
  graphs: Record<string, StaticSchemaSpec>,
  options: { logger: Logger; timeoutMs?: number },
): Promise<StaticSchemas> {
  const { logger } = options;
  if (Object.keys(graphs).length === 0) return Promise.resolve({});
  const started = performance.now();
  return extractStaticSchemas(graphs, {
    timeoutMs: options.timeoutMs ?? 120_000,
    onOutput: (text) => logger.debug({ output: text.slice(0, 8_000) }, "Schema extraction output"),
  }).then(
    (schemas) => {
      logger.info(
        { graphs: Object.keys(schemas), duration_ms: Math.round(performance.now() - started) },
        "Extracted graph schemas from TypeScript types",
      );
      return schemas;
    },
    (err: unknown) => {
      logger.warn(
        { graphs: Object.keys(graphs), cause: err instanceof Error ? err.message : String(err) },
        "Could not extract graph schemas from TypeScript types; serving the schemas the graphs give at run time",
      );
      return {};
    },
  );
}

/**
 * Starts extracting the schemas of the given graphs in this process (on a worker thread). A
 * failure never fails the caller: it is logged and those graphs keep the schemas their runtime
 * objects give.
 */
export function startStaticSchemas(
  graphs: Record<string, StaticSchemaSpec>,
  options: { logger: Logger; timeoutMs?: number },
): StaticSchemaCache {
  const work = extractLogged(graphs, options);
  return {
    ready: work.then(() => undefined),
    get: async (graphId, namespace) => lookup(await work, graphs, graphId, namespace),
  };
}

/**
 * The schemas a sandboxed runtime's supervisor extracts for it (see writeStaticSchemasWhenReady),
 * read from the file once it is there: until then (the compiler still runs, or it failed) the
 * graphs answer the schemas their runtime objects give.
 */
export function readStaticSchemas(file: string, graphs: Record<string, StaticSchemaSpec>): StaticSchemaCache {
  let found: StaticSchemas | undefined;
  return {
    ready: Promise.resolve(),
    async get(graphId, namespace) {
      if (found === undefined) {
        const text = await readFile(file, "utf8").catch(() => undefined);
        if (text === undefined) return undefined;
        found = JSON.parse(text) as StaticSchemas;
      }
      return lookup(found, graphs, graphId, namespace);
    },
  };
}

/** Extractions in this process by the digest of what they read, so that each version of a project is compiled once. */
const extractions = new Map<string, Promise<StaticSchemas>>();
const KEPT_EXTRACTIONS = 4;

/**
 * For a runtime that may not start worker threads (the sandbox): extracts the schemas here, off
 * this thread, and writes them to `file` (whole, by rename) when done. `digest` names the
 * project's version: runtimes of the same version share one extraction. A failure is logged and
 * writes nothing; a file whose folder is gone by then (the runtime stopped) is not written.
 */
export function writeStaticSchemasWhenReady(
  graphs: Record<string, StaticSchemaSpec>,
  digest: string,
  file: string,
  options: { logger: Logger; timeoutMs?: number },
): void {
  if (Object.keys(graphs).length === 0) return;
  let work = extractions.get(digest);
  if (work === undefined) {
    work = extractLogged(graphs, options);
    extractions.set(digest, work);
    for (const key of extractions.keys()) {
      if (extractions.size <= KEPT_EXTRACTIONS) break;
      extractions.delete(key);
    }
  }
  void work.then(async (schemas) => {
    if (Object.keys(schemas).length === 0) return;
    const partial = `${file}.${process.pid}.partial`;
    try {
      await writeFile(partial, JSON.stringify(schemas));
      await rename(partial, file);
    } catch {
      await rm(partial, { force: true }).catch(() => {});
    }
  });
}
