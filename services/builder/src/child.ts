import { spawn } from "node:child_process";

export interface ChildOptions {
  cwd: string;
  /** The child's whole environment: nothing of this process's is passed on. */
  env: Record<string, string>;
  /** Kills the child and everything it started (its process group), then rejects with the signal's reason. */
  signal: AbortSignal;
  /** Each line of output, as it comes. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** The user the child runs as (this process must be root); absent: this process's. */
  user?: BuildUser | undefined;
}

/** An unprivileged user for what a build runs (git, npm). */
export interface BuildUser {
  uid: number;
  gid: number;
}

export interface ChildResult {
  /** Exit status; null when the child was ended by a signal. */
  code: number | null;
  /** stdout, at most its first MiB. */
  stdout: string;
  /** The last lines of stderr (at most 50). */
  stderrLines: string[];
}

const MAX_STDOUT = 1024 * 1024;
const STDERR_LINES = 50;

/**
 * Runs a program without a shell, in a process group of its own so that a cancelled build kills
 * what it started too (npm's children, git's helpers). Resolves once it exited, whatever its
 * status; rejects when it cannot be started or when `signal` aborts.
 */
export function runChild(command: string, args: readonly string[], options: ChildOptions): Promise<ChildResult> {
  const { signal } = options;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
      shell: false,
      ...(options.user && { uid: options.user.uid, gid: options.user.gid }),
    });
    let stdout = "";
    const stderrLines: string[] = [];
    const splitter = (stream: "stdout" | "stderr") => {
      let rest = "";
      return {
        push(chunk: string) {
          const parts = (rest + chunk).split("\n");
          rest = parts.pop() ?? "";
          for (const part of parts) emit(part);
        },
        end() {
          if (rest !== "") emit(rest);
          rest = "";
        },
      };
      function emit(raw: string) {
        const line = raw.replace(/\r/g, "").trimEnd();
        if (line === "") return;
        if (stream === "stderr") {
          stderrLines.push(line);
          if (stderrLines.length > STDERR_LINES) stderrLines.shift();
        }
        options.onLine?.(line, stream);
      }
    };
    const out = splitter("stdout");
    const err = splitter("stderr");
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      if (stdout.length < MAX_STDOUT) stdout += chunk.slice(0, MAX_STDOUT - stdout.length);
      out.push(chunk);
    });
    child.stderr.on("data", (chunk: string) => err.push(chunk));
    const kill = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    signal.addEventListener("abort", kill, { once: true });
    child.once("error", (error: NodeJS.ErrnoException) => {
      signal.removeEventListener("abort", kill);
      reject(error.code === "ENOENT" ? new Error(`${command} is not installed (not found on PATH)`) : error);
    });
    child.once("close", (code) => {
      signal.removeEventListener("abort", kill);
      out.end();
      err.end();
      if (signal.aborted) reject(signal.reason);
      else resolve({ code, stdout, stderrLines });
    });
  });
}
