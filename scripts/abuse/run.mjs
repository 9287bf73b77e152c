#!/usr/bin/env node
// LangOpen abuse suite: starts the server as `npm start` does (one launcher, embedded Postgres),
// then in split mode (a process per service, real Postgres and Redis), and replays against each
// the attacks of the "no sequence of requests can crash it or starve others" issue while it
// measures `/ok` latency, the memory of the whole process tree and Redis. Prints a table per mode
// and a verdict per attack. See scripts/abuse/README.md.
//
//   npm run abuse                      # the full run, at the issue's sizes
//   npm run abuse -- --quick           # the short run, for CI
//   npm run abuse -- --modes embedded --attacks big-stream,cpu-bound
//
// Loopback only. Every loop is bounded in count and time, and a watchdog ends the whole suite.
// Exit status: 0 every bar held, 1 a bar failed, 2 the suite itself could not run.
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { cmdline, killAllSync } from "../bench/lib/procs.mjs";
import { startTarget } from "../bench/lib/targets.mjs";
import { ATTACKS, newStats, PROFILES } from "./attacks.mjs";
import { startMonitor } from "./monitor.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const CONFIG = path.join(ROOT, "scripts/abuse/project/langgraph.json");
const MODES = { embedded: "langopen-embedded", split: "langopen-split" };

/** Runtime-runner processes of the split target: one CPU-bound run then holds up only those sharing its process. */
const SPLIT_RUNTIMES = 2;

/** The issue's bars. */
const BARS = { pssMb: 1_536, okP99Ms: 250, echoDelayMs: 1_000 };

const USAGE = `Usage: npm run abuse -- [options]
  --quick            a short run for CI (small sizes; latency and memory bars printed, not enforced)
  --modes LIST       comma-separated, from ${Object.keys(MODES).join(",")} (default: both)
  --attacks LIST     comma-separated, from ${Object.keys(ATTACKS).join(",")} (default: all)
  --log-level LEVEL  LOG_LEVEL of the servers (default warn)
  --verbose          also list each request of the deep-json attack with its answer
  --out DIR          logs and results.json (default: a new temporary folder)
  --cpu-prof DIR     CPU profiles of LangOpen's Node processes into DIR (written as each stops)`;

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    modes: { type: "string" },
    attacks: { type: "string" },
    "log-level": { type: "string", default: "warn" },
    verbose: { type: "boolean", short: "v", default: false },
    out: { type: "string" },
    "cpu-prof": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

function list(text, known, what) {
  const items = (text ?? known.join(","))
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items)
    if (!known.includes(item)) fail(`unknown ${what} ${JSON.stringify(item)}; known: ${known.join(", ")}`);
  return items;
}

function fail(message) {
  process.stderr.write(`abuse: ${message}\n`);
  process.exit(2);
}

const quick = args.quick;
const profile = PROFILES[quick ? "quick" : "full"];
const modes = list(args.modes, Object.keys(MODES), "mode");
const attacks = list(args.attacks, Object.keys(ATTACKS), "attack");
const say = (text) => process.stdout.write(`${new Date().toISOString().slice(11, 23)} ${text}\n`);

const watchdog = setTimeout(() => {
  say(`watchdog: the suite took longer than ${profile.watchdogMs / 1000} s; stopping everything`);
  process.exit(2);
}, profile.watchdogMs);
watchdog.unref();
process.once("exit", killAllSync);
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, () => {
    say(`${sig}: stopping`);
    process.exit(130);
  });
}

/** The Redis port of a split target, from the redis-server in its tree. */
function redisPortOf(target) {
  for (const pid of target.roots()) {
    const cmd = cmdline(pid);
    if (!cmd.includes("redis-server")) continue;
    const port = cmd.match(/:(\d+)/)?.[1] ?? cmd.match(/--port\s+(\d+)/)?.[1];
    if (port) return Number(port);
  }
  return undefined;
}

/**
 * What the servers' logs say: lines of a crash or near-crash, and the most frequent messages of
 * error level (pino levels 50 and 60), so that a failure in the table comes with its cause.
 */
function scanLogs(logDir) {
  const pattern = /heap out of memory|FATAL ERROR|uncaughtException|unhandledRejection|Maximum call stack|deadlock detected/i;
  const fatal = [];
  const errors = {};
  for (const file of readdirSync(logDir)) {
    let text = "";
    try {
      text = readFileSync(path.join(logDir, file), "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n")) {
      if (pattern.test(line)) fatal.push(`${file}: ${line.slice(0, 300)}`);
      if (!/"level":(50|60)/.test(line)) continue;
      let key = line.slice(0, 120);
      try {
        const entry = JSON.parse(line);
        key = `${entry.service ?? "?"}: ${entry.msg ?? ""}${entry.err?.message ? ` (${String(entry.err.message).slice(0, 120)})` : ""}`;
      } catch {
        // not JSON: keep the raw start
      }
      errors[key] = (errors[key] ?? 0) + 1;
    }
  }
  return { fatal, errors };
}

const fmt = (n, digits = 0) => (n === undefined || Number.isNaN(n) ? "-" : n.toFixed(digits));
const byStatus = (map) =>
  Object.entries(map)
    .sort(([a], [b]) => String(a).localeCompare(String(b)))
    .map(([k, v]) => `${k}:${v}`)
    .join(" ") || "-";

/**
 * The verdict of one attack: `fatal` failures (a process died, a 5xx, no answer, a failed check)
 * fail every run; `bars` (latency, memory, echo delay) fail the full run only.
 */
function verdictOf(row) {
  const fatal = [];
  const bars = [];
  const fiveXx = Object.entries(row.stats.statuses).filter(([s]) => Number(s) >= 500);
  if (fiveXx.length) fatal.push(`5xx answers (${byStatus(Object.fromEntries(fiveXx))})`);
  const unanswered = Object.values(row.stats.errors).reduce((a, b) => a + b, 0);
  if (unanswered) fatal.push(`${unanswered} request(s) without an answer (${byStatus(row.stats.errors)})`);
  if (row.window.exits.length) fatal.push(`process exit: ${row.window.exits.map((e) => `${e.role} (pid ${e.pid})`).join(", ")}`);
  if (row.crashed) fatal.push(`the attack itself failed: ${row.crashed}`);
  for (const c of row.stats.checks) if (!c.ok) fatal.push(c.text);
  if (row.window.peakPssMb >= BARS.pssMb) bars.push(`peak PSS ${fmt(row.window.peakPssMb)} MB >= ${BARS.pssMb} MB`);
  if (row.window.okP99 === undefined || row.window.okP99 >= BARS.okP99Ms)
    bars.push(`/ok p99 ${fmt(row.window.okP99)} ms >= ${BARS.okP99Ms} ms`);
  if (row.window.okErrors) bars.push(`${row.window.okErrors} /ok probe(s) failed`);
  const delay = row.stats.figures.echoDelayMs;
  if (delay !== undefined && delay >= BARS.echoDelayMs) bars.push(`echo delay ${fmt(delay)} ms >= ${BARS.echoDelayMs} ms`);
  if (row.name === "cpu-bound" && delay === undefined) bars.push("no echo run answered while the busy run ran");
  return { fatal, bars };
}

function printTable(mode, rows) {
  const lines = [
    `### ${mode}${quick ? " (--quick)" : ""}`,
    "",
    "| attack | requests | answers by status | errors | /ok p50 / p99 (ms) | peak tree PSS (MB) | peak Redis used (MB) | echo run max (ms) |",
    "|---|---:|---|---|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    const errors = [
      ...Object.entries(r.stats.errors).map(([k, v]) => `${k}:${v}`),
      ...r.window.exits.map((e) => `exit ${e.role}`),
      ...(r.crashed ? ["attack failed"] : []),
    ];
    lines.push(
      `| ${r.name} | ${r.stats.requests} | ${byStatus(r.stats.statuses)} | ${errors.join(", ") || "-"} | ${fmt(r.window.okP50)} / ${fmt(
        r.window.okP99,
      )} | ${fmt(r.window.peakPssMb)} | ${fmt(r.window.peakRedisMb, 1)} | ${fmt(r.stats.figures.echoMaxMs)} |`,
    );
  }
  lines.push("", "Verdicts:");
  for (const r of rows) {
    const { fatal, bars } = r.verdict;
    const failed = fatal.length > 0 || (!quick && bars.length > 0);
    const notes = [...fatal, ...bars.map((b) => (quick ? `${b} (not enforced in --quick)` : b))];
    const figures = Object.entries(r.stats.figures)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === "number" ? fmt(v, v < 10 ? 1 : 0) : v}`)
      .join(" ");
    lines.push(
      `- ${r.name}: ${failed ? "FAIL" : "ok"}${notes.length ? ` - ${notes.join("; ")}` : ""}${figures ? ` [${figures}]` : ""}`,
    );
    for (const c of r.stats.checks) lines.push(`    ${c.ok ? "✓" : "✗"} ${c.text}`);
    if (args.verbose) for (const n of r.stats.notes ?? []) lines.push(`    · ${n}`);
  }
  process.stdout.write(`\n${lines.join("\n")}\n\n`);
}

async function runMode(mode, outDir) {
  const logDir = path.join(outDir, mode);
  await mkdir(logDir, { recursive: true });
  say(`${mode}: starting the server`);
  const target = await startTarget(MODES[mode], {
    root: ROOT,
    config: CONFIG,
    logDir,
    logLevel: args["log-level"],
    startTimeoutMs: 120_000,
    cpuProfDir: args["cpu-prof"] ? path.resolve(args["cpu-prof"], mode) : undefined,
    // Deployed as an operator would for fair execution: more than one runtime process, the worker
    // placing each run on the least busy (embedded mode has its own pool of them).
    runtimes: mode === "split" ? SPLIT_RUNTIMES : undefined,
  });
  const redisPort = mode === "split" ? redisPortOf(target) : undefined;
  const monitor = startMonitor({ url: target.url, roots: () => target.roots(), redisPort });
  const rows = [];
  const ctx = { url: target.url, runTag: Math.random().toString(36).slice(2, 8), attackTimeoutMs: profile.attackTimeoutMs };
  try {
    // A second of quiet first: the idle figures to read the attacks against.
    monitor.begin("idle");
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const idle = monitor.end();
    say(`${mode}: idle /ok p99 ${fmt(idle.okP99)} ms, tree PSS ${fmt(idle.peakPssMb)} MB`);
    for (const name of attacks) {
      const dead = target.procs.find((p) => p.exitInfo);
      if (dead) {
        say(`${mode}: ${dead.name} is gone (${JSON.stringify(dead.exitInfo)}); the remaining attacks are skipped`);
        break;
      }
      const attack = ATTACKS[name];
      say(`${mode}: ${name}: ${attack.describe(profile)}`);
      const stats = newStats();
      monitor.begin(name);
      let crashed;
      const progress = setInterval(
        () => say(`${mode}: ${name}: ${stats.requests} requests so far, ${byStatus(stats.statuses)} ${byStatus(stats.errors)}`),
        30_000,
      );
      try {
        await attack.run(ctx, stats, profile);
      } catch (err) {
        crashed = err.message.slice(0, 500);
      } finally {
        clearInterval(progress);
      }
      // The tail of the attack's effect (memory freed, queues drained) still belongs to it.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const window = monitor.end();
      const row = { name, stats, window, crashed };
      row.verdict = verdictOf(row);
      rows.push(row);
      say(
        `${mode}: ${name}: ${stats.requests} requests, ${byStatus(stats.statuses)}, /ok p99 ${fmt(window.okP99)} ms, peak PSS ${fmt(window.peakPssMb)} MB`,
      );
    }
  } finally {
    await monitor.stop();
    say(`${mode}: stopping the server`);
    await target.stop().catch((err) => say(`${mode}: stop failed: ${err.message}`));
  }
  return { mode, rows, overall: monitor.overall, exits: monitor.exits, logs: scanLogs(logDir) };
}

async function main() {
  const outDir = args.out ?? (await mkdtemp(path.join(os.tmpdir(), "langopen-abuse-")));
  await mkdir(outDir, { recursive: true });
  say(`abuse suite (${quick ? "quick" : "full"}): modes ${modes.join(", ")}; logs in ${outDir}`);
  let failed = false;
  const results = [];
  for (const mode of modes) {
    let result;
    try {
      result = await runMode(mode, outDir);
    } catch (err) {
      say(`${mode}: could not run: ${err.message}`);
      failed = true;
      continue;
    }
    results.push(result);
    printTable(mode, result.rows);
    for (const r of result.rows) if (r.verdict.fatal.length || (!quick && r.verdict.bars.length)) failed = true;
    const between = result.exits.filter((e) => e.during === "(between attacks)");
    if (between.length) {
      failed = true;
      say(`${mode}: process exit between attacks: ${between.map((e) => e.role).join(", ")}`);
    }
    const peakByRole = Object.entries(result.overall.peakByRole)
      .filter(([, kb]) => kb > 0)
      .sort(([, a], [, b]) => b - a)
      .map(([role, kb]) => `${role} ${fmt(kb / 1024)}`)
      .join(", ");
    say(
      `${mode}: whole run: peak tree PSS ${fmt(result.overall.peakPssKb / 1024)} MB (by role, each its own peak: ${peakByRole})`,
    );
    if (result.overall.peakRedisBytes)
      say(`${mode}: peak Redis used_memory ${fmt(result.overall.peakRedisBytes / 1024 / 1024, 1)} MB`);
    if (result.logs.fatal.length) {
      say(`${mode}: the servers logged ${result.logs.fatal.length} line(s) of a crash or near-crash; the first ones:`);
      for (const line of result.logs.fatal.slice(0, 5)) process.stdout.write(`    ${line}\n`);
    }
    const errorLines = Object.entries(result.logs.errors).sort(([, a], [, b]) => b - a);
    if (errorLines.length) {
      say(`${mode}: error-level log lines, most frequent first:`);
      for (const [msg, n] of errorLines.slice(0, 6)) process.stdout.write(`    ${n} x ${msg}\n`);
    }
  }
  await writeFile(
    path.join(outDir, "results.json"),
    JSON.stringify(
      { quick, profile, bars: BARS, results: results.map((r) => ({ ...r, rows: r.rows.map((row) => ({ ...row })) })) },
      null,
      2,
    ),
  );
  say(`abuse suite: ${failed ? "FAILED" : "passed"}${quick ? " (latency and memory bars not enforced in --quick)" : ""}`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((err) => {
  say(`abuse suite could not run: ${err.stack ?? err.message}`);
  process.exitCode = 2;
});
