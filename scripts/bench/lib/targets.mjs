// The servers under test: LangOpen embedded (one command, embedded Postgres), LangOpen split (one process
// per service on a real Postgres and Redis), and the reference server (`langgraphjs dev` from
// @langchain/langgraph-cli, in memory). Each starts on free loopback ports and is ready when a smoke run
// through the public API has answered.
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { generateInternalSecret, runtimeCredentialsOf } from "@langopen/common";
import pg from "pg";
import { cmdline, findPids, freePort, logTail, sleep, startProcess, stopProcess, waitForPort } from "./procs.mjs";

export const TARGETS = ["langopen-embedded", "langopen-split", "reference"];

const require = createRequire(import.meta.url);

/**
 * Options shared by every target:
 *  root: the repository, config: the benchmark's langgraph.json, logDir: where each process writes its
 *  output, logLevel, cpuProfDir (optional: profile LangOpen's Node processes), pgDurable (split mode's
 *  Postgres with fsync and synchronous commit on, like a real deployment), runtimes (split mode: how many
 *  runtime-runner processes, each on its own port, the worker spreading runs over all of them; default 1).
 */
export async function startTarget(name, options) {
  switch (name) {
    case "langopen-embedded":
      return startEmbedded(options);
    case "langopen-split":
      return startSplit(options);
    case "reference":
      return startReference(options);
    default:
      throw new Error(`unknown target ${name} (known: ${TARGETS.join(", ")})`);
  }
}

/** node's arguments for a LangOpen process; profileName names its CPU profile (written when it exits). */
function nodeArgs(options, profileName, main) {
  const prof = options.cpuProfDir
    ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`, `--cpu-prof-name=${profileName}.cpuprofile`]
    : [];
  return [...prof, main];
}

function baseEnv(options) {
  const env = { ...process.env, LOG_LEVEL: options.logLevel };
  for (const key of [
    "DATABASE_URL",
    "REDIS_URL",
    "LANGOPEN_CONFIG",
    "LANGOPEN_DATA_DIR",
    "PORT",
    "HOST",
    "NODE_OPTIONS",
    "LANGOPEN_INTERNAL_SECRET",
    "LANGOPEN_INTERNAL_SECRET_FILE",
    "LANGOPEN_RUNTIME_TOKEN",
    "LANGOPEN_RUNTIME_CALLER_TOKEN_SHA256",
  ]) {
    delete env[key];
  }
  return env;
}

/** Polls GET /ok, then a stateless run of the echo graph, until both answer; fails early if a process dies. */
async function waitReady(url, procs, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  for (;;) {
    const dead = procs.find((p) => p.exitInfo);
    if (dead) {
      throw new Error(
        `${dead.name} exited (${JSON.stringify(dead.exitInfo)}) while starting; log tail:\n${logTail(dead.logFile)}`,
      );
    }
    try {
      const ok = await fetch(`${url}/ok`, { signal: AbortSignal.timeout(2_000) });
      if (ok.ok) {
        const res = await fetch(`${url}/runs/wait`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ assistant_id: "echo", input: { text: "ready?" } }),
          signal: AbortSignal.timeout(10_000),
        });
        const body = await res.text();
        if (res.ok && body.includes("You said: ready?")) return;
        last = `POST /runs/wait answered ${res.status}: ${body.slice(0, 300)}`;
      } else last = `GET /ok answered ${ok.status}`;
    } catch (err) {
      last = err.message;
    }
    if (Date.now() > deadline) {
      const tails = procs.map((p) => `--- ${p.name}\n${logTail(p.logFile, 1500)}`).join("\n");
      throw new Error(`not ready after ${timeoutMs / 1000} s: ${last}\n${tails}`);
    }
    await sleep(200);
  }
}

async function startEmbedded(options) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "langopen-bench-embedded-"));
  const port = await freePort();
  const main = path.join(options.root, "services/launcher/dist/main.js");
  const proc = startProcess(
    "langopen-embedded",
    process.execPath,
    [...nodeArgs(options, "langopen-embedded.launcher", main), "--config", options.config, "--port", String(port)],
    {
      env: { ...baseEnv(options), LANGOPEN_DATA_DIR: dataDir, HOST: "127.0.0.1" },
      cwd: options.root,
      logFile: path.join(options.logDir, "langopen-embedded.log"),
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const target = {
    name: "langopen-embedded",
    url,
    procs: [proc],
    /** Everything that belongs to this target, for memory and CPU: the launcher's tree. */
    roots: () => [proc.pid],
    /** The embedded Postgres, for the machine floor: its port and password. */
    databaseUrl() {
      return this.postgresUrl();
    },
    postgresUrl() {
      // The launcher generates the superuser's password at the first start and keeps it beside the database.
      const password = existsSync(path.join(dataDir, "postgres-password"))
        ? readFileSync(path.join(dataDir, "postgres-password"), "utf8").trim()
        : undefined;
      if (!password) return undefined;
      for (const pid of findPids("postgres", "-D", dataDir)) {
        const args = cmdline(pid);
        const port = args.match(/ -p (\d+)/)?.[1];
        if (!port) continue;
        // Its only door is a Unix socket in the data directory, or 127.0.0.1 when that path is too long for one.
        const socketDir = args.match(/unix_socket_directories=(\S+)/)?.[1];
        return socketDir
          ? `postgres://postgres:${password}@localhost:${port}/postgres?host=${encodeURIComponent(socketDir)}`
          : `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
      }
      return undefined;
    },
    async stop() {
      await stopProcess(proc, 20_000);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await waitReady(url, [proc], options.startTimeoutMs);
  } catch (err) {
    await target.stop();
    throw err;
  }
  return target;
}

/** Makes the test kit's throwaway Postgres as durable as a real one (it starts with fsync off). */
export async function makeDurable(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const setting of ["fsync", "synchronous_commit", "full_page_writes"]) {
      await client.query(`ALTER SYSTEM SET ${setting} = on`);
    }
    await client.query("SELECT pg_reload_conf()");
    await sleep(300);
    const { rows } = await client.query("SELECT name, setting FROM pg_settings WHERE name IN ('fsync','synchronous_commit')");
    const off = rows.filter((r) => r.setting !== "on");
    if (off.length > 0) throw new Error(`could not turn on ${off.map((r) => r.name).join(", ")}`);
  } finally {
    await client.end();
  }
}

async function createDatabase(url, name) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const out = new URL(url);
  out.pathname = `/${name}`;
  return out.toString();
}

async function startSplit(options) {
  const { startPostgres, startRedis } = await import("@langopen/testkit");
  const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  const procs = [];
  const stopAll = async () => {
    for (const proc of [...procs].reverse()) await stopProcess(proc, 15_000);
    await Promise.allSettled([postgres.stop(), redis.stop()]);
  };
  try {
    if (options.pgDurable) await makeDurable(postgres.url);
    const databaseUrl = await createDatabase(postgres.url, "langopen_bench");
    const pgPort = new URL(postgres.url).port;
    const redisPort = new URL(redis.url).port;
    const [apiPort, gatewayPort] = [await freePort(), await freePort()];
    const runtimePorts = [];
    for (let i = 0; i < (options.runtimes ?? 1); i++) runtimePorts.push(await freePort());
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const runtimeUrls = runtimePorts.map((port) => `http://127.0.0.1:${port}`).join(",");
    const env = { ...baseEnv(options), DATABASE_URL: databaseUrl, REDIS_URL: redis.url };
    // One internal secret for the installation; the runtime gets only what is derived from it.
    const internalSecret = generateInternalSecret();
    const runtimeCredentials = runtimeCredentialsOf(internalSecret);
    // name: the process's own, when a role runs more than once.
    const start = (role, extraEnv, name = role) => {
      const main = path.join(options.root, role === "gateway" ? "gateway/dist/main.js" : `services/${role}/dist/main.js`);
      const proc = startProcess(`langopen-split ${name}`, process.execPath, nodeArgs(options, `langopen-split.${name}`, main), {
        env: { ...env, ...extraEnv },
        cwd: options.root,
        logFile: path.join(options.logDir, `langopen-split-${name}.log`),
      });
      procs.push(proc);
      return proc;
    };
    // The api-server migrates the database before it listens; the others need it.
    const api = start("api-server", {
      RPC_HOST: "127.0.0.1",
      RPC_PORT: String(apiPort),
      LANGOPEN_CONFIG: options.config,
      RUNTIME_URL: runtimeUrls,
      LANGOPEN_INTERNAL_SECRET: internalSecret,
    });
    await waitForPort(apiPort, { timeoutMs: options.startTimeoutMs, alive: () => !api.exitInfo, what: "api-server" });
    // As an operator scales runtimes: one process per port, every URL given to the worker (and the api-server).
    const runtimes = runtimePorts.map((port, i) => {
      const runtimeEnv = {
        LANGOPEN_CONFIG: options.config,
        RPC_HOST: "127.0.0.1",
        RPC_PORT: String(port),
        API_SERVER_URL: apiUrl,
        LANGOPEN_RUNTIME_TOKEN: runtimeCredentials.token,
        LANGOPEN_RUNTIME_CALLER_TOKEN_SHA256: runtimeCredentials.callerTokenSha256,
      };
      return start("runtime-runner", runtimeEnv, runtimePorts.length > 1 ? `runtime-runner-${i + 1}` : "runtime-runner");
    });
    // The worker starts once every runtime listens: runs sent to one not listening yet would use up their attempts.
    for (const [i, port] of runtimePorts.entries()) {
      const proc = runtimes[i];
      await waitForPort(port, { timeoutMs: options.startTimeoutMs, alive: () => !proc.exitInfo, what: proc.name });
    }
    start("worker", {
      RUNTIME_URLS: runtimeUrls,
      API_SERVER_URL: apiUrl,
      LANGOPEN_CONFIG: options.config,
      LANGOPEN_INTERNAL_SECRET: internalSecret,
    });
    start("gateway", {
      PORT: String(gatewayPort),
      HOST: "127.0.0.1",
      API_SERVER_URL: apiUrl,
      LANGOPEN_INTERNAL_SECRET: internalSecret,
    });
    const url = `http://127.0.0.1:${gatewayPort}`;
    await waitReady(url, procs, options.startTimeoutMs);
    const infraRoots = () => [
      ...findPids("postgres", `-p ${pgPort}`).filter((pid) => !cmdline(pid).startsWith("postgres:")),
      ...findPids("redis-server", `:${redisPort}`),
    ];
    return {
      name: "langopen-split",
      url,
      procs,
      postgresSource: postgres.source,
      roots: () => [...procs.map((p) => p.pid), ...infraRoots()],
      postgresUrl: () => postgres.url,
      databaseUrl: () => databaseUrl,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function startReference(options) {
  const cli = require.resolve("@langchain/langgraph-cli/package.json").replace(/package\.json$/, "dist/cli/cli.mjs");
  // The in-memory server saves its state beside the config on exit and loads it on start: start empty.
  const saved = path.join(path.dirname(options.config), ".langgraph_api");
  await rm(saved, { recursive: true, force: true });
  const port = await freePort();
  const args = ["dev", "--port", String(port), "--host", "127.0.0.1", "--no-browser", "--no-reload", "--config", options.config];
  const proc = startProcess("reference", process.execPath, [cli, ...args], {
    env: { ...baseEnv(options), LANGGRAPH_CLI_NO_ANALYTICS: "1", BROWSER: "none" },
    cwd: path.dirname(options.config),
    logFile: path.join(options.logDir, "reference.log"),
  });
  const url = `http://127.0.0.1:${port}`;
  const target = {
    name: "reference",
    url,
    procs: [proc],
    roots: () => [proc.pid],
    postgresUrl: () => undefined,
    async stop() {
      await stopProcess(proc, 10_000);
      if (existsSync(saved)) await rm(saved, { recursive: true, force: true });
    },
  };
  try {
    await waitReady(url, [proc], options.startTimeoutMs);
  } catch (err) {
    await target.stop();
    throw err;
  }
  return target;
}
