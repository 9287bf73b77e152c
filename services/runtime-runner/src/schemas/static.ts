import { Worker } from "node:worker_threads";
import type { Logger } from "@langopen/common";

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

/**
 * Starts extracting the schemas of the given graphs. A failure never fails the caller: it is
 * logged as a warning and those graphs keep the schemas their runtime objects give.
 */
export function startStaticSchemas(
  graphs: Record<string, StaticSchemaSpec>,
  options: { logger: Logger; timeoutMs?: number },
): StaticSchemaCache {
  const { logger } = options;
  const started = performance.now();
  const work =
    Object.keys(graphs).length === 0
      ? Promise.resolve<StaticSchemas>({})
      : extractStaticSchemas(graphs, {
          timeoutMs: options.timeoutMs ?? 60_000,
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
            return {} as StaticSchemas;
          },
        );
  return {
    ready: work.then(() => undefined),
    async get(graphId, namespace) {
      const byName = (await work)[graphId];
      if (!byName) return undefined;
      const root = graphs[graphId]?.exportSymbol;
      const rootName = root !== undefined && root in byName ? root : Object.keys(byName).find((name) => !name.includes("|"));
      if (rootName === undefined) return undefined;
      // A subgraph the source does not show (built dynamically) takes its parent's schemas, as upstream does.
      return (namespace ? byName[`${rootName}|${namespace}`] : undefined) ?? byName[rootName];
    },
  };
}
