#!/usr/bin/env node
// LangOpen chaos suite: a split topology (2 gateways, 2 api-servers, 3 workers, 2 runtime-runners
// on real Postgres and Redis, every service its own process) under a steady load of runs and
// resumable streams, with one fault at a time. After each fault, once the load has drained, it
// checks every run, every stream and every checkpoint write, and prints a table.
//
//   npm run chaos                 # the full run
//   npm run chaos -- --quick      # the short run, for CI (about 2 minutes)
//   npm run chaos -- --faults kill-worker,stop-worker
//
// Loopback only. Every loop is bounded in count and time, and a watchdog ends the whole suite.
// Exit status: 0 all checks held, 1 a check failed, 2 the suite itself could not run.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { redisKeys } from "@langopen/common";
import { Redis } from "ioredis";
import pg from "pg";
import { analysePhase, FINAL, loadRuns, logMentions, readTrace } from "./checks.mjs";
import { followStream, startLoad } from "./load.mjs";
import { crashes, sleep, startTopology } from "./topology.mjs";

const FAULTS = ["kill-worker", "restart-api", "restart-redis", "restart-postgres", "stop-worker"];

const PROFILES = {
  quick: {
    clients: 3,
    steps: 8,
    stepMs: 250,
    longStepMs: 1_000,
    warmupMs: 2_500,
    afterMs: 4_000,
    rounds: 1,
    watchdogMs: 8 * 60_000,
  },
  full: {
    clients: 6,
    steps: 12,
    stepMs: 250,
    longStepMs: 800,
    warmupMs: 4_000,
    afterMs: 12_000,
    rounds: 2,
    watchdogMs: 30 * 60_000,
  },
};

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    faults: { type: "string" },
    rounds: { type: "string" },
    clients: { type: "string" },
    "no-baseline": { type: "boolean", default: false },
    "lease-ms": { type: "string", default: "3000" },
    "max-attempts": { type: "string", default: "3" },
    durability: { type: "string" },
    seed: { type: "string" },
    out: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (args.help) {
  process.stdout.write(
    `Usage: npm run chaos -- [--quick] [--faults ${FAULTS.join(",")}] [--rounds N] [--clients N]\n` +
      "                        [--no-baseline] [--lease-ms MS] [--max-attempts N] [--durability sync|async|exit]\n" +
      "                        [--seed N] [--out DIR]\n",
  );
  process.exit(0);
}

const profile = { ...PROFILES[args.quick ? "quick" : "full"] };
if (args.rounds) profile.rounds = positive("--rounds", args.rounds);
if (args.clients) profile.clients = positive("--clients", args.clients);
const leaseMs = positive("--lease-ms", args["lease-ms"]);
const maxAttempts = positive("--max-attempts", args["max-attempts"]);
const faults = args.faults
  ? args.faults
      .split(",")
      .map((f) => f.trim())
      .filter(Boolean)
  : FAULTS;
for (const f of faults) {
  if (!FAULTS.includes(f)) fail(`unknown fault ${JSON.stringify(f)}; known: ${FAULTS.join(", ")}`);
}
if (args.durability && !["sync", "async", "exit"].includes(args.durability)) fail("--durability must be sync, async or exit");
const seed = args.seed ? positive("--seed", args.seed) : Date.now() % 1_000_000;
const random = mulberry32(seed);

function positive(name, text) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) fail(`${name} must be a positive integer (got ${JSON.stringify(text)})`);
  return n;
}

function fail(message) {
  process.stderr.write(`chaos: ${message}\n`);
  process.exit(2);
}

/** A small seeded generator, so a run's choices (which streams drop, when) can be replayed. */
function mulberry32(a) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const say = (text) => process.stdout.write(`${new Date().toISOString().slice(11, 23)} ${text}\n`);

const outDir = args.out ?? mkdtempSync(join(tmpdir(), "langopen-chaos-"));
const logDir = join(outDir, "logs");
const traceDir = join(outDir, "trace");
mkdirSync(logDir, { recursive: true });
mkdirSync(traceDir, { recursive: true });

let topo;
let pool;
const watchdog = setTimeout(() => {
  say(`watchdog: the suite took longer than ${profile.watchdogMs / 1000} s; stopping everything`);
  process.exit(2); // the exit hooks kill every process and server started here
}, profile.watchdogMs);
watchdog.unref();
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, () => {
    say(`${sig}: stopping`);
    process.exit(130);
  });
}

/** A query on the chaos pool, retried while Postgres is away (bounded). */
async function query(sql, params, attempts = 20) {
  for (let i = 1; ; i++) {
    try {
      return await pool.query(sql, params);
    } catch (err) {
      if (i >= attempts) throw err;
      await sleep(500);
    }
  }
}

/**
 * Running runs whose graph is mid-way (a step done, the end not reached), by lease owner. With
 * `minLeftMs`, only runs with at least that much graph time left count.
 */
async function busyOwners(load, minLeftMs) {
  const { rows } = await query("SELECT run_id, lease_owner FROM runs WHERE status = 'running' AND lease_owner IS NOT NULL");
  const stepMsOf = new Map(load.runs.map((r) => [r.runId, r.stepMs]));
  const owners = new Map();
  for (const row of rows) {
    const trace = readTrace(traceDir, row.run_id);
    const steps = trace.filter((l) => l.kind === "step").length;
    if (steps < 1 || steps > profile.steps - 2 || trace.some((l) => l.kind === "complete")) continue;
    if (minLeftMs && (profile.steps - steps) * (stepMsOf.get(row.run_id) ?? profile.stepMs) < minLeftMs) continue;
    owners.set(row.lease_owner, [...(owners.get(row.lease_owner) ?? []), row.run_id]);
  }
  return owners;
}

/**
 * The worker process owning the most mid-way runs (with at least minLeftMs of graph time left,
 * when one shows up within 10 s); waits up to 15 s in all.
 */
async function pickBusyWorker(load, minLeftMs = 0) {
  const begun = Date.now();
  while (Date.now() - begun < 15_000) {
    const owners = await busyOwners(load, Date.now() - begun < 10_000 ? minLeftMs : 0);
    const candidates = topo.workers
      .filter((w) => w.running && owners.has(w.owner))
      .sort((a, b) => owners.get(b.owner).length - owners.get(a.owner).length);
    if (candidates.length > 0) return { worker: candidates[0], runs: owners.get(candidates[0].owner) };
    await sleep(100);
  }
  throw new Error("no worker owned a run mid-way within 15 s");
}

async function waitForStreams(load) {
  const deadline = Date.now() + 10_000;
  while (load.openStreams() === 0 && Date.now() < deadline) await sleep(100);
  return load.openStreams();
}

const short = (id) => id.slice(0, 8);

/** Each fault returns a note: what it did, to what, and how long it took. */
const inject = {
  async "kill-worker"(_round, load) {
    const { worker, runs } = await pickBusyWorker(load);
    const exit = await worker.kill();
    const owner = worker.owner;
    await sleep(500);
    await worker.start();
    return {
      note: `SIGKILL ${worker.name} owning ${runs.length} run(s) mid-way (${runs.map(short).join(",")}); restarted`,
      detail: { worker: worker.name, owner, runs, exit },
    };
  },
  async "restart-api"(round, load) {
    const open = await waitForStreams(load);
    const api = topo.apis[round % topo.apis.length];
    const exit = await api.stop();
    const begun = Date.now();
    await api.start();
    return {
      note: `SIGTERM ${api.name} with ${open} stream(s) open: exit ${exit.code ?? exit.signal} after ${exit.tookMs} ms; up again in ${Date.now() - begun} ms`,
      detail: { api: api.name, exit, open },
    };
  },
  async "restart-redis"(_round, load) {
    const open = await waitForStreams(load);
    const begun = Date.now();
    await topo.redis.restart();
    return {
      note: `Redis restarted (data not persisted) in ${Date.now() - begun} ms with ${open} stream(s) open`,
      detail: { open },
    };
  },
  async "restart-postgres"(_round, load) {
    const open = await waitForStreams(load);
    const begun = Date.now();
    await topo.pg.restart();
    return {
      note: `Postgres restarted (fast shutdown) in ${Date.now() - begun} ms with ${open} stream(s) open`,
      detail: { open },
    };
  },
  async "stop-worker"(_round, load) {
    const stoppedMs = Math.round(leaseMs * 2.5) + 500;
    // A run whose graph outlives the lease, so that the runtime is still executing it for the
    // stopped worker when another worker takes the run over: that is what fencing is for.
    const { worker, runs } = await pickBusyWorker(load, leaseMs * 1.5);
    worker.signal("SIGSTOP");
    await sleep(stoppedMs);
    const { rows } = await query("SELECT run_id, status, epoch, attempt, lease_owner FROM runs WHERE run_id = ANY($1::uuid[])", [
      runs,
    ]);
    worker.signal("SIGCONT");
    return {
      note: `SIGSTOP ${worker.name} owning ${runs.length} run(s) mid-way for ${stoppedMs} ms (lease ${leaseMs} ms), then SIGCONT`,
      detail: { worker: worker.name, owner: worker.owner, runs, atSigcont: rows },
    };
  },
};

/** Waits until every run of these threads is final (bounded), returning those that are not. */
async function waitForFinal(threadIds, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await query("SELECT run_id, status FROM runs WHERE thread_id = ANY($1::uuid[])", [threadIds]);
    const open = rows.filter((r) => !FINAL.has(r.status));
    if (open.length === 0 || Date.now() > deadline) return open;
    await sleep(500);
  }
}

/** Each run's event log, read straight from Redis (bounded), to see what follows its `end`. */
async function readRunLogs(runIds) {
  const keys = redisKeys();
  const redis = new Redis(topo.redis.url, { maxRetriesPerRequest: 1, connectTimeout: 5_000, lazyConnect: true });
  redis.on("error", () => {});
  const out = new Map();
  try {
    await redis.connect();
    for (const runId of runIds) {
      const entries = await redis.xrange(keys.runEvents(runId), "-", "+", "COUNT", 10_000);
      out.set(
        runId,
        entries.map(([id, fields]) => ({ id, event: fields[1] ?? "", data: fields[3] ?? "" })),
      );
    }
  } catch (err) {
    say(`could not read the event logs from Redis: ${err instanceof Error ? err.message : err}`);
  } finally {
    redis.disconnect();
  }
  return out;
}

/** Every run's stream again from -1, now that it ended (4 at a time, each bounded). */
async function replayAll(clientRuns) {
  const out = new Map();
  const queue = clientRuns.filter((r) => r.runId && r.stream);
  const workers = Array.from({ length: 4 }, async () => {
    for (let r = queue.shift(); r; r = queue.shift()) {
      out.set(
        r.runId,
        await followStream({
          gatewayUrls: topo.gatewayUrls,
          first: 0,
          threadId: r.threadId,
          runId: r.runId,
          deadlineMs: 10_000,
          maxConnects: 2,
          idleMs: 5_000,
        }),
      );
    }
  });
  await Promise.all(workers);
  return out;
}

/** Warnings and errors the services logged during the phase, counted by service and message. */
function logSummary(from, to) {
  const counts = new Map();
  for (const s of topo.all) {
    for (const line of s.allLogLines()) {
      if ((line.level ?? 0) < 40) continue;
      const at = Date.parse(line.time ?? "");
      if (!(at >= from && at <= to)) continue;
      const key = `${s.name}: ${line.msg}${line.err?.message ? ` (${String(line.err.message).slice(0, 120)})` : ""}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n}x ${k}`);
}

async function phase(name, fault, round) {
  const begun = Date.now();
  // A service that crashed in an earlier phase comes back first, as its supervisor would bring it.
  const restarted = [];
  for (const s of topo.all.filter((x) => !x.running)) {
    await sleep(2_000); // its supervisor may be bringing it back already
    if (s.running) continue;
    await s.start().catch((err) => say(`[${name}] could not restart ${s.name}: ${err.message}`));
    restarted.push(s.name);
  }
  if (restarted.length > 0) say(`[${name}] restarted crashed ${restarted.join(", ")}`);
  say(
    `[${name}] load: ${profile.clients} clients, ${profile.steps} steps of ${profile.stepMs} ms per run (every 3rd: ${profile.longStepMs} ms)`,
  );
  const load = startLoad({
    gatewayUrls: topo.gatewayUrls,
    clients: profile.clients,
    steps: profile.steps,
    stepMs: profile.stepMs,
    longStepMs: profile.longStepMs,
    durability: args.durability,
    maxRunsPerClient: 200,
    streamDeadlineMs: 120_000,
    dropChance: 0.3,
    random,
  });
  let injected = { note: "no fault", detail: {} };
  let harness;
  try {
    await sleep(profile.warmupMs);
    if (fault) {
      say(`[${name}] injecting ${fault}`);
      injected = await inject[fault](round, load);
      say(`[${name}] ${injected.note}`);
    }
    await sleep(profile.afterMs);
  } catch (err) {
    harness = err instanceof Error ? err.message : String(err);
    say(`[${name}] could not inject the fault: ${harness}`);
  }
  load.stopCreating();
  say(`[${name}] draining: ${load.openStreams()} stream(s) open`);
  const drained = await Promise.race([load.done.then(() => true), sleep(135_000).then(() => false)]);
  if (!drained) say(`[${name}] streams still open after 135 s; checking anyway`);
  const threadIds = [...new Set(load.runs.map((r) => r.threadId).filter(Boolean))];
  const open = await waitForFinal(threadIds, leaseMs * (maxAttempts + 1) * 2 + 20_000);
  if (open.length > 0) say(`[${name}] ${open.length} run(s) not final after the deadline`);
  const loaded = await loadRuns(query, threadIds, traceDir);
  const logs = await readRunLogs(loaded.map((l) => l.run.run_id));
  const replays = await replayAll(load.runs);
  const { counts, findings } = analysePhase({ loaded, clientRuns: load.runs, steps: profile.steps, logs, replays });
  for (const f of findings) f.evidence.logs = logMentions(topo.all, f.run_id);
  const ended = Date.now();
  const crashed = crashes.filter((c) => c.at >= begun && c.at <= ended);
  counts.crashes = crashed.length;
  for (const c of crashed) {
    findings.push({
      kind: "crash",
      run_id: "-",
      thread_id: "-",
      detail: `${c.name} exited on its own (${JSON.stringify(c.exit)})`,
      evidence: { log: c.tail.split("\n").slice(-15) },
    });
  }
  const result = {
    name,
    fault,
    note: injected.note,
    injected: injected.detail,
    harness,
    counts,
    createFailures: load.createFailures,
    findings,
    logs: logSummary(begun, ended),
    tookMs: ended - begun,
  };
  say(
    `[${name}] ${counts.runs} runs, ${counts.events} events, ${counts.lost} lost, ${counts.duplicated} duplicated, ` +
      `${counts.gaveUp} gave up, ${findings.length} finding(s) (${Math.round(result.tookMs / 1000)} s)`,
  );
  return result;
}

function notesOf(r) {
  const c = r.counts;
  const parts = [r.note];
  if (r.harness) parts.push(`HARNESS: ${r.harness}`);
  if (c.crashes) parts.push(`${c.crashes} process crash(es)`);
  if (c.resumed) parts.push(`${c.resumed} stream(s) resumed`);
  if (r.createFailures.length) parts.push(`${r.createFailures.length} create(s) refused`);
  if (c.unknownToClient) parts.push(`${c.unknownToClient} run(s) the client never got an id for`);
  if (c.disorder) parts.push(`${c.disorder} out of order`);
  if (c.protocol) parts.push(`${c.protocol} event(s) without id`);
  if (c.stale) parts.push(`${c.stale} stale checkpoint write(s)`);
  if (c.reexecutedSteps) parts.push(`${c.reexecutedSteps} step(s) executed twice`);
  if (c.zombieSteps) parts.push(`${c.zombieSteps} step(s) run by a superseded attempt`);
  if (c.spuriousErrors) parts.push(`${c.spuriousErrors} spurious \`error\` event(s)`);
  if (c.replayDiffers) parts.push(`${c.replayDiffers} replay(s) from -1 differ from the live stream`);
  if (c.repeatedMetadata) parts.push(`${c.repeatedMetadata} stream(s) with a 2nd metadata event`);
  const kinds = new Map();
  for (const f of r.findings) kinds.set(f.kind, (kinds.get(f.kind) ?? 0) + 1);
  if (kinds.size) parts.push(`findings: ${[...kinds.entries()].map(([k, n]) => `${k} ${n}`).join(", ")}`);
  return parts.join("; ").replace(/\|/g, "/");
}

function table(results) {
  const rows = [
    "| fault | runs | events | lost | duplicated | gave up | notes |",
    "|---|---:|---:|---:|---:|---:|---|",
    ...results.map((r) => {
      const c = r.counts;
      return `| ${r.name} | ${c.runs} | ${c.events} | ${c.lost} | ${c.duplicated} | ${c.gaveUp} | ${notesOf(r)} |`;
    }),
  ];
  return rows.join("\n");
}

function failed(r) {
  const c = r.counts;
  return c.lost + c.duplicated + c.disorder + c.protocol + c.stale + c.crashes > 0 || r.harness !== undefined || c.runs === 0;
}

async function main() {
  const started = Date.now();
  say(
    `chaos ${args.quick ? "quick" : "full"} run, seed ${seed}, lease ${leaseMs} ms, ${maxAttempts} attempts` +
      `${args.durability ? `, durability ${args.durability}` : ""}; logs and report in ${outDir}`,
  );
  topo = await startTopology({
    logDir,
    traceDir,
    counts: { api: 2, runtime: 2, worker: 3, gateway: 2 },
    leaseMs,
    pollMs: 200,
    maxAttempts,
    logLevel: "info",
    workerLogLevel: "debug",
    graceMs: 5_000,
  });
  pool = new pg.Pool({ connectionString: topo.databaseUrl, max: 2, connectionTimeoutMillis: 5_000 });
  pool.on("error", () => {}); // Postgres restarts on purpose; queries retry
  say(`topology up in ${Math.round((Date.now() - started) / 1000)} s: ${topo.all.map((s) => `${s.name}(${s.pid})`).join(" ")}`);

  const results = [];
  try {
    if (!args["no-baseline"]) results.push(await phase("baseline", undefined, 0));
    for (let round = 0; round < profile.rounds; round++) {
      for (const fault of faults) {
        const name = profile.rounds > 1 ? `${fault} #${round + 1}` : fault;
        results.push(await phase(name, fault, round));
        await sleep(1_000);
      }
    }
  } finally {
    await pool.end().catch(() => {});
    say("stopping the topology");
    await topo.stop();
  }

  const report = {
    seed,
    profile,
    leaseMs,
    maxAttempts,
    durability: args.durability,
    faults,
    results,
    tookMs: Date.now() - started,
  };
  writeFileSync(join(outDir, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
  const md = table(results);
  writeFileSync(join(outDir, "table.md"), `${md}\n`);
  process.stdout.write(`\n${md}\n`);
  const bad = results.filter(failed);
  for (const r of results) {
    if (r.findings.length === 0 && !r.harness) continue;
    process.stdout.write(`\n## ${r.name}: ${r.findings.length} finding(s)\n`);
    const shown = new Map();
    const described = new Set();
    const baseKeys = new Set(["db", "timeline", "executions", "completions", "checkpoints", "logs"]);
    for (const f of r.findings) {
      const n = shown.get(f.kind) ?? 0;
      shown.set(f.kind, n + 1);
      if (n >= 2) continue; // two examples per kind here; all of them are in report.json
      process.stdout.write(`- ${f.kind} run ${f.run_id} thread ${f.thread_id}: ${f.detail}\n`);
      // What is known about the run is printed with its first finding only.
      const first = !described.has(f.run_id);
      described.add(f.run_id);
      for (const [key, value] of Object.entries(f.evidence)) {
        if (!first && baseKeys.has(key)) continue;
        const lines = Array.isArray(value) ? value : [typeof value === "string" ? value : JSON.stringify(value)];
        if (lines.length === 0) continue;
        process.stdout.write(`    ${key}:\n${lines.map((l) => `      ${l}`).join("\n")}\n`);
      }
    }
    for (const [kind, n] of shown) if (n > 2) process.stdout.write(`  (${n - 2} more ${kind} in report.json)\n`);
    if (r.logs.length)
      process.stdout.write(
        `  warnings and errors logged in the phase:\n${r.logs
          .slice(0, 12)
          .map((l) => `    ${l}`)
          .join("\n")}\n`,
      );
  }
  process.stdout.write(
    `\n${bad.length === 0 ? "All checks held" : `Checks failed in: ${bad.map((r) => r.name).join(", ")}`} ` +
      `(${Math.round((Date.now() - started) / 1000)} s). Report: ${join(outDir, "report.json")}\n`,
  );
  return bad.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    clearTimeout(watchdog);
    process.exit(code);
  },
  (err) => {
    process.stderr.write(`chaos: the suite could not run: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
