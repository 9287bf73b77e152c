import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

/** How long a throwaway server may take to come up before the harness gives up. */
export const STARTUP_TIMEOUT_MS = 30_000;

export const isRoot = process.getuid?.() === 0;

export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `langopen-${prefix}-`));
}

export interface RunOptions {
  /** Kills the command (SIGKILL) and rejects once this many milliseconds have passed. */
  timeoutMs: number;
  uid?: number;
  gid?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Runs a command to completion; resolves with its output, rejects with it on failure or timeout. */
export function run(command: string, args: readonly string[], options: RunOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      uid: options.uid,
      gid: options.gid,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const collect = (chunk: Buffer) => {
      // Keep the tail only: the end of the output is what explains a failure.
      output = (output + chunk.toString("utf8")).slice(-20_000);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    const commandLine = [command, ...args].join(" ");
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`Could not run ${commandLine}: ${err.message}`));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && !timedOut) return resolve(output);
      const why = timedOut
        ? `did not finish within ${Math.round(options.timeoutMs / 1000)} s`
        : `failed (exit code ${code ?? "none"}, signal ${signal ?? "none"})`;
      reject(new Error(`${commandLine} ${why}${output ? `:\n${output.trimEnd()}` : ""}`));
    });
  });
}

/** The absolute path of an executable: the first candidate that exists, else a lookup on PATH. */
export function findExecutable(name: string, candidates: readonly string[] = []): string | undefined {
  const pathDirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  for (const file of [...candidates, ...pathDirs.map((dir) => join(dir, name))]) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not there; try the next one.
    }
  }
  return undefined;
}

/** The tail of a log file, for error messages; never throws. */
export async function readLogTail(file: string, maxChars = 4_000): Promise<string> {
  try {
    const text = (await readFile(file, "utf8")).trimEnd();
    return text.length > maxChars ? `…${text.slice(-maxChars)}` : text || "(empty)";
  } catch {
    return "(no log written)";
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with "<what> timed out after N s" if the promise has not settled in time. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

const exitCleanups = new Set<() => void>();
let exitHookInstalled = false;

/**
 * Registers a synchronous last-resort cleanup, run when the process exits without having
 * stopped the server (a crashed run, a forgotten stop()). Returns the function that unregisters it.
 */
export function onProcessExit(cleanup: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const fn of exitCleanups) {
        try {
          fn();
        } catch {
          // Best effort: the process is going away.
        }
      }
    });
  }
  exitCleanups.add(cleanup);
  return () => exitCleanups.delete(cleanup);
}

/** Looks up the numeric uid and gid of an OS user. */
export async function userIds(name: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([
      run("id", ["-u", name], { timeoutMs: 5_000 }),
      run("id", ["-g", name], { timeoutMs: 5_000 }),
    ]);
    return { uid: Number.parseInt(uid, 10), gid: Number.parseInt(gid, 10) };
  } catch {
    return undefined;
  }
}
