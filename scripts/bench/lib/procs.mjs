// Child processes of the benchmark: started in process groups of their own, stopped in order (SIGTERM,
// then SIGKILL of the group and of every descendant seen), and measured through /proc (RSS, PSS, CPU).
import { spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import net from "node:net";

/** Every process started here and not yet known to be gone. */
const started = new Set();

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A free TCP port on the loopback interface. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves when host:port accepts TCP connections; rejects after timeoutMs or when `alive()` turns false. */
export async function waitForPort(port, { timeoutMs = 60_000, alive = () => true, what = `port ${port}` } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    if (!alive()) throw new Error(`${what}: the process exited before listening`);
    if (Date.now() > deadline) throw new Error(`${what}: not listening after ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

/**
 * Starts a command in a process group of its own, its output appended to logFile. The returned handle
 * remembers every descendant it has been seen with, so that stop() can reach them all.
 */
export function startProcess(name, command, args, { env, cwd, logFile }) {
  const fd = openSync(logFile, "a");
  const child = spawn(command, args, { env, cwd, detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const proc = {
    name,
    pid: child.pid,
    logFile,
    exitInfo: undefined,
    /** pid -> start time (clock ticks since boot), to never signal a reused pid. */
    seen: new Map(),
  };
  proc.exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      proc.exitInfo = { code, signal };
      resolve(proc.exitInfo);
    });
    child.once("error", (err) => {
      proc.exitInfo = { code: null, signal: null, error: err.message };
      resolve(proc.exitInfo);
    });
  });
  if (child.pid !== undefined) {
    started.add(proc);
    remember(proc);
  }
  return proc;
}

/** Records the current process tree of proc (called on every measurement too). */
function remember(proc) {
  for (const pid of descendantsOf([proc.pid], true)) {
    const stat = readStat(pid);
    if (stat) proc.seen.set(pid, stat.starttime);
  }
}

function isSame(pid, starttime) {
  const stat = readStat(pid);
  return stat !== undefined && stat.starttime === starttime && stat.state !== "Z";
}

function killQuietly(pid, signal) {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Stops proc: SIGTERM to its main process, up to graceMs for an orderly exit, then SIGKILL to all that is left. */
export async function stopProcess(proc, graceMs = 15_000) {
  if (!started.has(proc)) return;
  remember(proc);
  if (!proc.exitInfo) {
    killQuietly(proc.pid, "SIGTERM");
    const outcome = await Promise.race([proc.exited, sleep(graceMs).then(() => "timeout")]);
    if (outcome === "timeout") {
      killQuietly(-proc.pid, "SIGKILL");
      await Promise.race([proc.exited, sleep(3_000)]);
    }
  }
  // Whatever the orderly stop left behind (in the group, or children that left it).
  killQuietly(-proc.pid, "SIGKILL");
  for (const [pid, starttime] of proc.seen) if (pid !== proc.pid && isSame(pid, starttime)) killQuietly(pid, "SIGKILL");
  started.delete(proc);
}

/** Last resort on exit: SIGKILL to everything started and not stopped (synchronous). */
export function killAllSync() {
  for (const proc of started) {
    killQuietly(-proc.pid, "SIGKILL");
    for (const [pid, starttime] of proc.seen) if (isSame(pid, starttime)) killQuietly(pid, "SIGKILL");
  }
  started.clear();
}

/** Fields of /proc/<pid>/stat that we use; undefined when the process is gone. */
export function readStat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return {
    state: fields[0],
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    utime: Number(fields[11]),
    stime: Number(fields[12]),
    starttime: fields[19],
  };
}

function allPids() {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** The given pids and all their descendants (optionally the roots too). */
export function descendantsOf(roots, includeRoots = true) {
  const children = new Map();
  for (const pid of allPids()) {
    const stat = readStat(pid);
    if (!stat) continue;
    if (!children.has(stat.ppid)) children.set(stat.ppid, []);
    children.get(stat.ppid).push(pid);
  }
  const out = [];
  const queue = [...roots];
  const seen = new Set();
  while (queue.length > 0) {
    const pid = queue.shift();
    if (seen.has(pid)) continue;
    seen.add(pid);
    if (includeRoots || !roots.includes(pid)) out.push(pid);
    for (const child of children.get(pid) ?? []) queue.push(child);
  }
  return out.filter((pid) => readStat(pid) !== undefined);
}

/** pids whose command line matches every given string (for servers started by the test kit). */
export function findPids(...needles) {
  return allPids().filter((pid) => {
    const cmd = cmdline(pid);
    return cmd !== "" && needles.every((needle) => cmd.includes(needle));
  });
}

export function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

function statusKb(pid, field) {
  try {
    const match = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

function pssKb(pid) {
  try {
    const match = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8").match(/^Pss:\s+(\d+) kB/m);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Names a process of a target by its command line. */
export function roleOf(pid) {
  const cmd = cmdline(pid);
  const rules = [
    [/launcher\/dist\/main\.js/, "launcher (gateway+api-server+worker)"],
    [/runtime-runner\/dist\/main\.js/, "runtime-runner"],
    [/api-server\/dist\/main\.js/, "api-server"],
    [/worker\/dist\/main\.js/, "worker"],
    [/gateway\/dist\/main\.js/, "gateway"],
    [/langgraph-cli\/dist\/cli\/cli\.mjs/, "langgraph-cli (supervisor)"],
    [/tsx\/dist\/cli\.mjs/, "tsx (loader supervisor)"],
    [/langgraph-api\/dist\/cli\/entrypoint\.mjs/, "langgraph-api server"],
    [/^postgres: /, "postgres"],
    [/\/postgres(\s|$)/, "postgres"],
    [/redis-server/, "redis"],
    [/@esbuild\/[^/]+\/bin\/esbuild/, "esbuild (the reference's TypeScript loader)"],
    [/^\S*node\s/, "node (other)"],
  ];
  for (const [pattern, role] of rules) if (pattern.test(cmd)) return role;
  // Anything else by its program's file name only: results must not carry paths of the machine.
  return (cmd.split(" ")[0] ?? "").split("/").at(-1) || "?";
}

/** Memory of a process tree, one entry per process: VmRSS, RssAnon and PSS in kB. */
export function memoryOf(roots) {
  return descendantsOf(roots).map((pid) => ({
    pid,
    role: roleOf(pid),
    rssKb: statusKb(pid, "VmRSS"),
    anonKb: statusKb(pid, "RssAnon"),
    pssKb: pssKb(pid),
  }));
}

/** CPU clock ticks (user + system) of every process in the trees, by pid, with their start times. */
export function cpuTicksOf(roots) {
  const out = new Map();
  for (const pid of descendantsOf(roots)) {
    const stat = readStat(pid);
    if (stat) out.set(pid, { ticks: stat.utime + stat.stime, starttime: stat.starttime, role: roleOf(pid) });
  }
  return out;
}

/** CPU seconds spent between two cpuTicksOf snapshots, by role (processes born in between count from zero). */
export function cpuSpent(before, after, ticksPerSecond = 100) {
  const byRole = {};
  for (const [pid, now] of after) {
    const then = before.get(pid);
    const base = then && then.starttime === now.starttime ? then.ticks : 0;
    byRole[now.role] = (byRole[now.role] ?? 0) + (now.ticks - base) / ticksPerSecond;
  }
  return byRole;
}

export function trackTree(proc) {
  remember(proc);
}

export function logTail(file, chars = 3_000) {
  try {
    const text = readFileSync(file, "utf8");
    return text.slice(-chars);
  } catch {
    return "(no log)";
  }
}
