// The chaos topology: real Postgres and Redis (from the test harness) and every LangOpen service
// as its own process, each in its own process group so that it can be SIGKILLed, SIGSTOPped and
// SIGCONTed on its own. Everything listens on loopback ports; every wait is bounded.
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateInternalSecret, runtimeCredentialsOf } from "@langopen/common";
import { createTestDatabase, freePort, startPostgres, startRedis } from "@langopen/testkit";
import pg from "pg";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const GRAPHS_CONFIG = fileURLToPath(new URL("./graphs/langgraph.json", import.meta.url));

const MAINS = {
  "api-server": "services/api-server/dist/main.js",
  "runtime-runner": "services/runtime-runner/dist/main.js",
  worker: "services/worker/dist/main.js",
  gateway: "gateway/dist/main.js",
};

/** The log line each kind of service writes once it serves. */
const READY = {
  "api-server": /Started RPC server/,
  "runtime-runner": /Runtime is ready/,
  worker: /Started worker/,
  gateway: /Started gateway/,
};

const STARTUP_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
const MAX_RESTARTS = 5;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every service ever spawned, so that an exit of this script never leaves one behind. */
const spawned = new Set();

/** Exits nobody asked for: {name, exit, at, tail}. */
export const crashes = [];
process.once("exit", () => {
  for (const service of spawned) service.killNow();
});

/** One LangOpen service process; `start()` again after it exits starts it anew with the same env. */
class Service {
  constructor({ name, kind, port, env, logDir }) {
    this.name = name;
    this.kind = kind;
    this.port = port;
    this.env = env;
    this.logFile = join(logDir, `${name}.log`);
    this.child = undefined;
    this.exited = Promise.resolve();
    this.exit = undefined;
    this.logOffset = 0;
    this.starts = 0;
    this.restarts = 0;
    this.stopped = false;
    /** Filled from the worker's start line. */
    this.owner = undefined;
  }

  get pid() {
    return this.child?.pid;
  }

  get running() {
    return this.child !== undefined && this.exit === undefined;
  }

  /** Spawns the process and waits for its ready line; throws with the log tail if it never comes. */
  async start() {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.starts += 1;
    this.logOffset = fileSize(this.logFile);
    const fd = openSync(this.logFile, "a");
    let child;
    try {
      child = spawn(process.execPath, [join(ROOT, MAINS[this.kind])], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...this.env },
        stdio: ["ignore", fd, fd],
        detached: true, // its own process group: signals reach it and nothing else
      });
    } finally {
      closeSync(fd);
    }
    this.child = child;
    this.exit = undefined;
    this.stopped = false;
    this.expectExit = false;
    spawned.add(this);
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exit = { code, signal, at: Date.now() };
        if (!this.expectExit) {
          crashes.push({ name: this.name, exit: this.exit, at: this.exit.at, tail: tail(this.logFile, 1_500) });
          this.supervise();
        }
        resolve(this.exit);
      });
      child.once("error", (err) => {
        this.exit = { code: null, signal: null, error: err.message, at: Date.now() };
        resolve(this.exit);
      });
    });
    const line = await this.waitForLog(READY[this.kind], STARTUP_TIMEOUT_MS);
    if (this.kind === "worker") this.owner = line.owner;
    return this;
  }

  /** The JSON log lines this process wrote since its latest start. */
  logLines() {
    let text = "";
    try {
      text = readFileSync(this.logFile, "utf8").slice(this.logOffset);
    } catch {
      return [];
    }
    const out = [];
    for (const raw of text.split("\n")) {
      if (!raw.trim()) continue;
      try {
        out.push(JSON.parse(raw));
      } catch {
        out.push({ msg: raw, raw: true });
      }
    }
    return out;
  }

  /** Every JSON log line of this service, over all its starts. */
  allLogLines() {
    const saved = this.logOffset;
    this.logOffset = 0;
    try {
      return this.logLines();
    } finally {
      this.logOffset = saved;
    }
  }

  async waitForLog(pattern, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const hit = this.logLines().find((l) => pattern.test(String(l.msg)));
      if (hit) return hit;
      if (this.exit) break;
      await sleep(100);
    }
    const why = this.exit ? `exited (${JSON.stringify(this.exit)})` : `did not log ${pattern} within ${timeoutMs / 1000} s`;
    throw new Error(`${this.name} ${why}; log tail:\n${tail(this.logFile)}`);
  }

  /** Like a supervisor with a restart policy: a crashed service comes back after a second (5 times at most). */
  supervise() {
    if (this.restarts >= MAX_RESTARTS) return;
    this.restarts += 1;
    setTimeout(() => {
      if (this.running || this.expectExit) return;
      this.start().catch((err) =>
        crashes.push({ name: this.name, exit: { restartFailed: true }, at: Date.now(), tail: String(err) }),
      );
    }, 1_000);
  }

  signal(sig) {
    if (!this.running) return false;
    try {
      process.kill(-this.child.pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  /** SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; resolves with how it exited and how long it took. */
  async stop() {
    if (!this.running) return this.exit;
    const begun = Date.now();
    this.expectExit = true;
    this.signal("SIGCONT");
    this.signal("SIGTERM");
    const timer = setTimeout(() => this.signal("SIGKILL"), STOP_TIMEOUT_MS);
    const exit = await this.exited;
    clearTimeout(timer);
    this.stopped = true;
    return { ...exit, tookMs: Date.now() - begun };
  }

  async kill() {
    this.expectExit = true;
    this.signal("SIGKILL");
    const exit = await Promise.race([this.exited, sleep(STOP_TIMEOUT_MS).then(() => undefined)]);
    if (!exit) throw new Error(`${this.name} did not die on SIGKILL within ${STOP_TIMEOUT_MS / 1000} s`);
    return exit;
  }

  /** Synchronous last resort, for process exit. */
  killNow() {
    if (this.running) {
      try {
        process.kill(-this.child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

/** Runs SQL on a connection of its own. */
export async function execSql(url, sql, params) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000, statement_timeout: 30_000 });
  client.on("error", () => {}); // a lost connection surfaces through the query instead
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end().catch(() => {});
  }
}

function fileSize(file) {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function tail(file, chars = 3_000) {
  try {
    const text = readFileSync(file, "utf8");
    return text.length > chars ? `…${text.slice(-chars)}` : text;
  } catch {
    return "(no log)";
  }
}

/**
 * Test-only instrumentation in the chaos database (never in LangOpen's migrations): triggers that
 * record every change of a run's status, epoch or owner, and every checkpoint write together
 * with the run's epoch and status as the writing transaction saw them, each with the wall clock.
 */
const AUDIT_SQL = `
CREATE TABLE chaos_run_audit (
  id bigserial PRIMARY KEY,
  run_id uuid NOT NULL,
  op text NOT NULL,
  status text,
  epoch bigint,
  attempt integer,
  lease_owner text,
  at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION chaos_audit_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.epoch IS DISTINCT FROM OLD.epoch OR NEW.status IS DISTINCT FROM OLD.status
     OR NEW.lease_owner IS DISTINCT FROM OLD.lease_owner THEN
    INSERT INTO chaos_run_audit (run_id, op, status, epoch, attempt, lease_owner)
    VALUES (NEW.run_id, TG_OP, NEW.status, NEW.epoch, NEW.attempt, NEW.lease_owner);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER chaos_audit_run AFTER INSERT OR UPDATE ON runs FOR EACH ROW EXECUTE FUNCTION chaos_audit_run();

CREATE TABLE chaos_checkpoint_audit (
  id bigserial PRIMARY KEY,
  op text NOT NULL,
  thread_id uuid,
  checkpoint_ns text,
  checkpoint_id text,
  parent_checkpoint_id text,
  run_id uuid,
  type text,
  checkpoint bytea,
  metadata jsonb,
  run_epoch bigint,
  run_status text,
  run_owner text,
  at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION chaos_audit_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  SELECT epoch, status, lease_owner INTO r FROM runs WHERE run_id = NEW.run_id;
  INSERT INTO chaos_checkpoint_audit (op, thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, run_id, type,
                                      checkpoint, metadata, run_epoch, run_status, run_owner)
  VALUES (TG_OP, NEW.thread_id, NEW.checkpoint_ns, NEW.checkpoint_id, NEW.parent_checkpoint_id, NEW.run_id, NEW.type,
          NEW.checkpoint, NEW.metadata, r.epoch, r.status, r.lease_owner);
  RETURN NEW;
END $$;
CREATE TRIGGER chaos_audit_checkpoint BEFORE INSERT OR UPDATE ON checkpoints FOR EACH ROW EXECUTE FUNCTION chaos_audit_checkpoint();
`;

/**
 * Starts Postgres, Redis, then 2 api-servers, 2 runtime-runners, 3 workers and 2 gateways (counts
 * configurable), each its own process. Returns the handles and a stop().
 */
export async function startTopology(options) {
  const { logDir, traceDir, counts, leaseMs, pollMs, maxAttempts, logLevel, workerLogLevel, graceMs } = options;
  const pg = await startPostgres();
  const redis = await startRedis();
  const db = await createTestDatabase(pg.url);
  // --trace-warnings: a process warning (a listener leak, say) is logged with the stack that caused it.
  const common = { LOG_LEVEL: logLevel, SHUTDOWN_GRACE_MS: String(graceMs), NODE_OPTIONS: "--trace-warnings" };
  // One internal secret for the installation; the runtimes get only what is derived from it.
  const internalSecret = generateInternalSecret();
  const runtimeCredentials = runtimeCredentialsOf(internalSecret);
  const ports = async (n) => {
    const out = [];
    while (out.length < n) {
      const p = await freePort();
      if (!out.includes(p)) out.push(p);
    }
    return out;
  };
  const [apiPorts, runtimePorts, gatewayPorts] = [
    await ports(counts.api),
    await ports(counts.runtime),
    await ports(counts.gateway),
  ];
  const apiUrls = apiPorts.map((p) => `http://127.0.0.1:${p}`);
  const runtimeUrls = runtimePorts.map((p) => `http://127.0.0.1:${p}`);

  const apis = apiPorts.map(
    (port, i) =>
      new Service({
        name: `api-${i + 1}`,
        kind: "api-server",
        port,
        logDir,
        env: {
          ...common,
          DATABASE_URL: db.url,
          REDIS_URL: redis.url,
          RPC_HOST: "127.0.0.1",
          RPC_PORT: String(port),
          LANGOPEN_CONFIG: GRAPHS_CONFIG,
          RUNTIME_URL: runtimeUrls[i % runtimeUrls.length],
          LANGOPEN_INTERNAL_SECRET: internalSecret,
        },
      }),
  );
  const runtimes = runtimePorts.map(
    (port, i) =>
      new Service({
        name: `runtime-${i + 1}`,
        kind: "runtime-runner",
        port,
        logDir,
        env: {
          ...common,
          LANGOPEN_CONFIG: GRAPHS_CONFIG,
          RPC_HOST: "127.0.0.1",
          RPC_PORT: String(port),
          API_SERVER_URL: apiUrls.join(","),
          LANGOPEN_RUNTIME_TOKEN: runtimeCredentials.token,
          LANGOPEN_RUNTIME_CALLER_TOKEN_SHA256: runtimeCredentials.callerTokenSha256,
          CHAOS_TRACE_DIR: traceDir,
          CHAOS_RUNTIME_NAME: `runtime-${i + 1}`,
          // The chaos graph writes its traces to CHAOS_TRACE_DIR, outside the scratch folder the
          // sandbox lets graph code write; what this suite tests is delivery, not isolation.
          LANGOPEN_SANDBOX: "none",
        },
      }),
  );
  const workers = Array.from(
    { length: counts.worker },
    (_, i) =>
      new Service({
        name: `worker-${i + 1}`,
        kind: "worker",
        port: 0,
        logDir,
        env: {
          ...common,
          LOG_LEVEL: workerLogLevel,
          DATABASE_URL: db.url,
          REDIS_URL: redis.url,
          RUNTIME_URLS: runtimeUrls.join(","),
          WORKER_LEASE_MS: String(leaseMs),
          WORKER_POLL_MS: String(pollMs),
          WORKER_MAX_ATTEMPTS: String(maxAttempts),
          // One URL only: the worker's scheduler takes no list (it fails to start with one).
          API_SERVER_URL: apiUrls[0],
          LANGOPEN_INTERNAL_SECRET: internalSecret,
        },
      }),
  );
  const gateways = gatewayPorts.map(
    (port, i) =>
      new Service({
        name: `gateway-${i + 1}`,
        kind: "gateway",
        port,
        logDir,
        env: {
          ...common,
          HOST: "127.0.0.1",
          PORT: String(port),
          API_SERVER_URL: apiUrls.join(","),
          SSE_HEARTBEAT_MS: "1000",
          LANGOPEN_INTERNAL_SECRET: internalSecret,
        },
      }),
  );

  const all = [...apis, ...runtimes, ...workers, ...gateways];
  const stop = async () => {
    await Promise.allSettled(all.map((s) => s.stop()));
    await Promise.allSettled([db.drop(), redis.stop()]);
    await pg.stop().catch(() => {});
  };
  try {
    // One api-server first, so that the migrations are applied once before anything else starts.
    await apis[0].start();
    await execSql(db.url, AUDIT_SQL);
    await Promise.all(apis.slice(1).map((s) => s.start()));
    await Promise.all(runtimes.map((s) => s.start()));
    await Promise.all(workers.map((s) => s.start()));
    await Promise.all(gateways.map((s) => s.start()));
    // A service that logs its start line and dies right after must not go unnoticed.
    await sleep(1_500);
    const down = all.filter((s) => !s.running);
    if (down.length > 0)
      throw new Error(
        `${down.map((s) => s.name).join(", ")} exited right after starting:\n${down.map((s) => tail(s.logFile)).join("\n")}`,
      );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    pg,
    redis,
    databaseUrl: db.url,
    apis,
    runtimes,
    workers,
    gateways,
    all,
    gatewayUrls: gateways.map((g) => `http://127.0.0.1:${g.port}`),
    stop,
  };
}
