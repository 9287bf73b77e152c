#!/usr/bin/env node
// LangOpen hostile-graph suite: starts the server as `npm start` does (one launcher, embedded
// Postgres, its pool of runtime processes) on a project whose graph probes its surroundings, runs
// every probe through the official SDK, and prints what each could reach. With the sandbox on,
// every probe must be denied, the controls (scratch space, the project's own files, a TypeScript
// graph) must work, and ordinary runs must keep answering while a bomb goes off beside them.
// See scripts/hostile/README.md.
//
//   npm run hostile                               # the default sandbox; every probe must be denied
//   npm run hostile -- --sandbox none --expect exposed   # today's exposure, without the sandbox
//   npm run hostile -- --quick                    # the short run, for CI
//   npm run hostile -- --probes env,etc-shadow
//
// Loopback only. Every loop is bounded in count and time, and a watchdog ends the whole suite.
// Exit status: 0 every probe as expected and every control passed, 1 otherwise, 2 the suite could not run.
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import http2 from "node:http2";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Client } from "@langchain/langgraph-sdk";
import {
  cmdline,
  descendantsOf,
  findPids,
  freePort,
  killAllSync,
  logTail,
  sleep,
  startProcess,
  stopProcess,
} from "../bench/lib/procs.mjs";
import { PROBE_NAMES } from "./project/probes.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const CONFIG = path.join(ROOT, "scripts/hostile/project/langgraph.json");
const LAUNCHER_MAIN = path.join(ROOT, "services/launcher/dist/main.js");

/**
 * The probes, in the order they run (the bombs last: they take runtime processes down).
 *  today: what a graph gets without any sandbox ("exposed": the sandbox must close it; "denied":
 *    something else already guards it, e.g. credentials or the heap limit);
 *  reach: only reaches a loopback port, which Node's permission model cannot close (the probe
 *    beside it shows that the port wants credentials): reported, not judged, but under gVisor
 *    (no network there: it must be denied);
 *  control: must keep working under the sandbox; bomb: judged by the run's end and by the
 *    echo runs beside it; endedBy: the ends of its run that mean the server stopped it (a memory
 *    bomb ended by the run timeout proves nothing: it was only slow to allocate).
 */
const CATALOG = [
  { name: "read-project", control: true },
  { name: "write-scratch", control: true },
  { name: "typed-graph", control: true, suite: true },
  { name: "env", today: "exposed" },
  { name: "proc-parent-environ", today: "exposed" },
  { name: "proc-all-environ", today: "exposed" },
  { name: "proc-parent-cmdline", today: "exposed" },
  { name: "data-dir", today: "exposed" },
  { name: "etc-shadow", today: "exposed" },
  { name: "read-outside-project", today: "exposed" },
  { name: "write-outside", today: "exposed" },
  { name: "write-project", today: "exposed" },
  { name: "child-process", today: "exposed" },
  { name: "worker-thread", today: "exposed" },
  { name: "dlopen", today: "exposed" },
  // Refused by the kernel only when graph code runs as another user (the launcher is root and the project readable by it).
  { name: "signal-parent", today: "exposed", otherUser: true },
  { name: "net-postgres", today: "exposed", reach: true },
  { name: "postgres-login", today: "exposed" },
  { name: "net-api-rpc", today: "exposed", reach: true },
  { name: "api-rpc-no-credentials", today: "denied" },
  { name: "runtime-rpc-no-credentials", today: "denied" },
  { name: "fork-bomb", today: "exposed", bomb: true, endedBy: [] },
  { name: "memory-offheap", today: "exposed", bomb: true, endedBy: ["error"] },
  { name: "memory-heap", today: "denied", bomb: true, endedBy: ["error"] },
  { name: "infinite-loop", today: "denied", bomb: true, endedBy: ["timeout", "error"] },
];
for (const p of CATALOG) if (!p.suite && !PROBE_NAMES.includes(p.name)) throw new Error(`probe ${p.name} is not in probes.mjs`);

/**
 * The suite's server settings: a run timeout short enough that the infinite loop ends soon, yet
 * long enough for a memory bomb to reach its bound on a busy shared machine; a small heap, so
 * that the bombs cost the machine little.
 */
const RUN_TIMEOUT_SECONDS = 30;
const HEAP_MB = Number(process.argv.find((a) => a.startsWith("--heap-mb="))?.slice("--heap-mb=".length) ?? 128);
const PROFILES = {
  quick: { watchdogMs: 8 * 60_000, forkBombMax: 8, memoryMaxMb: 3 * HEAP_MB, loopMaxMs: 120_000 },
  full: { watchdogMs: 15 * 60_000, forkBombMax: 32, memoryMaxMb: 8 * HEAP_MB, loopMaxMs: 300_000 },
};

const USAGE = `Usage: npm run hostile -- [options]
  --sandbox MODE     LANGOPEN_SANDBOX of the server: none, node or gvisor (default: the server's default)
  --probes LIST      comma-separated, from ${CATALOG.map((p) => p.name).join(",")} (default: all)
  --expect WHAT      denied (default: every probe denied, the sandbox's promise) or exposed (what a graph
                     gets without a sandbox: to show today's exposure with --sandbox none)
  --quick            a short run for CI (fewer spawns, smaller bombs)
  --heap-mb=N        the runtime's heap limit in MB (default 128; memory bombs scale with it)
  --log-level LEVEL  LOG_LEVEL of the server (default warn)
  --out DIR          the server's log (default: a new temporary folder)`;

const { values: args } = parseArgs({
  options: {
    sandbox: { type: "string" },
    probes: { type: "string" },
    expect: { type: "string", default: "denied" },
    quick: { type: "boolean", default: false },
    "heap-mb": { type: "string" },
    "log-level": { type: "string", default: "warn" },
    out: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

function fail(message) {
  process.stderr.write(`hostile: ${message}\n`);
  process.exit(2);
}

if (args.sandbox !== undefined && !["none", "node", "gvisor"].includes(args.sandbox))
  fail(`--sandbox must be none, node or gvisor, not ${JSON.stringify(args.sandbox)}`);
if (!["denied", "exposed"].includes(args.expect)) fail(`--expect must be denied or exposed, not ${JSON.stringify(args.expect)}`);
const selected = (args.probes ?? CATALOG.map((p) => p.name).join(","))
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean);
for (const name of selected)
  if (!CATALOG.some((p) => p.name === name))
    fail(`unknown probe ${JSON.stringify(name)}; known: ${CATALOG.map((p) => p.name).join(", ")}`);
const probes = CATALOG.filter((p) => selected.includes(p.name));
const profile = PROFILES[args.quick ? "quick" : "full"];
/** Whether graph code runs as the launcher's own user (not root, or the project not readable by the sandbox user). */
let sameUser = process.getuid?.() !== 0;

/** What a probe should come out as, in this run. */
function expectedOf(probe) {
  if (probe.control) return "allowed";
  if (args.expect === "exposed") return probe.today;
  // Node's permission model has no control over sockets; gVisor gives the runtime no network at all.
  if (probe.reach) return args.sandbox === "gvisor" ? "denied" : "any*";
  if (probe.otherUser && sameUser) return "any*";
  return "denied";
}

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

/** TCP ports pid listens on, from its socket inodes and /proc/net/tcp{,6}. */
function listeningPorts(pid) {
  const inodes = new Set();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/);
        if (m) inodes.add(m[1]);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return [];
  }
  const ports = new Set();
  for (const table of ["tcp", "tcp6"]) {
    let text = "";
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== "0A" || !inodes.has(cols[9])) continue; // 0A: LISTEN
      ports.add(Number.parseInt(cols[1].split(":")[1], 16));
    }
  }
  return [...ports];
}

/** A native addon to offer the dlopen probe: the first .node file in node_modules (bounded walk). */
function findAddon() {
  const queue = [path.join(ROOT, "node_modules")];
  let visited = 0;
  while (queue.length && visited < 20_000) {
    const dir = queue.shift();
    let entries = [];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      visited++;
      const full = path.join(dir, e.name);
      if (e.isFile() && e.name.endsWith(".node")) return full;
      // Links are followed too (a node_modules may be made of them); the depth bound ends any cycle.
      let isDir = e.isDirectory();
      if (e.isSymbolicLink()) {
        try {
          isDir = statSync(full).isDirectory();
        } catch {
          isDir = false;
        }
      }
      if (isDir && !e.name.startsWith(".") && full.split(path.sep).length - ROOT.split(path.sep).length < 8) queue.push(full);
    }
  }
  return undefined;
}

/** The HTTP status of a Connect call without credentials to 127.0.0.1:port (0: no answer within 2 s). */
function h2Status(port, method) {
  return new Promise((resolve) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const done = (status) => {
      clearTimeout(timer);
      session.destroy();
      resolve(status);
    };
    const timer = setTimeout(() => done(0), 2_000);
    session.once("error", () => done(0));
    const req = session.request({ ":method": "POST", ":path": method, "content-type": "application/json" });
    req.once("response", (headers) => done(Number(headers[":status"])));
    req.once("error", () => done(0));
    req.end("{}");
  });
}

/**
 * The api-server's port among the launcher's internal ones: the one whose router knows the
 * assistant service (it answers 401 without credentials; other ports answer 404 or nothing).
 */
async function apiPortOf(ports) {
  for (const port of ports) {
    const status = await h2Status(port, "/langopen.data.v1.AssistantService/SearchAssistants");
    if (status !== 0 && status !== 404) return port;
  }
  return undefined;
}

/**
 * Waits (at most 90 s) until every runtime process answers on its port again: after a bomb took
 * one down or left it stuck, so that the next bomb meets a whole pool and its echo runs measure
 * the bomb, not the previous one's aftermath. Then two seconds for the worker to trust it again.
 */
async function waitForPool(ports) {
  const deadline = Date.now() + 90_000;
  for (let i = 0; i < 90 && Date.now() < deadline; i++) {
    const statuses = await Promise.all(ports.map((port) => h2Status(port, "/langopen.runtime.v1.RuntimeService/ListGraphs")));
    if (statuses.every((s) => s !== 0)) {
      await sleep(2_000);
      return true;
    }
    await sleep(1_000);
  }
  return false;
}

/** What the probes aim at: the launcher, its runtimes, its Postgres, its data directory. */
async function surroundings(launcherPid, dataDir, publicPort, canary) {
  const tree = descendantsOf([launcherPid], false);
  // Under gVisor, the process of a runtime on the host is its sandbox (runsc-sandbox).
  const runtimePids = tree.filter((pid) => cmdline(pid).includes("runtime-runner") || cmdline(pid).startsWith("runsc-sandbox"));
  // Their RPC ports: those that speak HTTP/2 and know the runtime's service (each runtime also serves its
  // metrics over HTTP/1.1). Under gVisor the launcher listens on them and passes connections on.
  const launcherPorts = listeningPorts(launcherPid).filter((p) => p !== publicPort);
  const runtimePorts = [];
  for (const port of [...runtimePids.flatMap((pid) => listeningPorts(pid)), ...launcherPorts]) {
    const status = await h2Status(port, "/langopen.runtime.v1.RuntimeService/ListGraphs");
    if (status !== 0 && status !== 404 && !runtimePorts.includes(port)) runtimePorts.push(port);
  }
  const apiPort = await apiPortOf(launcherPorts.filter((p) => !runtimePorts.includes(p)));
  let postgres;
  for (const pid of findPids("postgres", "-D", dataDir)) {
    const args = cmdline(pid);
    const port = args.match(/ -p (\d+)/)?.[1];
    if (!port) continue;
    postgres = { port: Number(port), socketDir: args.match(/unix_socket_directories=(\S+)/)?.[1] || undefined };
    break;
  }
  return {
    canary,
    launcherPid,
    dataDir,
    launcherMain: LAUNCHER_MAIN,
    repoFile: path.join(ROOT, "package.json"),
    addonPath: findAddon(),
    postgres,
    apiPort,
    runtimePorts,
    runtimePids,
    forkBombMax: profile.forkBombMax,
    memoryMaxMb: profile.memoryMaxMb,
    loopMaxMs: profile.loopMaxMs,
  };
}

/** The line of the server's log that says why it crashed, if any. */
function crashLine(logFile) {
  let text = "";
  try {
    text = readFileSync(logFile, "utf8");
  } catch {
    return "no log";
  }
  // The last error line: earlier ones may be a runtime's, which the launcher survived.
  const line = text.split("\n").findLast((l) => /^\w*Error\b/.test(l));
  return line ? line.trim().slice(0, 200) : "no crash line in its log";
}

/** One stateless run of `graph`, bounded by timeoutMs; resolves with {values} or {error}. */
async function runOnce(client, graph, input, timeoutMs) {
  try {
    const values = await client.runs.wait(null, graph, {
      input,
      raiseError: false,
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (values && typeof values === "object" && "__error__" in values)
      return { error: `${values.__error__?.error}: ${String(values.__error__?.message).slice(0, 200)}` };
    return { values };
  } catch (err) {
    return { error: String(err.message ?? err).slice(0, 200) };
  }
}

async function echoOnce(client, text, timeoutMs = 15_000) {
  const started = performance.now();
  const r = await runOnce(client, "echo", { text }, timeoutMs);
  const ms = performance.now() - started;
  return { ok: r.values?.reply === `You said: ${text}`, ms, error: r.error ?? (r.values ? undefined : "no answer") };
}

/** An echo run that must work after a bomb: the runtime may be restarting, so up to 30 s of tries. */
async function echoRecovers(client) {
  const deadline = Date.now() + 30_000;
  let last;
  for (let i = 0; i < 30 && Date.now() < deadline; i++) {
    last = await echoOnce(client, `after ${i}`, 10_000);
    if (last.ok) return { ok: true, tries: i + 1 };
    await sleep(1_000);
  }
  return { ok: false, error: last?.error };
}

async function runProbe(client, ctx, probe) {
  if (probe.name === "typed-graph") {
    const r = await runOnce(client, "typed", { text: "typed?" }, 30_000);
    const ok = r.values?.answer?.reply === "You said: typed?" && r.values.answer.language === "typescript";
    return {
      outcome: ok ? "allowed" : "error",
      detail: ok ? "the TypeScript graph answered" : (r.error ?? JSON.stringify(r.values)),
    };
  }
  if (probe.bomb) return runBomb(client, ctx, probe);
  const r = await runOnce(client, "probe", { name: probe.name, ctx }, 30_000);
  if (r.error) return { outcome: "error", detail: `the run failed: ${r.error}` };
  const result = r.values?.result;
  if (!result?.outcome) return { outcome: "error", detail: `no result: ${JSON.stringify(r.values).slice(0, 200)}` };
  return { outcome: result.outcome, detail: result.detail };
}

/**
 * A bomb runs on a thread of its own while echo runs go one after another beside it; then one
 * more echo run must work (the runtime that the bomb took down has been replaced). Its outcome:
 * what the probe reported if the run ended normally (it reached its bound: "exposed"), "denied"
 * when the server ended the run in one of the probe's `endedBy` ways, "error" otherwise.
 */
async function runBomb(client, ctx, probe) {
  const thread = await client.threads.create();
  let runId;
  const waitMs = RUN_TIMEOUT_SECONDS * 1000 + 90_000;
  const bomb = client.runs
    .wait(thread.thread_id, "probe", {
      input: { name: probe.name, ctx },
      raiseError: false,
      signal: AbortSignal.timeout(waitMs),
      onRunCreated: (meta) => {
        runId = meta.run_id;
      },
    })
    .then(
      (values) => ({ values }),
      (err) => ({ error: String(err.message ?? err).slice(0, 200) }),
    );
  let done = false;
  void bomb.then(() => {
    done = true;
  });
  // The echo runs beside it: one at a time until the bomb's run ends (at least one, at most 40).
  const controls = [];
  await sleep(200);
  for (let i = 0; i < 40 && (i === 0 || !done); i++) {
    controls.push(await echoOnce(client, `during ${probe.name} ${i}`));
    await sleep(300);
  }
  const r = await bomb;
  let status = "?";
  if (runId) status = (await client.runs.get(thread.thread_id, runId).catch(() => undefined))?.status ?? "?";
  const after = await echoRecovers(client);
  await client.threads.delete(thread.thread_id).catch(() => {});

  const failed = controls.filter((c) => !c.ok);
  const maxMs = Math.max(0, ...controls.map((c) => c.ms));
  const control = {
    outcome: failed.length === 0 && after.ok ? "allowed" : "error",
    detail: `${controls.length - failed.length}/${controls.length} echo runs answered during it (slowest ${Math.round(maxMs)} ms)${
      failed.length ? ` [failed: ${failed[0].error}]` : ""
    }; the next run ${after.ok ? `answered (try ${after.tries})` : `failed: ${after.error}`}`,
  };
  let outcome;
  let detail;
  const result = r.values?.result;
  if (result?.outcome) {
    outcome = result.outcome;
    detail = `run ${status}: ${result.detail}`;
  } else if (r.error) {
    outcome = "error";
    detail = `no answer: ${r.error}`;
  } else {
    outcome = probe.endedBy.includes(status) ? "denied" : "error";
    const message = r.values?.__error__ ? `${r.values.__error__.error}: ${r.values.__error__.message}` : "";
    detail = `${outcome === "denied" ? "the server ended the run" : "inconclusive, the run ended"} (${status})${
      message ? `: ${String(message).slice(0, 200)}` : ""
    }`;
  }
  return { outcome, detail, control };
}

function printTable(rows, settings) {
  const cell = (s) => String(s).replaceAll("|", "\\|").replaceAll("\n", " ");
  const lines = [
    `### hostile graph, ${settings}`,
    "",
    "| probe | expected | outcome | detail |",
    "|---|---|---|---|",
    ...rows.map((r) => `| ${r.name} | ${r.expected} | ${r.ok ? "" : "✗ "}${r.outcome} | ${cell(r.detail)} |`),
  ];
  if (rows.some((r) => r.expected === "any*"))
    lines.push(
      "",
      "\\* Reported, not judged (an error still fails): Node's permission model has no control over sockets, so",
      "a graph may reach loopback ports (under gVisor it may not: no network there, and these are judged); what",
      "keeps it out is the credentials each service asks for (the login and RPC probes, which are judged). Where",
      "graph code runs as the launcher's own user (the launcher is not root, or the project is not readable by the",
      "sandbox user), nothing refuses signal-parent.",
    );
  process.stdout.write(`\n${lines.join("\n")}\n\n`);
}

async function main() {
  const outDir = args.out ?? (await mkdtemp(path.join(os.tmpdir(), "langopen-hostile-")));
  await mkdir(outDir, { recursive: true });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "langopen-hostile-data-"));
  const port = await freePort();
  const canary = `hostile-canary-${Math.random().toString(36).slice(2, 12)}`;
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("LANGOPEN_")) delete env[key];
  for (const key of ["DATABASE_URL", "REDIS_URL", "PORT", "HOST", "NODE_OPTIONS", "WEBHOOK_SECRET"]) delete env[key];
  Object.assign(env, {
    LANGOPEN_DATA_DIR: dataDir,
    HOST: "127.0.0.1",
    LOG_LEVEL: args["log-level"],
    LANGOPEN_RUN_TIMEOUT_SECONDS: String(RUN_TIMEOUT_SECONDS),
    LANGOPEN_RUNTIME_MAX_OLD_SPACE_MB: String(HEAP_MB),
    // Heap and buffers together, as the default's proportion (heap limit twice) plus Node's own.
    LANGOPEN_RUNTIME_MAX_MEMORY_MB: String(2 * HEAP_MB + 64),
    // A secret of the installation's own, to be looked for wherever a graph can read.
    WEBHOOK_SECRET: canary,
    ...(args.sandbox !== undefined && { LANGOPEN_SANDBOX: args.sandbox }),
  });
  const settings = `LANGOPEN_SANDBOX=${args.sandbox ?? "(default)"}, expecting ${args.expect}${args.quick ? ", --quick" : ""}`;
  say(`hostile suite: ${settings}; ${probes.length} probes; log in ${outDir}`);

  const logFile = path.join(outDir, "langopen.log");
  const proc = startProcess("langopen", process.execPath, [LAUNCHER_MAIN, "--config", CONFIG, "--port", String(port)], {
    env,
    cwd: ROOT,
    logFile,
  });
  const url = `http://127.0.0.1:${port}`;
  const client = new Client({ apiUrl: url, callerOptions: { maxRetries: 0 } });
  try {
    // Ready: /ok answers, then an echo run does (bounded: 2 minutes).
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (proc.exitInfo)
        throw new Error(`the server exited while starting (${JSON.stringify(proc.exitInfo)}):\n${logTail(logFile)}`);
      const ok = await fetch(`${url}/ok`, { signal: AbortSignal.timeout(2_000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok && (await echoOnce(client, "ready?", 10_000)).ok) break;
      if (Date.now() > deadline) throw new Error(`the server was not ready after 120 s:\n${logTail(logFile)}`);
      await sleep(300);
    }
    const ctx = await surroundings(proc.pid, dataDir, port, canary);
    if (readFileSync(logFile, "utf8").includes("Runs graph code as this process's user")) sameUser = true;
    if (sameUser) say("graph code runs as the launcher's own user here: signal-parent is reported, not judged");
    say(
      `server ready at ${url}: launcher pid ${proc.pid}, runtimes ${ctx.runtimePids.join(",") || "?"} on ${ctx.runtimePorts.join(",") || "?"}, api-server on ${ctx.apiPort ?? "?"}, Postgres ${ctx.postgres ? (ctx.postgres.socketDir ? `socket port ${ctx.postgres.port}` : `127.0.0.1:${ctx.postgres.port}`) : "?"}, addon ${ctx.addonPath ? path.basename(ctx.addonPath) : "none"}`,
    );

    const rows = [];
    let gone;
    for (const probe of probes) {
      const expected = expectedOf(probe);
      let result;
      if (gone) {
        // A probe took the server down: that probe failed, and nothing is left to probe.
        result = { outcome: "error", detail: "not run: the server is gone" };
      } else {
        try {
          result = await runProbe(client, ctx, probe);
        } catch (err) {
          result = { outcome: "error", detail: `the suite failed to run it: ${String(err.message ?? err).slice(0, 200)}` };
        }
        await sleep(200); // an exit caused by this probe is seen before the next one
        if (proc.exitInfo) {
          gone = proc.exitInfo;
          result.outcome = "error";
          result.detail = `the launcher exited (${JSON.stringify(gone)}): ${crashLine(logFile)}; ${result.detail}`;
        }
      }
      // Showing today's exposure, a probe found closed even without the sandbox is good news, not a failure.
      const closedAnyway = args.expect === "exposed" && expected === "exposed" && result.outcome === "denied";
      const ok =
        expected === "any*"
          ? result.outcome === "exposed" || result.outcome === "denied"
          : result.outcome === expected || closedAnyway;
      if (closedAnyway) result.detail = `closed without the sandbox too: ${result.detail}`;
      rows.push({ name: probe.name, expected, ok, outcome: result.outcome, detail: result.detail ?? "" });
      say(
        `${probe.name}: ${result.outcome}${ok ? "" : ` (expected ${expected})`} - ${String(result.detail ?? "").slice(0, 160)}`,
      );
      if (probe.bomb && !(await waitForPool(ctx.runtimePorts))) say("the runtime pool did not answer again within 90 s");
      if (result.control) {
        const c = result.control;
        rows.push({ name: `echo beside ${probe.name}`, expected: "allowed", ok: c.outcome === "allowed", ...c });
        say(`echo beside ${probe.name}: ${c.outcome} - ${c.detail}`);
      }
    }
    printTable(rows, settings);
    const bad = rows.filter((r) => !r.ok);
    say(
      bad.length
        ? `hostile suite: FAILED - ${bad.length} not as expected: ${bad.map((r) => `${r.name} (${r.outcome})`).join(", ")}`
        : `hostile suite: passed - ${rows.length} rows as expected`,
    );
    process.exitCode = bad.length ? 1 : 0;
  } finally {
    await stopProcess(proc, 20_000);
    await rm(dataDir, { recursive: true, force: true }).catch(() => {});
  }
}

main().catch((err) => {
  say(`hostile suite could not run: ${err.stack ?? err.message}`);
  process.exitCode = 2;
});
