#!/usr/bin/env node
// The three smoke scripts against `npm start`, as CI runs them: the built launcher
// (services/launcher/dist/main.js; run `npx tsc -b` first) on a free loopback port, with an empty
// data folder (so an embedded Postgres of its own), an API key of its own and the smoke graph
// (scripts/smoke/graphs: a run of about 1.5 s); once /ok answers, scripts/cluster-smoke,
// scripts/parity-smoke and scripts/agent-compat-smoke run against it with the key, one after the
// other, their output printed as it comes; then the launcher is stopped (SIGTERM, bounded wait).
//
//   node scripts/smoke/against-npm-start.mjs [--keep-log]
//
// The exit status is the number of smoke scripts that failed (0 to 3; 3 when the launcher did not
// start), so scripts/check counts each failed script as one failed check.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { freePort, killAllSync, logTail, sleep, startProcess, stopProcess } from "../bench/lib/procs.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const LAUNCHER_MAIN = path.join(ROOT, "services/launcher/dist/main.js");
const CONFIG = path.join(ROOT, "scripts/smoke/graphs/langgraph.json");
const SCRIPTS = ["cluster-smoke", "parity-smoke", "agent-compat-smoke"];
/** How long the launcher may take to answer /ok (a first start initialises its Postgres). */
const START_TIMEOUT_MS = 90_000;
/** Each script's own bound (--timeout), and the margin after which it is killed regardless. */
const SCRIPT_TIMEOUT_S = 30;
const SCRIPT_KILL_MARGIN_MS = 10_000;

const { values: args } = parseArgs({ options: { "keep-log": { type: "boolean", default: false } } });

const say = (line) => process.stdout.write(`${line}\n`);

/** Runs one smoke script with its output passed through; resolves with its exit status. */
function runScript(name, url, apiKey) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [path.join(ROOT, "scripts", name), "--url", url, "--api-key", apiKey, "--timeout", String(SCRIPT_TIMEOUT_S)],
      { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] },
    );
    const backstop = setTimeout(() => child.kill("SIGKILL"), SCRIPT_TIMEOUT_S * 1000 + SCRIPT_KILL_MARGIN_MS);
    child.once("error", (err) => {
      clearTimeout(backstop);
      say(`FAIL ${name} could not be started: ${err.message}`);
      resolve(1);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(backstop);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

/** Waits until GET /ok answers 200; false if the launcher exits or time runs out. */
async function waitUntilReady(proc, url) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (proc.exitInfo) return false;
    const ok = await fetch(`${url}/ok`, { signal: AbortSignal.timeout(2_000) }).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return true;
    await sleep(250);
  }
  return false;
}

async function main() {
  const workDir = await mkdtemp(path.join(os.tmpdir(), "langopen-smoke-"));
  const dataDir = path.join(workDir, "data");
  await mkdir(dataDir);
  const logFile = path.join(workDir, "langopen.log");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const apiKey = `smoke-${randomBytes(16).toString("hex")}`;
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("LANGOPEN_")) delete env[key];
  for (const key of ["DATABASE_URL", "REDIS_URL", "PORT", "HOST", "NODE_OPTIONS", "LANGGRAPH_API_KEY"]) delete env[key];
  Object.assign(env, { LANGOPEN_DATA_DIR: dataDir, LANGOPEN_API_KEYS: `smoke=${apiKey}`, LOG_LEVEL: "warn" });

  const started = Date.now();
  const proc = startProcess("langopen", process.execPath, [LAUNCHER_MAIN, "--config", CONFIG, "--port", String(port)], {
    env,
    cwd: ROOT,
    logFile,
  });
  let failed = 0;
  try {
    if (!(await waitUntilReady(proc, url))) {
      const why = proc.exitInfo
        ? `exited (${JSON.stringify(proc.exitInfo)})`
        : `did not answer /ok within ${START_TIMEOUT_MS / 1000} s`;
      say(`FAIL launcher ${why}; the log's tail:\n${logTail(logFile)}`);
      failed = SCRIPTS.length;
      return failed;
    }
    say(`==> npm start ready at ${url} after ${((Date.now() - started) / 1000).toFixed(1)} s (API key required)`);
    for (const name of SCRIPTS) {
      say(`==> scripts/${name} --url ${url} --api-key ***`);
      const status = await runScript(name, url, apiKey);
      if (status !== 0) failed++;
    }
  } finally {
    await stopProcess(proc, 15_000);
    const exit = proc.exitInfo;
    if (exit && exit.code !== 0 && exit.code !== null) say(`note: the launcher exited with ${exit.code} when stopped`);
    if (failed > 0 || args["keep-log"]) say(`launcher log: ${logFile}`);
    else await rm(workDir, { recursive: true, force: true });
  }
  say(
    `smoke scripts against npm start: ${SCRIPTS.length - failed} passed, ${failed} failed (${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );
  return failed;
}

process.once("exit", killAllSync);
main().then(
  (code) => process.exit(code),
  (err) => {
    say(`FAIL smoke runner: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(SCRIPTS.length);
  },
);
