#!/usr/bin/env node
// Counts the SQL statements and transactions LangOpen spends per operation, in embedded mode:
// the launcher (gateway, api-server, worker) runs in this process, so every statement goes
// through this process's `pg` clients, which are wrapped here to count (nothing in product code).
// The runtime child reaches Postgres only through the api-server's RPCs, so it is counted too.
//
//   node scripts/bench/count-sql.mjs [--runs N] [--top N]
//
// Prints, per operation (thread create, stateless runs/wait, background run), statements and
// BEGINs per operation, and the most frequent statements. Idle background work (the worker's
// polls) over the same time is measured first and subtracted.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";

const { values: args } = parseArgs({
  options: { runs: { type: "string", default: "30" }, top: { type: "string", default: "25" } },
});
const N = Number(args.runs);
const TOP = Number(args.top);
const here = path.dirname(fileURLToPath(import.meta.url));

const counts = new Map();
let total = 0;
const originalQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (config, ...rest) {
  const text = typeof config === "string" ? config : config?.text;
  if (typeof text === "string") {
    const key = text.replace(/\s+/g, " ").trim().slice(0, 110);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    total++;
  }
  return originalQuery.call(this, config, ...rest);
};
const reset = () => {
  counts.clear();
  total = 0;
};
const snapshot = () => ({ total, begins: counts.get("BEGIN") ?? 0, counts: new Map(counts) });

const { startLangOpen } = await import("../../services/launcher/dist/index.js");
const { createLogger } = await import("../../services/common/dist/index.js");

const dataDir = mkdtempSync(path.join(tmpdir(), "langopen-count-sql-"));
const logger = createLogger({ service: "count-sql", level: "warn" });
const langopen = await startLangOpen(
  { host: "127.0.0.1", port: 0, configPath: path.join(here, "graphs/langgraph.json"), dataDir, logLevel: "warn" },
  logger,
);
const url = langopen.url;
const post = async (p, body) => {
  const res = await fetch(`${url}${p}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${p}: ${res.status} ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : undefined;
};
const get = async (p) => {
  const res = await fetch(`${url}${p}`);
  if (!res.ok) throw new Error(`GET ${p}: ${res.status}`);
  return res.json();
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function report(name, ops, snap, idle, elapsedMs) {
  const idleShare = idle ? (idle.total * elapsedMs) / idle.ms : 0;
  const idleBegins = idle ? (idle.begins * elapsedMs) / idle.ms : 0;
  console.log(
    `\n## ${name}: ${ops} ops in ${elapsedMs.toFixed(0)} ms; statements/op ${((snap.total - idleShare) / ops).toFixed(1)}, ` +
      `transactions (BEGIN)/op ${((snap.begins - idleBegins) / ops).toFixed(2)} ` +
      `(raw ${snap.total} statements, ${snap.begins} BEGIN; idle estimate ${idleShare.toFixed(0)})`,
  );
  const rows = [...snap.counts].sort((a, b) => b[1] - a[1]).slice(0, TOP);
  for (const [sql, n] of rows) console.log(`${(n / ops).toFixed(2).padStart(7)}  ${sql}`);
}

try {
  // Warm-up: every path once.
  for (let i = 0; i < 5; i++) await post("/runs/wait", { assistant_id: "echo", input: { text: "warm" } });
  const warmThread = (await post("/threads", {})).thread_id;
  await post(`/threads/${warmThread}/runs/wait`, { assistant_id: "echo", input: { text: "warm" } });

  // Idle: what the worker does by itself.
  reset();
  let t0 = performance.now();
  await sleep(3000);
  const idle = { ...snapshot(), ms: performance.now() - t0 };
  console.log(`idle: ${idle.total} statements, ${idle.begins} BEGIN in ${idle.ms.toFixed(0)} ms`);

  reset();
  t0 = performance.now();
  for (let i = 0; i < N; i++) await post("/threads", {});
  report("POST /threads", N, snapshot(), idle, performance.now() - t0);

  reset();
  t0 = performance.now();
  for (let i = 0; i < N; i++) await post("/runs/wait", { assistant_id: "echo", input: { text: `hello ${i}` } });
  report("POST /runs/wait (stateless, echo)", N, snapshot(), idle, performance.now() - t0);

  const threads = [];
  for (let i = 0; i < 5; i++) threads.push((await post("/threads", {})).thread_id);
  reset();
  t0 = performance.now();
  const created = [];
  for (let i = 0; i < N; i++) {
    const thread = threads[i % threads.length];
    const run = await post(`/threads/${thread}/runs`, {
      assistant_id: "echo",
      input: { text: `bg ${i}` },
      multitask_strategy: "enqueue",
    });
    created.push([thread, run.run_id]);
  }
  for (const [thread, run] of created) await get(`/threads/${thread}/runs/${run}/join`);
  report("background run (create + worker + join)", N, snapshot(), idle, performance.now() - t0);
} finally {
  pg.Client.prototype.query = originalQuery;
  await langopen.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
