#!/usr/bin/env node
// What the sandbox costs: three `npm start` processes (embedded Postgres, the same project: a three-node graph), one
// per LANGOPEN_SANDBOX mode: `none` (no isolation), `node` (the default: Node's permission model, scrubbed
// environment, an unprivileged user when started as root) and `gvisor` (each runtime process in gVisor, runsc
// --platform=ptrace; skipped when runsc is not on the PATH). The sandbox is process-wide, hence a process per mode.
// They are started one after the other, so that each start is timed alone (until /ok answers and a first runs/wait
// succeeds), then the same loads run against each, the order rotating round by round. Prints medians (min-max) of
// stateless runs/wait per second under 8 clients with their p50 and the CPU they cost (every process of the tree,
// from /proc), of one client's runs/wait p50, and of the time to the first `values` event of a streamed run.
// Loopback only; every loop is bounded. See README.md here.
import { spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { cpuSpent, cpuTicksOf, freePort, sleep } from "./lib/procs.mjs";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "5" },
    waits: { type: "string", default: "40" },
    streams: { type: "string", default: "20" },
    warmup: { type: "string", default: "30" },
    modes: { type: "string", default: "none,node,gvisor" },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  process.stdout.write(
    "Usage: node scripts/bench/sandbox.mjs [--rounds 3] [--duration 5] [--waits 40] [--streams 20] [--warmup 30] [--modes none,node,gvisor]\n",
  );
  process.exit(0);
}
const ROUNDS = Math.max(1, Math.min(20, Number(args.rounds)));
const DURATION_S = Math.max(1, Math.min(60, Number(args.duration)));
const WAITS = Math.max(1, Math.min(500, Number(args.waits)));
const STREAMS = Math.max(1, Math.min(200, Number(args.streams)));
const WARMUP_S = Math.max(1, Math.min(120, Number(args.warmup)));
const TURN_WARMUP_S = 3;
const START_LIMIT_S = 180;
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PROJECT = path.join(ROOT, "services/launcher/src/test-fixtures/tracing/langgraph.json");
const BODY = JSON.stringify({ assistant_id: "three_steps", input: {} });
const STREAM_BODY = JSON.stringify({ assistant_id: "three_steps", input: {}, stream_mode: ["values"] });

function onPath(name) {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    try {
      accessSync(path.join(dir, name), constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

const wanted = args.modes.split(",").map((m) => m.trim());
const modes = [];
for (const name of ["none", "node", "gvisor"]) {
  if (!wanted.includes(name)) continue;
  if (name === "gvisor" && !onPath("runsc")) {
    process.stderr.write("gvisor: skipped, runsc is not on the PATH (Debian and Ubuntu: apt-get install runsc)\n");
    continue;
  }
  modes.push({ name, loads: [], waits: [], firstValues: [], firstEvents: [] });
}
if (modes.length === 0) throw new Error("no mode to measure");

const work = mkdtempSync(path.join(tmpdir(), "langopen-sandbox-bench-"));

async function oneWait(url) {
  const res = await fetch(`${url}/runs/wait`, { method: "POST", headers: { "content-type": "application/json" }, body: BODY });
  const text = await res.text();
  if (!res.ok) throw new Error(`runs/wait answered ${res.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

/** Starts the launcher in `mode`; resolves once /ok answers and a first runs/wait succeeded, with both times. */
async function start(mode, port, dataDir) {
  const env = {
    ...process.env,
    PORT: String(port),
    LANGOPEN_CONFIG: PROJECT,
    LANGOPEN_DATA_DIR: dataDir,
    LANGOPEN_SANDBOX: mode.name,
    LANGOPEN_TYPED_SCHEMAS: "false",
    LOG_LEVEL: "fatal",
  };
  for (const name of Object.keys(env)) if (name.startsWith("OTEL_")) delete env[name];
  const t0 = performance.now();
  const child = spawn(process.execPath, [path.join(ROOT, "services/launcher/dist/main.js")], {
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  mode.child = child;
  const url = `http://127.0.0.1:${port}`;
  const deadline = t0 + START_LIMIT_S * 1000;
  let okMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${mode.name}: LangOpen exited while starting (${child.exitCode ?? child.signalCode})`);
    }
    if (okMs === undefined) {
      const ok = await fetch(`${url}/ok`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) okMs = performance.now() - t0;
    }
    if (okMs !== undefined) {
      const ran = await oneWait(url).then(
        () => true,
        () => false,
      );
      if (ran) return { url, okMs, firstRunMs: performance.now() - t0 };
    }
    await sleep(250);
  }
  throw new Error(`${mode.name}: LangOpen did not serve a run within ${START_LIMIT_S} s`);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function load(url, durationS = DURATION_S) {
  return new Promise((resolve, reject) => {
    const latencies = [];
    let failed = 0;
    const instance = autocannon(
      {
        url: `${url}/runs/wait`,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: BODY,
        connections: 8,
        duration: durationS,
      },
      (err, result) =>
        err
          ? reject(err)
          : resolve({ runs: latencies.length, rps: latencies.length / result.duration, p50: median(latencies), failed }),
    );
    instance.on("response", (_c, status, _b, ms) => (status === 200 ? latencies.push(ms) : failed++));
  });
}

async function serialWaits(url, count = WAITS) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await oneWait(url);
    times.push(performance.now() - t0);
  }
  return median(times);
}

/**
 * One stateless streamed run (stream_mode values): ms from the request to the first SSE event (`metadata`) and to
 * the first `values` event, the first the graph produced; the stream is read to its end.
 */
async function oneStream(url) {
  const t0 = performance.now();
  const res = await fetch(`${url}/runs/stream`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: STREAM_BODY,
    signal: AbortSignal.timeout(30_000),
  });
  if (!res.ok) throw new Error(`runs/stream answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  const decoder = new TextDecoder();
  let buffer = "";
  let firstEvent;
  let firstValues;
  const events = [];
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk, { stream: true }).replaceAll("\r\n", "\n");
    let end = buffer.indexOf("\n\n");
    while (end !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf("\n\n");
      const event = /^event: ?(.*)$/m.exec(block)?.[1];
      if (event === undefined) continue;
      const now = performance.now() - t0;
      events.push(event);
      firstEvent ??= now;
      if (event === "values") firstValues ??= now;
      if (event === "error") throw new Error(`runs/stream error event: ${block.slice(0, 200)}`);
    }
  }
  if (firstValues === undefined) throw new Error(`runs/stream sent no values event (events: ${events.join(", ")})`);
  return { firstEvent, firstValues };
}

async function streams(url, count = STREAMS) {
  const firstEvent = [];
  const firstValues = [];
  for (let i = 0; i < count; i++) {
    const r = await oneStream(url);
    firstEvent.push(r.firstEvent);
    firstValues.push(r.firstValues);
  }
  return { firstEvent: median(firstEvent), firstValues: median(firstValues) };
}

async function stop(mode) {
  const child = mode.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  await exited;
  clearTimeout(timer);
}

let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    interrupted = true;
    process.stderr.write(`${signal}: stopping the servers\n`);
  });
}

const loadAtStart = loadavg()[0];
try {
  // One at a time, so that each start is timed without the others' competing for the cores.
  for (const [i, mode] of modes.entries()) {
    if (interrupted) throw new Error("interrupted");
    try {
      Object.assign(mode, await start(mode, await freePort(), path.join(work, `data-${i}`)));
    } catch (err) {
      mode.failed = err.message;
      process.stderr.write(`${mode.name}: did not start: ${err.message}\n`);
      await stop(mode);
      continue;
    }
    process.stderr.write(
      `${mode.name}: /ok after ${(mode.okMs / 1000).toFixed(1)} s, first run after ${(mode.firstRunMs / 1000).toFixed(1)} s\n`,
    );
    // Warm-up, untimed: a run costs about 1.5 times its settled CPU in the first thousand runs (V8 compiles the hot
    // code of the launcher and the runtime in tiers), settled after about 30 s of load.
    await load(mode.url, WARMUP_S);
    await serialWaits(mode.url, 10);
    await streams(mode.url, 3);
  }
  const running = modes.filter((m) => !m.failed);
  if (running.length === 0) throw new Error("no mode started");
  for (let round = 0; round < ROUNDS && !interrupted; round++) {
    const shift = round % running.length;
    for (const mode of [...running.slice(shift), ...running.slice(0, shift)]) {
      if (interrupted) break;
      // Untimed: a mode idle while the others were measured starts its turn slower (more CPU per run).
      await load(mode.url, TURN_WARMUP_S);
      const before = cpuTicksOf([mode.child.pid]);
      const result = await load(mode.url);
      const spent = cpuSpent(before, cpuTicksOf([mode.child.pid]));
      if (result.failed > 0) throw new Error(`${mode.name}: ${result.failed} runs/wait failed`);
      const runs = result.runs;
      const total = Object.values(spent).reduce((a, b) => a + b, 0);
      const rest = (spent["launcher (gateway+api-server+worker)"] ?? 0) + (spent.postgres ?? 0);
      // CPU ms per run of the whole process tree, and of the runtime side (all but the launcher and Postgres: the
      // runtime processes, and with gVisor its sentries, gofers and the processes they trace).
      result.cpuMs = (total * 1000) / runs;
      result.runtimeCpuMs = ((total - rest) * 1000) / runs;
      mode.loads.push(result);
      mode.waits.push(await serialWaits(mode.url));
      const stream = await streams(mode.url);
      mode.firstEvents.push(stream.firstEvent);
      mode.firstValues.push(stream.firstValues);
      process.stderr.write(
        `round ${round + 1} ${mode.name}: ${result.rps.toFixed(1)} runs/s, p50 ${result.p50.toFixed(1)} ms, CPU ${result.cpuMs.toFixed(1)} ms/run (runtime ${result.runtimeCpuMs.toFixed(1)}), one client p50 ${mode.waits.at(-1).toFixed(1)} ms, first event ${stream.firstEvent.toFixed(1)} ms, first values ${stream.firstValues.toFixed(1)} ms\n`,
      );
    }
  }
  if (interrupted) throw new Error("interrupted");
  const range = (xs, digits) =>
    `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;
  const baseMode = running.find((m) => m.name === "none");
  const base = baseMode ? median(baseMode.loads.map((l) => l.rps)) : undefined;
  process.stdout.write(
    "\n| sandbox | start s (first run) | runs/wait per s (8 clients) | p50 ms (8 clients) | CPU ms per run (runtime's) | runs/wait p50 ms (1 client) | stream: first values event p50 ms | runs/s vs none |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
  );
  for (const mode of modes) {
    if (mode.failed) {
      process.stdout.write(`| ${mode.name} | did not start: ${mode.failed.replaceAll("|", "/")} | | | | | | |\n`);
      continue;
    }
    const rps = mode.loads.map((l) => l.rps);
    process.stdout.write(
      `| ${mode.name} | ${(mode.firstRunMs / 1000).toFixed(1)} | ${range(rps, 1)} | ${range(
        mode.loads.map((l) => l.p50),
        1,
      )} | ${median(mode.loads.map((l) => l.cpuMs)).toFixed(1)} (${median(mode.loads.map((l) => l.runtimeCpuMs)).toFixed(1)}) | ${range(mode.waits, 1)} | ${range(mode.firstValues, 1)} | ${base ? (median(rps) / base).toFixed(2) : "-"} |\n`,
    );
  }
  process.stdout.write(
    `\nfirst SSE event (metadata) p50 ms: ${running.map((m) => `${m.name} ${range(m.firstEvents, 1)}`).join(", ")}\n` +
      `load average (1 min) before the start: ${loadAtStart.toFixed(1)}\n`,
  );
} finally {
  await Promise.all(modes.map((mode) => stop(mode)));
  rmSync(work, { recursive: true, force: true });
}
