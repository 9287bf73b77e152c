import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { rm, truncate } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import { freePort } from "@langopen/common";
import type { StartOptions } from "./postgres.js";
import { findExecutable, isRoot, makeTempDir, onProcessExit, readLogTail, run, STARTUP_TIMEOUT_MS, sleep } from "./process.js";

/** A throwaway redis-server on a loopback port: no persistence, stopped by stop(). */
export interface RedisServer {
  /** e.g. `redis://127.0.0.1:41235` */
  readonly url: string;
  /**
   * Stops the server and starts it again on the same port (for reconnection tests). Nothing is
   * persisted, so the data is gone afterwards.
   */
  restart(options?: { downForMs?: number }): Promise<void>;
  /** Stops the server and removes its directory. Safe to call more than once. */
  stop(): Promise<void>;
}

export const REDIS_NOT_INSTALLED =
  "redis-server is not installed: install Debian's redis-server package (apt-get install -y redis-server)";

const PORT_ATTEMPTS = 3;

/**
 * Starts a real redis-server (Debian's /usr/bin/redis-server) as a child process on a free loopback
 * port, without persistence. As root, installs the Debian package when it is missing.
 */
export async function startRedis(options: StartOptions = {}): Promise<RedisServer> {
  const timeoutMs = options.timeoutMs ?? STARTUP_TIMEOUT_MS;
  const binary = await redisServerBinary();
  const dir = await makeTempDir("redis");
  const log = join(dir, "redis.log");
  let child: ChildProcess | undefined;
  let port = 0;

  const launch = async (candidate: number): Promise<void> => {
    await truncate(log).catch(() => {});
    const args = [
      ...["--port", String(candidate), "--bind", "127.0.0.1"],
      ...["--save", "", "--appendonly", "no", "--daemonize", "no"],
      ...["--dir", dir, "--logfile", log],
    ];
    const started = spawn(binary, args, { stdio: "ignore", cwd: dir });
    started.unref(); // a forgotten stop() must not keep the test process alive; the exit hook kills it
    child = started;
    const exited = new Promise<string>((resolve) => {
      started.once("exit", (code, signal) => resolve(`exited (code ${code ?? "none"}, signal ${signal ?? "none"})`));
      started.once("error", (err) => resolve(`could not be run: ${err.message}`));
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await ping(candidate)) return;
      const outcome = await Promise.race([exited, sleep(50).then(() => undefined)]);
      if (outcome !== undefined || Date.now() > deadline) {
        if (outcome === undefined) await terminate(started);
        const why = outcome ?? `did not answer PING within ${timeoutMs / 1000} s`;
        throw new RedisStartError(`redis-server (${binary}) ${why}\nServer log:\n${await readLogTail(log)}`);
      }
    }
  };

  try {
    for (let attempt = 1; port === 0; attempt++) {
      const candidate = await freePort();
      try {
        await launch(candidate);
        port = candidate;
      } catch (err) {
        const portTaken = err instanceof RedisStartError && /address already in use/i.test(err.message);
        if (!portTaken || attempt >= PORT_ATTEMPTS) throw err;
      }
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    throw err;
  }

  const unregister = onProcessExit(() => {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  let stopped: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    async restart(options = {}) {
      if (child) await terminate(child);
      if (options.downForMs) await new Promise((r) => setTimeout(r, options.downForMs));
      await launch(port);
    },
    stop() {
      stopped ??= (async () => {
        unregister();
        if (child) await terminate(child);
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

class RedisStartError extends Error {}

let installing: Promise<void> | undefined;

/** The redis-server executable; as root, installs Debian's package first if it is missing. */
async function redisServerBinary(): Promise<string> {
  const find = () => findExecutable("redis-server", ["/usr/bin/redis-server"]);
  const found = find();
  if (found) return found;
  if (!isRoot) throw new Error(REDIS_NOT_INSTALLED);
  installing ??= installRedis();
  await installing;
  const installed = find();
  if (!installed) throw new Error(REDIS_NOT_INSTALLED);
  return installed;
}

async function installRedis(): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () =>
    run("apt-get", ["-o", "DPkg::Lock::Timeout=120", "install", "-y", "--no-install-recommends", "redis-server"], {
      env,
      timeoutMs: 300_000,
    });
  try {
    await install();
  } catch {
    // Most often a stale or missing package index.
    try {
      await run("apt-get", ["update"], { env, timeoutMs: 300_000 });
      await install();
    } catch (err) {
      throw new Error(`${REDIS_NOT_INSTALLED}. Installing it failed: ${err instanceof Error ? err.message : err}`);
    }
  }
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the process has exited. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** True when a Redis server answers PING on the port. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString("latin1");
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}
