#!/usr/bin/env node
// Deploy benchmark: how long the platform takes, as a user sees it through the CLI, to bring a git
// repository to DEPLOYED (first deploy, a new revision after a push) and to roll back. The bench
// project (scripts/bench/graphs) becomes a git repository with a lockfile; the npm cache is warm
// (the repository's own install). Prints the median of the rounds. Loopback only; every wait is
// bounded; the platform and its deployments are stopped at the end, also on failure or Ctrl-C.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { freePort, sleep, waitForPort } from "./lib/procs.mjs";

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const CLI = path.join(ROOT, "services/cli/dist/main.js");
const PLATFORM = path.join(ROOT, "services/control-plane/dist/main.js");
const ROUND_TIMEOUT_MS = 300_000;

const USAGE = `Usage: npm run bench:deploy -- [options]
  --rounds N     pushes and rollbacks to time (default 3)
  --no-build     do not run \`npm run build\` first
  --keep         keep the platform's folder (its logs) after the run`;

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    "no-build": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10) throw new Error(`--rounds must be 1 to 10\n${USAGE}`);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const git = (cwd, ...args) => exec("git", ["-c", "user.email=bench@example.com", "-c", "user.name=Bench", ...args], { cwd });

if (!values["no-build"]) await exec("npm", ["run", "build", "--silent"], { cwd: ROOT });

// Inside the repository, so the project's graphs resolve @langchain/langgraph from its node_modules
// (the bench project declares no dependencies of its own).
const cacheDir = path.join(ROOT, "node_modules/.cache/langopen-bench");
await mkdir(cacheDir, { recursive: true });
const work = await mkdtemp(path.join(cacheDir, "deploy-"));
const repo = path.join(work, "repo");
await cp(path.join(ROOT, "scripts/bench/graphs"), repo, { recursive: true });
await writeFile(path.join(repo, "package.json"), JSON.stringify({ name: "bench-project", version: "1.0.0", type: "module" }));
await exec("npm", ["install", "--offline", "--no-audit", "--no-fund", "--silent"], { cwd: repo });
await git(repo, "init", "-q", "-b", "main");
await git(repo, "add", "-A");
await git(repo, "commit", "-q", "-m", "bench project");

const adminKey = `lok_${randomBytes(32).toString("base64url")}`;
const controlPort = await freePort();
const controlUrl = `http://127.0.0.1:${controlPort}`;
const { DATABASE_URL: _db, REDIS_URL: _redis, ...inherited } = process.env;
const platform = spawn(process.execPath, [PLATFORM], {
  env: {
    ...inherited,
    CONTROL_PORT: String(controlPort),
    LANGOPEN_PLATFORM_DIR: path.join(work, "platform"),
    LANGOPEN_ADMIN_KEY: adminKey,
    LOG_LEVEL: "warn",
  },
  stdio: ["ignore", "ignore", "inherit"],
  detached: true,
});
const stopPlatform = () => {
  try {
    process.kill(-platform.pid, "SIGTERM");
  } catch {
    // Already gone.
  }
};
process.once("SIGINT", () => {
  stopPlatform();
  process.exit(130);
});

/** Runs the CLI with --json; resolves with the seconds it took and its outcome. */
async function timed(args) {
  const started = performance.now();
  const { stdout } = await exec(process.execPath, [CLI, ...args, "--json"], {
    env: { ...inherited, LANGOPEN_CONTROL_URL: controlUrl, LANGOPEN_API_KEY: adminKey },
    timeout: ROUND_TIMEOUT_MS,
  });
  const seconds = (performance.now() - started) / 1000;
  const outcome = JSON.parse(stdout.trim().split("\n").at(-1));
  if (outcome.status !== "DEPLOYED") throw new Error(`langopen ${args.join(" ")}: ${outcome.status}`);
  // Served: the deployment answers on its URL.
  const ok = await fetch(`${outcome.url}/ok`);
  if (!ok.ok) throw new Error(`${outcome.url}/ok answered ${ok.status}`);
  return { seconds, outcome };
}

const results = { first: 0, push: [], rollback: [] };
let failed = false;
try {
  await waitForPort(controlPort, { timeoutMs: 120_000, alive: () => platform.exitCode === null, what: "the platform" });
  const deploy = ["deploy", "--name", "bench", "--git", `file://${repo}`];
  results.first = (await timed(deploy)).seconds;
  process.stderr.write(`first deploy: ${results.first.toFixed(1)} s\n`);
  for (let round = 1; round <= rounds; round++) {
    await writeFile(path.join(repo, "VERSION"), `${round}\n`);
    await git(repo, "add", "-A");
    await git(repo, "commit", "-q", "-m", `round ${round}`);
    const pushed = await timed(deploy);
    const rolledBack = await timed(["rollback", "bench"]);
    results.push.push(pushed.seconds);
    results.rollback.push(rolledBack.seconds);
    process.stderr.write(
      `round ${round}: push to DEPLOYED ${pushed.seconds.toFixed(1)} s, rollback ${rolledBack.seconds.toFixed(1)} s\n`,
    );
    await sleep(200);
  }
} catch (err) {
  failed = true;
  process.stderr.write(`${err.stack ?? err}\n`);
} finally {
  stopPlatform();
  await Promise.race([new Promise((resolve) => platform.once("exit", resolve)), sleep(30_000)]);
  if (!values.keep && !failed) await rm(work, { recursive: true, force: true });
  else process.stderr.write(`the platform's folder (logs) stays in ${work}\n`);
}
if (failed) process.exit(1);

const row = (name, xs) =>
  `| ${name.padEnd(40)} | ${median(xs).toFixed(2).padStart(8)} | ${xs.map((x) => x.toFixed(2)).join(", ")} |`;
process.stdout.write(
  [
    `Deploy benchmark (${rounds} rounds, warm npm cache, medians in seconds, through the CLI until DEPLOYED and serving)`,
    "| step                                     |   median | rounds |",
    "|------------------------------------------|----------|--------|",
    row("first deploy (build, database, start)", [results.first]),
    row("push: new revision to DEPLOYED", results.push),
    row("rollback to the previous revision", results.rollback),
    "",
  ].join("\n"),
);
