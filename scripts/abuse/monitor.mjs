// What the abuse suite watches while an attack runs: `/ok` latency (one probe in flight at a time,
// each on a fresh loopback connection so that it never queues behind the attack's own connections,
// timed in a worker thread of its own: ok-prober.mjs),
// the RSS and PSS of every process of the server's tree (PSS from smaps_rollup, so pages shared
// between processes count once), Redis `used_memory`, and every process of the tree that exits.
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { Redis } from "ioredis";
import { cmdline, descendantsOf, readStat, roleOf } from "../bench/lib/procs.mjs";

const TICK_MS = 100;
const OK_TIMEOUT_MS = 10_000;
const TREE_EVERY = 10;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function kbOf(pid, file, field) {
  try {
    const text = readFileSync(`/proc/${pid}/${file}`, "utf8");
    const match = text.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * The tree's processes with their roles, and whether each is worth watching for exits: all but
 * Postgres backends, which come and go with connections (a postgres whose parent is a postgres;
 * their titles are not always `postgres: …`).
 */
function walkTree(rootPids) {
  const pids = descendantsOf(rootPids);
  const roles = new Map(pids.map((pid) => [pid, roleOf(pid)]));
  return pids.map((pid) => {
    const role = roles.get(pid);
    const parent = readStat(pid)?.ppid;
    const backend = role === "postgres" && (roles.get(parent) === "postgres" || cmdline(pid).startsWith("postgres:"));
    return { pid, role, watch: !backend && cmdline(pid) !== "" };
  });
}

export function percentile(values, p) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * Samples every TICK_MS until stop(). `roots()` gives the pids of the server's tree; `redisPort`
 * (optional) the Redis to read. Measurements go to the current window (begin/end), and the whole
 * run's peaks are kept too.
 */
export function startMonitor({ url, roots, redisPort }) {
  const redis =
    redisPort === undefined
      ? undefined
      : new Redis({ host: "127.0.0.1", port: redisPort, lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  redis?.on("error", () => {}); // a failed INFO shows as a missing sample

  /** pid -> {role, starttime} of every watched process seen alive. */
  const known = new Map();
  const exits = [];
  let window;
  let running = true;
  let redisInFlight = false;
  const overall = { peakPssKb: 0, peakRssKb: 0, peakRedisBytes: 0, peakByRole: {} };

  const newWindow = (name) => ({
    name,
    started: Date.now(),
    ok: [],
    okErrors: 0,
    peakPssKb: 0,
    peakRssKb: 0,
    peakRedisBytes: undefined,
    exits: [],
  });

  // Walking all of /proc is the costly part of a sample: the tree is walked every TREE_EVERY ticks,
  // and in between the known members are read (a process born meanwhile joins at the next walk).
  let tree = [];
  let ticks = 0;
  function sampleMemory() {
    if (ticks++ % TREE_EVERY === 0) tree = walkTree(roots());
    let pss = 0;
    let rss = 0;
    const byRole = {};
    const alive = new Set();
    for (const { pid, role, watch } of tree) {
      const p = kbOf(pid, "smaps_rollup", "Pss");
      const r = kbOf(pid, "status", "VmRSS");
      if (r === 0) continue; // gone since the walk
      pss += p;
      rss += r;
      byRole[role] = (byRole[role] ?? 0) + p;
      if (!watch) continue;
      alive.add(pid);
      if (!known.has(pid)) {
        const stat = readStat(pid);
        if (stat) known.set(pid, { role, starttime: stat.starttime });
      }
    }
    for (const [pid, info] of known) {
      if (alive.has(pid)) continue;
      if (!tree.some((t) => t.pid === pid) && ticks % TREE_EVERY !== 1) continue; // judged at the next walk
      const stat = readStat(pid);
      if (stat && stat.starttime === info.starttime && stat.state !== "Z") continue; // missed by the walk only
      known.delete(pid);
      const exit = { pid, role: info.role, at: Date.now(), during: window?.name ?? "(between attacks)" };
      exits.push(exit);
      window?.exits.push(exit);
    }
    overall.peakPssKb = Math.max(overall.peakPssKb, pss);
    overall.peakRssKb = Math.max(overall.peakRssKb, rss);
    for (const [role, kb] of Object.entries(byRole)) overall.peakByRole[role] = Math.max(overall.peakByRole[role] ?? 0, kb);
    if (window) {
      window.peakPssKb = Math.max(window.peakPssKb, pss);
      window.peakRssKb = Math.max(window.peakRssKb, rss);
    }
  }

  async function sampleRedis() {
    if (!redis || redisInFlight) return;
    redisInFlight = true;
    try {
      const info = await redis.info("memory");
      const used = Number(info.match(/^used_memory:(\d+)/m)?.[1]);
      if (Number.isFinite(used)) {
        overall.peakRedisBytes = Math.max(overall.peakRedisBytes, used);
        if (window) window.peakRedisBytes = Math.max(window.peakRedisBytes ?? 0, used);
      }
    } catch {
      // Redis busy or away: no sample
    } finally {
      redisInFlight = false;
    }
  }

  // Probes that started while a window was open count in it (a result may arrive after it ended).
  const prober = new Worker(new URL("./ok-prober.mjs", import.meta.url), {
    workerData: { url, tickMs: TICK_MS, timeoutMs: OK_TIMEOUT_MS },
  });
  const windows = [];
  prober.on("message", (res) => {
    const target = windows.findLast((w) => w.started <= res.at && (w.ended === undefined || res.at < w.ended));
    if (!target) return;
    target.ok.push(res.ms);
    if (res.error || res.status !== 200) target.okErrors += 1;
  });

  const loop = (async () => {
    while (running) {
      const tick = Date.now();
      try {
        sampleMemory();
      } catch {
        // /proc raced with an exit: the next tick sees it
      }
      void sampleRedis();
      await sleep(Math.max(10, TICK_MS - (Date.now() - tick)));
    }
  })();

  return {
    exits,
    overall,
    /** Starts a measurement window (ends the current one). */
    begin(name) {
      if (window) window.ended = Date.now();
      window = newWindow(name);
      windows.push(window);
    },
    /** Ends the window; returns its figures. */
    end() {
      const w = window;
      window = undefined;
      if (!w) return undefined;
      w.ended = Date.now();
      windows.splice(0, windows.length - 4);
      return {
        name: w.name,
        seconds: (Date.now() - w.started) / 1000,
        okSamples: w.ok.length,
        okErrors: w.okErrors,
        okP50: percentile(w.ok, 50),
        okP99: percentile(w.ok, 99),
        okMax: w.ok.length ? Math.max(...w.ok) : undefined,
        peakPssMb: w.peakPssKb / 1024,
        peakRssMb: w.peakRssKb / 1024,
        peakRedisMb: w.peakRedisBytes === undefined ? undefined : w.peakRedisBytes / 1024 / 1024,
        exits: w.exits,
      };
    },
    async stop() {
      running = false;
      prober.postMessage("stop");
      await Promise.all([loop, new Promise((resolve) => prober.once("exit", resolve))]);
      redis?.disconnect();
    },
  };
}
