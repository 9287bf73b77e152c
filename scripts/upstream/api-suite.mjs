#!/usr/bin/env node
// Runs the upstream JS server's own API suite (libs/langgraph-api/tests/api.test.mts of a langgraphjs
// checkout) against LangOpen serving that suite's test graphs, and prints what passed and failed.
//
//   npm run build && node scripts/upstream/api-suite.mjs --checkout ../langgraphjs [--port 8140] [--processes 2]
//
// The suite is copied (never into git: .upstream-suite/ is ignored) inside this repository so that its graphs
// resolve packages from our node_modules, and adapted at run time only where it assumes the reference server
// itself: its port (2024 here belongs to another process), its `/internal/truncate` helper (LangOpen clears
// through the public API instead), and two packages it imports for modes it does not run here (postgres,
// wait-port). See scripts/upstream/README.md for the tests that pin the reference's own deviations.
import { spawn } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WORK = path.join(ROOT, ".upstream-suite");

const { values } = parseArgs({
  options: {
    checkout: { type: "string" },
    port: { type: "string", default: "8140" },
    processes: { type: "string" },
    filter: { type: "string" },
  },
});
if (!values.checkout) {
  process.stderr.write(
    "usage: node scripts/upstream/api-suite.mjs --checkout <langgraphjs checkout> [--port N] [--processes N]\n",
  );
  process.exit(2);
}
const source = path.resolve(values.checkout, "libs/langgraph-api/tests");
const port = Number(values.port);
const apiUrl = `http://localhost:${port}`;

/** The suite's own truncate helper posts to the reference server's test-only route; this one uses the API. */
const TRUNCATE = `export async function truncate(apiUrl: string, options: any) {
  const flags = options === "all" ? { runs: true, threads: true, assistants: true, store: true, checkpoint: true } : options;
  const call = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(apiUrl + route, {
      method,
      headers: { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  };
  if (flags.runs || flags.threads || flags.checkpoint) {
    for (let i = 0; i < 50; i++) {
      const threads = await call("POST", "/threads/search", { limit: 1000 });
      if (!threads?.length) break;
      await Promise.all(threads.map((t: any) => call("DELETE", "/threads/" + t.thread_id)));
    }
    const crons = await call("POST", "/runs/crons/search", { limit: 1000 });
    await Promise.all((crons ?? []).map((c: any) => call("DELETE", "/runs/crons/" + c.cron_id)));
  }
  if (flags.assistants) {
    const assistants = await call("POST", "/assistants/search", { limit: 1000 });
    const own = (assistants ?? []).filter((a: any) => a.metadata?.created_by !== "system");
    await Promise.all(own.map((a: any) => call("DELETE", "/assistants/" + a.assistant_id)));
  }
  if (flags.store) {
    for (let i = 0; i < 50; i++) {
      const { items } = await call("POST", "/store/items/search", { limit: 1000 });
      if (!items?.length) break;
      await Promise.all(items.map((it: any) => call("DELETE", "/store/items", { namespace: it.namespace, key: it.key })));
    }
  }
}
`;

async function prepare() {
  await rm(WORK, { recursive: true, force: true });
  await cp(source, path.join(WORK, "tests"), { recursive: true });
  const utils = path.join(WORK, "tests/utils.mts");
  const text = await readFile(utils, "utf8");
  const start = text.indexOf("export async function truncate(");
  if (start < 0) throw new Error(`${utils} has no truncate helper: the suite changed, adapt this script`);
  await writeFile(utils, text.slice(0, start) + TRUNCATE);
  const suite = path.join(WORK, "tests/api.test.mts");
  await writeFile(suite, (await readFile(suite, "utf8")).replaceAll("http://localhost:2024", apiUrl));
  for (const [name, body] of [
    ["postgres", 'export default function postgres() { throw new Error("only the in-memory mode runs here"); }\n'],
    ["wait-port", "export default async function waitPort() {}\n"],
  ]) {
    const dir = path.join(WORK, "node_modules", name);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "package.json"), JSON.stringify({ name, type: "module", main: "index.js" }));
    await writeFile(path.join(dir, "index.js"), body);
  }
  await writeFile(
    path.join(WORK, "vitest.config.mjs"),
    `export default { test: { root: ${JSON.stringify(WORK)}, include: ["tests/api.test.mts"], testTimeout: 30000, fileParallelism: false } };\n`,
  );
}

async function waitReady(child) {
  for (let i = 0; i < 240; i++) {
    if (child.exitCode !== null) throw new Error(`LangOpen exited (${child.exitCode}) while starting`);
    try {
      if ((await fetch(`${apiUrl}/ok`)).ok) return;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error("LangOpen did not answer /ok within 120 s");
}

await prepare();
const dataDir = await mkdtemp(path.join(os.tmpdir(), "langopen-upstream-suite-"));
const server = spawn(process.execPath, [path.join(ROOT, "services/launcher/dist/main.js")], {
  env: {
    ...process.env,
    PORT: String(port),
    LANGOPEN_CONFIG: path.join(WORK, "tests/graphs/langgraph.json"),
    LANGOPEN_DATA_DIR: dataDir,
    LOG_LEVEL: "warn",
    ...(values.processes ? { LANGOPEN_RUNTIME_PROCESSES: values.processes } : {}),
  },
  stdio: ["ignore", "inherit", "inherit"],
});
let code = 1;
try {
  await waitReady(server);
  const vitest = spawn(
    process.execPath,
    [
      path.join(ROOT, "node_modules/vitest/vitest.mjs"),
      "run",
      "--config",
      path.join(WORK, "vitest.config.mjs"),
      ...(values.filter ? ["-t", values.filter] : []),
    ],
    { stdio: "inherit", env: { ...process.env, CI: "" } },
  );
  code = await new Promise((resolve) => vitest.once("exit", (exitCode) => resolve(exitCode ?? 1)));
} finally {
  server.kill("SIGTERM");
  await new Promise((resolve) => server.once("exit", resolve));
  await rm(dataDir, { recursive: true, force: true });
}
process.exit(code);
