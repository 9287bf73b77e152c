#!/usr/bin/env node
// LangOpen benchmark: starts LangOpen (embedded and split mode) and the reference server side by side on
// the same graphs, runs the same scenarios against each, alternating per round, and prints the medians of
// the rounds with the ratio LangOpen / reference, the memory of every process, and the machine's floor.
// Loopback only; every loop is bounded in count and time. See scripts/bench/README.md.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { fastifyFloor, langgraphFloor, postgresFloor } from "./lib/floor.mjs";
import { runPhases } from "./lib/phases.mjs";
import { cpuSpent, cpuTicksOf, killAllSync, memoryOf, sleep } from "./lib/procs.mjs";
import { printReport } from "./lib/report.mjs";
import { METRICS, RUNNERS, SCENARIOS, warmUp } from "./lib/scenarios.mjs";
import { makeDurable, startTarget, TARGETS } from "./lib/targets.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const CONFIG = path.join(ROOT, "scripts/bench/graphs/langgraph.json");

const USAGE = `Usage: npm run bench -- [options]
  --rounds N           rounds per scenario and target (default 3; --quick: 1)
  --quick              a short run (about 2 minutes): 1 round, 2 s per load, 200 background runs over 20 threads
  --targets LIST       comma-separated, from ${TARGETS.join(",")} (default: all)
  --scenarios LIST     comma-separated, from ${SCENARIOS.join(",")} (default: all)
  --duration S         seconds of each HTTP load (default 4; --quick: 2)
  --settle S           seconds of the settle pause before the last memory reading (default 10)
  --no-floor           skip the machine floor (fastify, Postgres commit rate)
  --no-build           do not run \`npm run build\` first
  --pg-fast            split mode's Postgres without fsync/synchronous commit (default: durable)
  --log-level LEVEL    LOG_LEVEL of every server (default warn)
  --cpu-prof DIR       run LangOpen's Node processes under --cpu-prof, profiles into DIR (then see profile.mjs)
  --out FILE           results JSON (default scripts/bench/results/latest.json)`;

function options() {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string" },
      quick: { type: "boolean", default: false },
      targets: { type: "string" },
      scenarios: { type: "string" },
      duration: { type: "string" },
      settle: { type: "string" },
      "no-floor": { type: "boolean", default: false },
      "no-build": { type: "boolean", default: false },
      "pg-fast": { type: "boolean", default: false },
      "log-level": { type: "string", default: "warn" },
      "cpu-prof": { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const quick = values.quick;
  const list = (text, known, what) => {
    const items = (text ?? known.join(","))
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    const unknown = items.filter((s) => !known.includes(s));
    if (unknown.length > 0 || items.length === 0) throw new Error(`unknown ${what}: ${unknown.join(", ")}\n${USAGE}`);
    return items;
  };
  const number = (text, fallback, min, max, what) => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${what} must be a number from ${min} to ${max}`);
    return n;
  };
  const rounds = number(values.rounds, quick ? 1 : 3, 1, 20, "rounds");
  const durationS = number(values.duration, quick ? 2 : 4, 1, 60, "duration");
  return {
    quick,
    rounds,
    targets: list(values.targets, TARGETS, "target"),
    scenarios: list(values.scenarios, SCENARIOS, "scenario"),
    durationS,
    settleS: number(values.settle, 10, 0, 120, "settle"),
    floor: !values["no-floor"],
    build: !values["no-build"],
    pgDurable: !values["pg-fast"],
    logLevel: values["log-level"],
    cpuProfDir: values["cpu-prof"] ? path.resolve(values["cpu-prof"]) : undefined,
    out: path.resolve(values.out ?? path.join(ROOT, "scripts/bench/results/latest.json")),
    streamRuns: quick ? 10 : 20,
    streamMaxS: quick ? 10 : 20,
    // --quick keeps 10 runs per thread but on fewer threads, to stay within about 3 minutes.
    bgRuns: quick ? 200 : 500,
    bgThreads: quick ? 20 : 50,
    bgMaxS: quick ? 30 : 90,
    floorS: quick ? 3 : 5,
    startTimeoutMs: 120_000,
    // The whole run stops (and cleans up) at this bound, whatever happens.
    timeLimitS: Math.round((quick ? 240 : 900) + rounds * 60 * (durationS / 4)),
  };
}

const median = (values) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function source() {
  const git = (...args) =>
    promisify(execFile)("git", args, { cwd: ROOT }).then(
      (r) => r.stdout.trim(),
      () => "",
    );
  const changed = (await git("status", "--porcelain", "--", ".", ":(exclude)scripts/bench")).split("\n").filter(Boolean);
  return { commit: await git("rev-parse", "--short", "HEAD"), uncommittedFiles: changed.length };
}

function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? "?",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    loadAverageAtStart: os.loadavg().map((n) => Number(n.toFixed(2))),
  };
}

const log = (...args) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${args.join(" ")}\n`);

async function main() {
  const opts = options();
  const began = Date.now();
  const machineInfo = machine();
  const sourceInfo = await source();
  const started = [];
  const failedToStart = {};
  let cleaning;
  const cleanup = () => {
    cleaning ??= (async () => {
      for (const target of [...started].reverse()) {
        await target.stop().catch((err) => log(`stopping ${target.name} failed: ${err.message}`));
      }
    })();
    return cleaning;
  };
  process.once("exit", killAllSync);
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, () => {
      log(`${signal}: stopping every server`);
      cleanup().finally(() => process.exit(130));
    });
  }
  const watchdog = setTimeout(() => {
    log(`time limit of ${opts.timeLimitS} s reached: stopping every server`);
    cleanup().finally(() => process.exit(3));
  }, opts.timeLimitS * 1000);
  watchdog.unref();

  try {
    if (opts.build) {
      log("npm run build");
      await promisify(execFile)("npm", ["run", "build", "--silent"], { cwd: ROOT, timeout: 300_000 }).catch((err) => {
        log(`WARNING: the build failed, measuring the dist/ that is there: ${String(err.stderr || err.message).slice(0, 500)}`);
      });
    }
    const logDir = await mkdtemp(path.join(os.tmpdir(), "langopen-bench-logs-"));
    if (opts.cpuProfDir) await mkdir(opts.cpuProfDir, { recursive: true });
    log(`logs of every server in ${logDir}`);
    const targetOptions = {
      root: ROOT,
      config: CONFIG,
      logDir,
      logLevel: opts.logLevel,
      cpuProfDir: opts.cpuProfDir,
      pgDurable: opts.pgDurable,
      startTimeoutMs: opts.startTimeoutMs,
    };
    for (const name of opts.targets) {
      const t0 = Date.now();
      try {
        const target = await startTarget(name, targetOptions);
        started.push(target);
        log(`${name} ready at ${target.url} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      } catch (err) {
        failedToStart[name] = err.message;
        log(`${name} did not start: ${err.message}`);
      }
    }
    if (started.length === 0) throw new Error("no target started");

    const results = Object.fromEntries(
      started.map((t) => [t.name, { url: t.url, rounds: [], memory: { afterLoad: [] }, cpu: {}, problems: [] }]),
    );
    await sleep(3_000);
    for (const t of started) results[t.name].memory.idle = memoryOf(t.roots());

    for (const t of started) {
      log(`warming up ${t.name}`);
      await warmUp(t, opts.scenarios).catch((err) => results[t.name].problems.push(`warm-up: ${err.message}`));
    }

    const windows = [];
    const cfg = {
      durationS: opts.durationS,
      streamRuns: opts.streamRuns,
      streamMaxS: opts.streamMaxS,
      bgRuns: opts.bgRuns,
      bgThreads: opts.bgThreads,
      bgMaxS: opts.bgMaxS,
    };
    for (let round = 0; round < opts.rounds; round++) {
      // Rotate the order each round, so that no target always goes first (or right after another).
      const order = started.map((_t, i) => started[(i + round) % started.length]);
      for (const r of Object.values(results)) r.rounds.push({ metrics: {}, cpu: {} });
      for (const scenario of opts.scenarios) {
        for (const t of order) {
          const entry = results[t.name];
          const before = cpuTicksOf(t.roots());
          const startUs = Number(process.hrtime.bigint() / 1000n);
          const startMs = Date.now();
          let outcome;
          try {
            outcome = await RUNNERS[scenario](t, cfg);
          } catch (err) {
            outcome = { metrics: {}, ops: 0, problems: [`${scenario}: ${err.message}`] };
          }
          const endUs = Number(process.hrtime.bigint() / 1000n);
          const cpu = cpuSpent(before, cpuTicksOf(t.roots()));
          windows.push({ target: t.name, round, scenario, startUs, endUs, startMs, endMs: Date.now() });
          const cpuTotal = Object.values(cpu).reduce((a, b) => a + b, 0);
          const roundEntry = entry.rounds[round];
          Object.assign(roundEntry.metrics, outcome.metrics);
          roundEntry.cpu[scenario] = {
            seconds: cpuTotal,
            byRole: cpu,
            ops: outcome.ops,
            msPerOp: (cpuTotal * 1000) / outcome.ops,
          };
          for (const p of outcome.problems) entry.problems.push(`round ${round + 1}: ${p}`);
          const shown = Object.entries(outcome.metrics)
            .map(([k, v]) => `${k}=${Number.isFinite(v) ? v.toFixed(1) : v}`)
            .join(" ");
          log(
            `round ${round + 1}/${opts.rounds} ${scenario} ${t.name}: ${shown}${outcome.problems.length ? ` (${outcome.problems.length} problems)` : ""}`,
          );
          await sleep(500);
        }
      }
      for (const t of started) results[t.name].memory.afterLoad.push(memoryOf(t.roots()));
    }
    if (opts.settleS > 0) {
      log(`settling for ${opts.settleS} s`);
      await sleep(opts.settleS * 1000);
    }
    for (const t of started) results[t.name].memory.settled = memoryOf(t.roots());

    for (const [name, r] of Object.entries(results)) {
      r.medians = {};
      for (const m of METRICS) r.medians[m.key] = median(r.rounds.map((round) => round.metrics[m.key]));
      for (const scenario of opts.scenarios) {
        r.cpu[scenario] = median(r.rounds.map((round) => round.cpu[scenario]?.msPerOp));
      }
      results[name] = r;
    }

    for (const t of started) {
      if (!t.databaseUrl) continue;
      const mine = windows.filter((w) => w.target === t.name);
      results[t.name].phases = await runPhases(t.databaseUrl(), mine).catch((err) => ({ error: err.message }));
    }

    let floor;
    if (opts.floor) {
      log("measuring the machine floor");
      floor = { postgres: {} };
      floor.fastify = await fastifyFloor({ root: ROOT, logDir, durationS: opts.durationS }).catch((err) => ({
        error: err.message,
      }));
      floor.langgraph = await langgraphFloor({ root: ROOT, durationS: opts.floorS }).catch((err) => ({ error: err.message }));
      const split = started.find((t) => t.name === "langopen-split");
      const embedded = started.find((t) => t.name === "langopen-embedded");
      if (split) {
        floor.postgres.split = await postgresFloor(split.postgresUrl(), { durationS: opts.floorS }).catch((err) => ({
          error: err.message,
        }));
        floor.postgres.split.source = split.postgresSource;
      } else {
        const { startPostgres } = await import("@langopen/testkit");
        const server = await startPostgres();
        try {
          if (opts.pgDurable) await makeDurable(server.url);
          floor.postgres.throwaway = await postgresFloor(server.url, { durationS: opts.floorS }).catch((err) => ({
            error: err.message,
          }));
        } finally {
          await server.stop();
        }
      }
      const embeddedUrl = embedded?.postgresUrl();
      if (embeddedUrl) {
        floor.postgres.embedded = await postgresFloor(embeddedUrl, { durationS: opts.floorS }).catch((err) => ({
          error: err.message,
        }));
      }
    }

    await cleanup();
    const report = {
      date: new Date().toISOString(),
      machine: machineInfo,
      source: sourceInfo,
      options: { ...opts, out: undefined, cpuProfDir: opts.cpuProfDir ? "(set)" : undefined },
      targets: results,
      failedToStart,
      floor,
      windows,
      durationS: Math.round((Date.now() - began) / 1000),
    };
    report.machine.loadAverageAtEnd = os.loadavg().map((n) => Number(n.toFixed(2)));
    await mkdir(path.dirname(opts.out), { recursive: true });
    await writeFile(opts.out, `${JSON.stringify(report, null, 2)}\n`);
    if (opts.cpuProfDir) await writeFile(path.join(opts.cpuProfDir, "windows.json"), `${JSON.stringify(windows, null, 2)}\n`);
    printReport(report);
    const clean = Object.keys(failedToStart).length === 0 && Object.values(results).every((r) => r.problems.length === 0);
    if (clean) {
      // Nothing to look into: the servers' logs go. After a problem they stay, at the path printed at the start.
      await rm(logDir, { recursive: true, force: true });
    } else log(`the servers' logs are kept in ${logDir}`);
    log(`results in ${path.relative(process.cwd(), opts.out) || opts.out}; total ${report.durationS} s`);
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`failed: ${err.stack ?? err}`);
    process.exit(1);
  },
);
