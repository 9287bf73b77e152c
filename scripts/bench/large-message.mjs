#!/usr/bin/env node
// A large message through runs/wait, end to end, with the official SDK: a stateless `POST /runs/wait` and one
// on a thread (`POST /threads/{id}/runs/wait`), on the example graph of `npm start` (it answers
// "You said: <the message>", so the answer is twice the message). Checks that the message comes back intact.
//
//   node scripts/bench/large-message.mjs [--rounds 5] [--mb 9] [--content x|prose] [--trace] [--floor] [--url http://127.0.0.1:8123]
//
// The message is "x" repeated (--content x, the default) or prose-like words (--content prose: distinct words from
// a fixed sequence, which compress about as little as text does, so Postgres's compression of large values shows).
//
// Without --url it starts LangOpen in this process as `npm start` does (embedded Postgres in a temporary
// LANGOPEN_DATA_DIR, the runtime in a child process, the default 10 MiB body limit), and prints the CPU each
// process spent per run (this process: gateway, api-server, worker, and the SDK client; the runtime child;
// Postgres). With --trace, it also prints, for the median round of each case, every SQL statement that moved
// more than 100 kB (this process's `pg` clients are wrapped here, nothing in product code), its duration and
// the bytes it moved. Rounds alternate the order of the cases; medians are printed. Nothing here asserts a time.
//
// With --floor, a third case: the same SDK call against the least any server must do that answers it durably,
// in this process, with no graph and no process hop: fastify (the gateway's) parses the body, one INSERT keeps the
// input (as the run's spec does), the answer is built and kept by one UPDATE (as the run's result is), then sent;
// on an embedded Postgres of its own, started as LangOpen starts its own (same binaries, same settings).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Client } from "@langchain/langgraph-sdk";
import pg from "pg";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    mb: { type: "string", default: "9" },
    content: { type: "string", default: "x" },
    url: { type: "string" },
    trace: { type: "boolean", default: false },
    floor: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log("node scripts/bench/large-message.mjs [--rounds 5] [--mb 9] [--content x|prose] [--trace] [--floor] [--url URL]");
  process.exit(0);
}
const ROUNDS = Number(args.rounds);
const SIZE = Math.round(Number(args.mb) * 1e6);
if (args.content !== "x" && args.content !== "prose") throw new Error(`--content is x or prose, not ${args.content}`);

// SQL statements of this process, for --trace.
let statements = [];
if (args.trace && !args.url) {
  const originalQuery = pg.Client.prototype.query;
  const size = (v) =>
    v == null
      ? 0
      : typeof v === "string"
        ? v.length
        : Buffer.isBuffer(v)
          ? v.length
          : Array.isArray(v)
            ? v.reduce((s, x) => s + size(x), 0)
            : typeof v === "object"
              ? JSON.stringify(v).length
              : 0;
  pg.Client.prototype.query = function (config, values, callback) {
    const text = typeof config === "string" ? config : config?.text;
    const params = Array.isArray(values) ? values : config?.values;
    const entry = {
      sql: String(text ?? "")
        .replace(/\s+/g, " ")
        .trim(),
      start: performance.now(),
      end: 0,
      sent: size(params),
      received: 0,
    };
    statements.push(entry);
    const done = (res) => {
      entry.end = performance.now();
      entry.received = (res?.rows ?? []).reduce((s, row) => s + Object.values(row).reduce((t, v) => t + size(v), 0), 0);
    };
    // pg-pool passes a callback (the call then answers nothing); a direct client.query answers a promise.
    if (typeof callback === "function" || typeof values === "function") {
      const cb = typeof callback === "function" ? callback : values;
      const wrapped = (err, res) => {
        done(res);
        cb(err, res);
      };
      return typeof callback === "function"
        ? originalQuery.call(this, config, values, wrapped)
        : originalQuery.call(this, config, wrapped);
    }
    const result = originalQuery.call(this, config, values);
    if (result && typeof result.then === "function") result.then(done, () => done(undefined));
    return result;
  };
}

/** user+system CPU ticks (1/100 s) of a process. */
function cpuTicks(pid, withExitedChildren = false) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime + stime; cutime + cstime add the children that exited (Postgres backends come and go).
    return Number(fields[11]) + Number(fields[12]) + (withExitedChildren ? Number(fields[13]) + Number(fields[14]) : 0);
  } catch {
    return 0;
  }
}
function children(pid) {
  const out = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push({ pid: Number(entry), name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) });
    } catch {}
  }
  return out;
}
function processTree() {
  const kids = children(process.pid);
  const runtime = kids.filter((k) => k.name === "node").map((k) => k.pid);
  const postmaster = kids.filter((k) => k.name === "postgres").map((k) => k.pid);
  return { runtime, postmaster };
}
function cpuSnapshot() {
  const { runtime, postmaster } = processTree();
  const backends = postmaster.flatMap((p) => children(p).map((c) => c.pid));
  const usage = process.cpuUsage();
  return {
    launcher: (usage.user + usage.system) / 1000,
    runtime: runtime.reduce((s, p) => s + cpuTicks(p), 0) * 10,
    postgres: (postmaster.reduce((s, p) => s + cpuTicks(p, true), 0) + backends.reduce((s, p) => s + cpuTicks(p), 0)) * 10,
  };
}

let langopen;
let dataDir;
let apiUrl = args.url;
if (!apiUrl) {
  const { startLangOpen, EXAMPLE_CONFIG } = await import("../../services/launcher/dist/compose.js");
  const { createLogger } = await import("../../services/common/dist/index.js");
  dataDir = mkdtempSync(path.join(tmpdir(), "langopen-large-message-"));
  // Quiet: a runtime busy with megabytes misses its health checks for a moment, and the stop logs.
  const logger = createLogger({ service: "large-message", level: "fatal" });
  langopen = await startLangOpen(
    { host: "127.0.0.1", port: 0, configPath: EXAMPLE_CONFIG, dataDir, logLevel: "warn", shutdownGraceMs: 2_000 },
    logger,
  );
  apiUrl = langopen.url;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

const client = new Client({ apiUrl });

/**
 * The floor (--floor): `POST /runs/wait` answered by fastify in this process with what a durable answer needs at
 * least (the input kept, the answer built, kept and sent), on an embedded Postgres of its own. The input is kept
 * as JSON bytes (bytea, as the run's spec holds it) and the answer as json (as the run's result, its bytes a
 * binary parameter), each by one statement that commits as LangOpen's do.
 */
async function startFloor() {
  const { startEmbeddedPostgres } = await import("../../services/launcher/dist/embedded-postgres.js");
  const { createLogger } = await import("../../services/common/dist/index.js");
  const { createRequire } = await import("node:module");
  const require = createRequire(new URL("../../gateway/package.json", import.meta.url));
  const { default: Fastify } = await import(require.resolve("fastify"));
  const dir = mkdtempSync(path.join(tmpdir(), "langopen-large-message-floor-"));
  const db = await startEmbeddedPostgres(dir, createLogger({ service: "large-message-floor", level: "fatal" }));
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await pool.query("CREATE TABLE floor_runs (id bigserial PRIMARY KEY, input bytea NOT NULL, result json)");
  const app = Fastify({ logger: false, bodyLimit: 10 * 1024 * 1024 });
  app.post("/runs/wait", async (req, reply) => {
    const { input } = req.body;
    const { rows } = await pool.query("INSERT INTO floor_runs (input) VALUES ($1) RETURNING id", [
      Buffer.from(JSON.stringify(input)),
    ]);
    const human = input.messages[input.messages.length - 1];
    const values = {
      messages: [
        { ...human, type: "human" },
        { type: "ai", content: `You said: ${human.content}` },
      ],
    };
    const bytes = Buffer.from(JSON.stringify(values));
    await pool.query("UPDATE floor_runs SET result = $2 WHERE id = $1", [rows[0].id, bytes]);
    return reply.type("application/json").send(bytes);
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  return {
    client: new Client({ apiUrl: `http://127.0.0.1:${app.server.address().port}` }),
    async stop() {
      await app.close();
      await pool.end();
      await db.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
/** `size` characters of words from a fixed pseudo-random sequence (the same in every run). */
function prose(size) {
  const words = [];
  let length = 0;
  let seed = 1;
  while (length < size) {
    seed = (seed * 48271) % 2147483647;
    const word = seed.toString(36).slice(0, 3 + (seed % 6));
    words.push(word);
    length += word.length + 1;
  }
  return words.join(" ").slice(0, size);
}
const content = args.content === "prose" ? prose(SIZE) : "x".repeat(SIZE);
const input = { messages: [{ role: "human", content }] };

function intact(values) {
  const messages = values?.messages;
  return (
    Array.isArray(messages) &&
    messages.length === 2 &&
    messages[0].content === content &&
    messages[1].content === `You said: ${content}`
  );
}

async function once(kind) {
  const thread = kind === "threaded" ? (await client.threads.create()).thread_id : null;
  statements = [];
  const cpu0 = cpuSnapshot();
  const t0 = performance.now();
  const values = await (kind === "floor" ? floor.client : client).runs.wait(thread, "agent", { input });
  const ms = performance.now() - t0;
  const cpu1 = cpuSnapshot();
  if (!intact(values)) throw new Error(`${kind}: the message did not come back intact: ${JSON.stringify(values).slice(0, 300)}`);
  if (thread) {
    const state = await client.threads.getState(thread);
    if (!intact(state.values)) throw new Error(`${kind}: the thread's state lacks the message`);
  }
  const cpu = Object.fromEntries(Object.keys(cpu0).map((k) => [k, cpu1[k] - cpu0[k]]));
  return {
    ms,
    cpu,
    statements: statements
      .filter((s) => s.start >= t0 && s.start <= t0 + ms)
      .map((s) => ({ ...s, start: s.start - t0, end: s.end - t0 })),
  };
}

const kinds = args.floor ? ["stateless", "threaded", "floor"] : ["stateless", "threaded"];
const results = { stateless: [], threaded: [], floor: [] };
let floor;
try {
  // Inside the try: a floor that fails to start still lets LangOpen stop.
  if (args.floor) floor = await startFloor();
  console.log(
    `LangOpen at ${apiUrl}; message of ${(SIZE / 1e6).toFixed(1)} MB (${args.content}); ${ROUNDS} rounds (after 1 warm-up each)`,
  );
  for (const kind of kinds) await once(kind);
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of round % 2 ? [...kinds].reverse() : kinds) {
      const r = await once(kind);
      results[kind].push(r);
      const cpu = args.url
        ? ""
        : `  (CPU ms: launcher ${fmt(r.cpu.launcher)}, runtime ${fmt(r.cpu.runtime)}, postgres ${fmt(r.cpu.postgres)})`;
      console.log(`round ${round + 1} ${kind.padEnd(9)} ${fmt(r.ms).padStart(6)} ms${cpu}`);
    }
  }
  console.log("\n| case | median (ms) | min | max | rounds |\n| --- | ---: | ---: | ---: | ---: |");
  for (const kind of kinds) {
    const ms = results[kind].map((r) => r.ms);
    console.log(`| ${kind} | ${fmt(median(ms))} | ${fmt(Math.min(...ms))} | ${fmt(Math.max(...ms))} | ${ms.length} |`);
  }
  if (args.trace && !args.url) {
    for (const kind of kinds) {
      const sorted = [...results[kind]].sort((a, b) => a.ms - b.ms);
      const r = sorted[Math.floor((sorted.length - 1) / 2)];
      console.log(
        `\n${kind}, median round (${fmt(r.ms)} ms): CPU ms launcher ${fmt(r.cpu.launcher)}, runtime ${fmt(r.cpu.runtime)}, postgres ${fmt(r.cpu.postgres)}`,
      );
      console.log("| start (ms) | duration (ms) | sent (MB) | received (MB) | statement |\n| ---: | ---: | ---: | ---: | --- |");
      for (const s of r.statements) {
        // The large ones: the background statements (the worker's polls, the reaper, crons) are left out.
        if (s.sent + s.received < 100_000) continue;
        console.log(
          `| ${fmt(s.start)} | ${fmt(s.end - s.start)} | ${(s.sent / 1e6).toFixed(1)} | ${(s.received / 1e6).toFixed(1)} | ${s.sql.slice(0, 90)} |`,
        );
      }
      const sqlMs = r.statements.filter((s) => s.end > 0).reduce((sum, s) => sum + (s.end - s.start), 0);
      console.log(`statements: ${r.statements.length}, ${fmt(sqlMs)} ms in all (they may overlap)`);
    }
  }
} finally {
  await langopen?.stop();
  await floor?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}
