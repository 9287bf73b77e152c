// The floor of this machine, measured beside the targets: what an empty fastify route and a bare Postgres
// commit loop reach here. No server can beat these; ratios against them show what the machine allows.
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort, startProcess, stopProcess, waitForPort } from "./procs.mjs";
import { load } from "./scenarios.mjs";

const run = promisify(execFile);

/** autocannon against an empty fastify POST route, 16 clients (the thread-create scenario's shape). */
export async function fastifyFloor({ root, logDir, durationS }) {
  const port = await freePort();
  const proc = startProcess(
    "floor fastify",
    process.execPath,
    [path.join(root, "scripts/bench/floor-server.mjs"), String(port)],
    {
      env: process.env,
      cwd: root,
      logFile: path.join(logDir, "floor-fastify.log"),
    },
  );
  try {
    await waitForPort(port, { timeoutMs: 20_000, alive: () => !proc.exitInfo, what: "fastify floor" });
    const url = `http://127.0.0.1:${port}`;
    await load({ url, path: "/", body: {}, connections: 16, durationS: 1 });
    const res = await load({ url, path: "/", body: {}, connections: 16, durationS });
    return { rps_16: res.rps, p50_ms_16: res.latencies[Math.floor(res.latencies.length / 2)] };
  } finally {
    await stopProcess(proc, 5_000);
  }
}

/** The echo graph run by LangGraph.js in one process with an in-memory checkpointer (floor-langgraph.mjs). */
export async function langgraphFloor({ root, durationS }) {
  const { stdout } = await run(process.execPath, [path.join(root, "scripts/bench/floor-langgraph.mjs"), String(durationS)], {
    cwd: root,
    timeout: (3 * durationS + 30) * 1000,
  });
  return JSON.parse(stdout.trim().split("\n").at(-1));
}

function pgbenchBinary() {
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    for (const version of readdirSync(root).sort().reverse()) {
      const bin = path.join(root, version, "bin", "pgbench");
      if (existsSync(bin)) return bin;
    }
  }
  return ["/usr/bin/pgbench", "/usr/local/bin/pgbench"].find((p) => existsSync(p));
}

async function withDatabase(serverUrl, name, fn) {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  try {
    return await fn(url.toString());
  } finally {
    const again = new pg.Client({ connectionString: serverUrl });
    await again.connect();
    await again.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await again.end();
  }
}

async function settingsOf(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      "SELECT name, setting FROM pg_settings WHERE name IN ('fsync','synchronous_commit','server_version')",
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  } finally {
    await client.end();
  }
}

/**
 * Commit rate of a Postgres server, on a scratch database: pgbench for durationS seconds with a script of
 * one single-row INSERT per transaction, 4 and 16 clients (and the default TPC-B-like script, 4 clients);
 * without pgbench, the same INSERT loop over 4 connections.
 */
export async function postgresFloor(serverUrl, { durationS }) {
  const settings = await settingsOf(serverUrl);
  return withDatabase(serverUrl, "langopen_bench_floor", async (url) => {
    const u = new URL(url);
    const env = {
      ...process.env,
      // A Unix socket's directory travels as the `host` parameter (the embedded Postgres has no TCP port).
      PGHOST: u.searchParams.get("host") ?? u.hostname,
      PGPORT: u.port,
      PGUSER: decodeURIComponent(u.username),
      PGPASSWORD: decodeURIComponent(u.password),
      PGDATABASE: u.pathname.slice(1),
    };
    const setup = new pg.Client({ connectionString: url });
    await setup.connect();
    await setup.query("CREATE TABLE commits (id bigserial PRIMARY KEY, v int NOT NULL, at timestamptz NOT NULL DEFAULT now())");
    await setup.end();
    const bin = pgbenchBinary();
    if (bin) {
      const dir = await mkdtemp(path.join(os.tmpdir(), "langopen-bench-pgbench-"));
      try {
        const script = path.join(dir, "insert.sql");
        await writeFile(script, "INSERT INTO commits (v) VALUES (1);\n");
        const tps = (out) => Number(out.match(/tps = ([\d.]+)/)?.[1] ?? Number.NaN);
        const opts = { env, timeout: (durationS + 60) * 1000 };
        const insert = await run(bin, ["-n", "-c", "4", "-j", "2", "-T", String(durationS), "-f", script], opts);
        const insert16 = await run(bin, ["-n", "-c", "16", "-j", "2", "-T", String(durationS), "-f", script], opts);
        await run(bin, ["-i", "-s", "1", "-q"], opts);
        const tpcb = await run(bin, ["-c", "4", "-j", "2", "-T", String(durationS)], opts);
        return {
          tool: "pgbench",
          settings,
          insert_tps: tps(insert.stdout),
          insert_tps_16: tps(insert16.stdout),
          tpcb_tps: tps(tpcb.stdout),
        };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    const clients = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        return c;
      }),
    );
    let count = 0;
    const end = Date.now() + durationS * 1000;
    const t0 = performance.now();
    await Promise.all(
      clients.map(async (c) => {
        while (Date.now() < end) {
          await c.query("INSERT INTO commits (v) VALUES (1)");
          count++;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    await Promise.all(clients.map((c) => c.end()));
    return { tool: "node pg loop", settings, insert_tps: count / seconds };
  });
}
