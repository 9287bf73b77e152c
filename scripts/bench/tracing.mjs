#!/usr/bin/env node
// What tracing costs: three `npm start` processes (embedded Postgres, the same project: a three-node graph), one
// without OTEL_*, one exporting every span (OTEL_TRACES_SAMPLER=always_on) and one a tenth of the traces
// (parentbased_traceidratio 0.1), and with --always-off one with a sampler that keeps nothing, with OTLP/HTTP to a
// receiver this script runs and that drops what it gets; the same loads against each, rounds rotating the order.
// Prints medians (min-max) of stateless runs/wait per second under 8 clients with their p50 and the CPU per run of
// the whole process tree (from /proc), of one client's runs/wait p50, and each mode's ratios to off measured side by side
// with it (both loaded at once).
// Tracing is process-wide, hence a process per mode. Loopback only; every loop is bounded. See README.md here.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { cpuSpent, cpuTicksOf } from "./lib/procs.mjs";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "5" },
    waits: { type: "string", default: "40" },
    warmup: { type: "string", default: "30" },
    "always-off": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  process.stdout.write(
    "Usage: node scripts/bench/tracing.mjs [--rounds 3] [--duration 5] [--waits 40] [--warmup 30] [--always-off]\n",
  );
  process.exit(0);
}
const ROUNDS = Math.min(20, Number(args.rounds));
const DURATION_S = Math.min(60, Number(args.duration));
const WAITS = Math.min(500, Number(args.waits));
const WARMUP_S = Math.max(1, Math.min(120, Number(args.warmup)));
const TURN_WARMUP_S = 3;
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PROJECT = path.join(ROOT, "services/launcher/src/test-fixtures/tracing/langgraph.json");
const BODY = JSON.stringify({ assistant_id: "three_steps", input: {} });

// The collector: counts what it is sent, keeps nothing.
let exported = 0;
const receiver = http.createServer((req, res) => {
  req.on("data", (chunk) => {
    exported += chunk.length;
  });
  req.on("end", () => res.writeHead(200, { "content-type": "application/x-protobuf" }).end());
});
await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const collector = `http://127.0.0.1:${receiver.address().port}`;

const work = mkdtempSync(path.join(tmpdir(), "langopen-tracing-bench-"));
const modes = [
  { name: "tracing off", env: {} },
  { name: "tracing on (100 %)", env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector, OTEL_TRACES_SAMPLER: "always_on" } },
  // What switching tracing on costs before any span is kept: the SDK, its context manager and
  // instrumentations, with a sampler that drops every trace.
  ...(args["always-off"]
    ? [{ name: "tracing on, sampler off", env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector, OTEL_TRACES_SAMPLER: "always_off" } }]
    : []),
  {
    name: "tracing on (10 %)",
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector,
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.1",
    },
  },
];

async function start(mode, port, dataDir) {
  const env = { ...process.env, PORT: String(port), LANGOPEN_CONFIG: PROJECT, LANGOPEN_DATA_DIR: dataDir, LOG_LEVEL: "fatal" };
  for (const name of Object.keys(env)) if (name.startsWith("OTEL_")) delete env[name];
  const child = spawn(process.execPath, [path.join(ROOT, "services/launcher/dist/main.js")], {
    env: { ...env, ...mode.env },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 240; i++) {
    if (child.exitCode !== null) throw new Error(`${mode.name}: LangOpen exited while starting`);
    if (
      await fetch(`${url}/ok`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { child, url };
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${mode.name}: LangOpen did not start within 120 s`);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** A load of `connections` clients, with the CPU of the whole process tree (LangOpen, its runtimes, Postgres) per completed run. */
async function load(url, pid, connections = 8) {
  const before = cpuTicksOf([pid]);
  const result = await load8(url, DURATION_S, connections);
  const byRole = cpuSpent(before, cpuTicksOf([pid]));
  const perRun = (seconds) => (seconds * 1000) / Math.max(1, result.runs);
  // By process, without the role's explanation in parentheses.
  const rolesMs = Object.fromEntries(
    Object.entries(byRole).map(([role, seconds]) => [role.replace(/ \(.*\)$/, ""), perRun(seconds)]),
  );
  const roles = Object.entries(rolesMs)
    .filter(([, ms]) => ms >= 0.05)
    .map(([role, ms]) => `${role} ${ms.toFixed(1)}`)
    .join(", ");
  return { ...result, cpuMs: perRun(Object.values(byRole).reduce((a, b) => a + b, 0)), roles, rolesMs };
}

function load8(url, seconds, connections = 8) {
  return new Promise((resolve, reject) => {
    const latencies = [];
    let failed = 0;
    const instance = autocannon(
      {
        url: `${url}/runs/wait`,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: BODY,
        connections,
        duration: seconds,
      },
      (err, result) =>
        err
          ? reject(err)
          : resolve({ rps: latencies.length / result.duration, p50: median(latencies), failed, runs: latencies.length }),
    );
    instance.on("response", (_c, status, _b, ms) => (status === 200 ? latencies.push(ms) : failed++));
  });
}

async function serialWaits(url) {
  const times = [];
  for (let i = 0; i < WAITS; i++) {
    const t0 = performance.now();
    const res = await fetch(`${url}/runs/wait`, { method: "POST", headers: { "content-type": "application/json" }, body: BODY });
    if (!res.ok) throw new Error(`runs/wait answered ${res.status}`);
    await res.arrayBuffer();
    times.push(performance.now() - t0);
  }
  return median(times);
}

try {
  for (const [i, mode] of modes.entries()) {
    Object.assign(mode, await start(mode, 8190 + i, path.join(work, `data-${i}`)), { loads: [], waits: [], pairs: [] });
    // Warm-up, untimed: a fresh server spends more CPU per run until V8 has compiled its hot code in
    // tiers (with only a few serial runs first, each mode's throughput rose round after round, by up
    // to half, which the rotation of the order could not cancel).
    await load8(mode.url, WARMUP_S);
    await serialWaits(mode.url);
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of [...modes.slice(round % modes.length), ...modes.slice(0, round % modes.length)]) {
      // Untimed: a mode idle while the others were measured starts its turn slower.
      await load8(mode.url, TURN_WARMUP_S);
      const result = await load(mode.url, mode.child.pid);
      if (result.failed > 0) throw new Error(`${mode.name}: ${result.failed} runs/wait failed`);
      mode.loads.push(result);
      mode.waits.push(await serialWaits(mode.url));
      process.stderr.write(
        `round ${round + 1} ${mode.name}: ${result.rps.toFixed(1)} runs/s, p50 ${result.p50.toFixed(1)} ms, CPU ${result.cpuMs.toFixed(1)} ms/run (${result.roles}), one client p50 ${mode.waits.at(-1).toFixed(1)} ms\n`,
      );
    }
    // Each mode beside off at the same time, 4 clients each: both meet the same machine, so the
    // ratio of what they do is free of the drift between turns (which, measured in turns, moved
    // the ratios by 10-20 % from one run of this script to the next).
    const [off] = modes;
    for (const mode of modes.slice(1)) {
      await Promise.all([load8(off.url, TURN_WARMUP_S, 4), load8(mode.url, TURN_WARMUP_S, 4)]);
      const [base, traced] = await Promise.all([load(off.url, off.child.pid, 4), load(mode.url, mode.child.pid, 4)]);
      if (base.failed + traced.failed > 0) throw new Error(`${mode.name} beside off: runs/wait failed`);
      const extraMs = Object.fromEntries(
        Object.keys(traced.rolesMs).map((role) => [role, traced.rolesMs[role] - (base.rolesMs[role] ?? 0)]),
      );
      mode.pairs.push({ rps: traced.runs / Math.max(1, base.runs), cpuMs: traced.cpuMs / base.cpuMs, extraMs });
      process.stderr.write(
        `round ${round + 1} ${mode.name} beside off: ${traced.runs} against ${base.runs} runs, CPU ${traced.cpuMs.toFixed(1)} (${traced.roles}) against ${base.cpuMs.toFixed(1)} ms/run (${base.roles})\n`,
      );
    }
  }
  const range = (xs, digits) =>
    `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;
  // Against off: the ratios measured side by side, their median (min-max) over the rounds.
  const paired = (mode, field) =>
    mode.pairs.length === 0
      ? "1.00"
      : range(
          mode.pairs.map((p) => p[field]),
          2,
        );
  process.stdout.write(
    "\n| tracing | runs/wait per s (8 clients) | p50 ms (8 clients) | CPU ms per run (8 clients) | runs/wait p50 ms (1 client) | runs/s vs off | CPU per run vs off |\n|---|---:|---:|---:|---:|---:|---:|\n",
  );
  for (const mode of modes) {
    const column = (field) =>
      range(
        mode.loads.map((l) => l[field]),
        1,
      );
    process.stdout.write(
      `| ${mode.name} | ${column("rps")} | ${column("p50")} | ${column("cpuMs")} | ${range(mode.waits, 1)} | ${paired(mode, "rps")} | ${paired(mode, "cpuMs")} |\n`,
    );
  }
  process.stdout.write(
    "(vs off: runs and CPU per run of the mode against off's, both loaded at the same time with 4 clients each; median (min-max) of the rounds)\n",
  );
  for (const mode of modes.slice(1)) {
    const roles = Object.keys(mode.pairs[0]?.extraMs ?? {});
    const extra = roles
      .map((role) => ({ role, ms: median(mode.pairs.map((p) => p.extraMs[role] ?? 0)) }))
      .filter(({ ms }) => Math.abs(ms) >= 0.05)
      .map(({ role, ms }) => `${role} ${ms >= 0 ? "+" : ""}${ms.toFixed(1)}`);
    process.stdout.write(`CPU ms per run beside off, by process (medians): ${mode.name}: ${extra.join(", ")}\n`);
  }
  process.stdout.write(`\nexported to the collector: ${(exported / 1024 / 1024).toFixed(1)} MiB\n`);
} finally {
  for (const mode of modes) mode.child?.kill("SIGTERM");
  await Promise.all(
    modes.map((m) => (m.child && m.child.exitCode === null ? new Promise((r) => m.child.once("exit", r)) : null)),
  );
  receiver.close();
  rmSync(work, { recursive: true, force: true });
}
