#!/usr/bin/env node
// What auth costs: the same LangOpen (npm start's composition, embedded Postgres, one runtime process)
// serving the same project three ways - no auth, API keys (LANGOPEN_API_KEYS), and the project's custom
// auth (services/launcher/src/test-fixtures/auth-project: a bearer-token `authenticate` cached per token
// by `auth.cache`, owner filters on threads applied in SQL) - and the same loads against each, rounds
// alternating. Prints medians (min-max) of thread search requests/s and p50 under 16 clients, and the
// p50 of a stateless runs/wait. Loopback only; every loop is bounded. See scripts/bench/README.md.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Client } from "@langchain/langgraph-sdk";
import autocannon from "autocannon";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "4" },
    waits: { type: "string", default: "30" },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  process.stdout.write("Usage: node scripts/bench/auth.mjs [--rounds 3] [--duration 4] [--waits 30]\n");
  process.exit(0);
}
const ROUNDS = Math.min(20, Number(args.rounds));
const DURATION_S = Math.min(60, Number(args.duration));
const WAITS = Math.min(500, Number(args.waits));

const PROJECT = fileURLToPath(new URL("../../services/launcher/src/test-fixtures/auth-project/", import.meta.url));
const { startLangOpen } = await import("../../services/launcher/dist/compose.js");
const { createLogger } = await import("../../services/common/dist/index.js");

/** The project without its auth section, beside the original so its graph path still resolves. */
function projectWithoutAuth(dir) {
  const config = JSON.parse(readFileSync(path.join(PROJECT, "langgraph.json"), "utf8"));
  delete config.auth;
  config.graphs = Object.fromEntries(Object.entries(config.graphs).map(([id, p]) => [id, path.join(PROJECT, p)]));
  const file = path.join(dir, "langgraph.json");
  writeFileSync(file, JSON.stringify(config));
  return file;
}

const work = mkdtempSync(path.join(tmpdir(), "langopen-auth-bench-"));
const logger = createLogger({ service: "auth-bench", level: "fatal" });
const modes = [
  { name: "no auth", config: projectWithoutAuth(work), headers: {} },
  { name: "API key", config: projectWithoutAuth(work), headers: { "x-api-key": "sk-bench" }, apiKeys: "bench=sk-bench" },
  { name: "custom auth", config: path.join(PROJECT, "langgraph.json"), headers: { authorization: "Bearer token-alice" } },
];
for (const [i, mode] of modes.entries()) {
  const dataDir = path.join(work, `data-${i}`);
  mode.server = await startLangOpen(
    {
      host: "127.0.0.1",
      port: 0,
      configPath: mode.config,
      dataDir,
      logLevel: "fatal",
      shutdownGraceMs: 2_000,
      apiKeys: mode.apiKeys,
    },
    logger,
  );
  mode.client = new Client({ apiUrl: mode.server.url, apiKey: null, defaultHeaders: mode.headers });
  // Something to search: 50 threads of this user.
  await Promise.all(Array.from({ length: 50 }, () => mode.client.threads.create({ metadata: { bench: true } })));
  mode.search = [];
  mode.wait = [];
}

function searchLoad(mode) {
  return new Promise((resolve, reject) => {
    const latencies = [];
    let failed = 0;
    const instance = autocannon(
      {
        url: `${mode.server.url}/threads/search`,
        method: "POST",
        headers: { "content-type": "application/json", ...mode.headers },
        body: JSON.stringify({ limit: 10 }),
        connections: 16,
        duration: DURATION_S,
      },
      (err, result) => (err ? reject(err) : resolve({ rps: latencies.length / result.duration, latencies, failed })),
    );
    instance.on("response", (_c, status, _b, ms) => (status === 200 ? latencies.push(ms) : failed++));
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  for (const mode of modes) await mode.client.runs.wait(null, "whoami", { input: {} }); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 ? [...modes].reverse() : modes) {
      const load = await searchLoad(mode);
      if (load.failed > 0) throw new Error(`${mode.name}: ${load.failed} search request(s) failed`);
      const times = [];
      for (let i = 0; i < WAITS; i++) {
        const t0 = performance.now();
        await mode.client.runs.wait(null, "whoami", { input: {} });
        times.push(performance.now() - t0);
      }
      mode.search.push({ rps: load.rps, p50: median(load.latencies) });
      mode.wait.push(median(times));
      process.stderr.write(
        `round ${round + 1} ${mode.name}: ${load.rps.toFixed(0)} req/s, wait p50 ${median(times).toFixed(1)} ms\n`,
      );
    }
  }
  const range = (xs, digits) =>
    `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;
  const base = modes[0];
  process.stdout.write(
    `\n| auth | thread search req/s (16 clients) | search p50 ms | stateless runs/wait p50 ms | req/s vs no auth |\n|---|---:|---:|---:|---:|\n`,
  );
  for (const mode of modes) {
    const rps = mode.search.map((s) => s.rps);
    process.stdout.write(
      `| ${mode.name} | ${range(rps, 0)} | ${range(
        mode.search.map((s) => s.p50),
        1,
      )} | ${range(mode.wait, 1)} | ${(median(rps) / median(base.search.map((s) => s.rps))).toFixed(2)} |\n`,
    );
  }
} finally {
  for (const mode of modes) await mode.server?.stop();
  rmSync(work, { recursive: true, force: true });
}
