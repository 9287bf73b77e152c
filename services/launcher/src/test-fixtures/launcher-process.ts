import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

export interface LauncherProcess {
  readonly child: ChildProcess;
  /** stdout and stderr so far, interleaved. */
  output(): string;
  stderr(): string;
  /** The JSON log lines so far (of the launcher and of its runtime child), as written. */
  rawLines(): string[];
  lines(): Array<Record<string, unknown> & { level: number; msg: string }>;
  /** Resolves once a log line's msg matches; rejects if the process exits first or time runs out. */
  waitFor(msg: string | RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the exit code once the process has exited and its output (its children's too) is all read. */
  readonly exited: Promise<number | null>;
}

/**
 * `node services/launcher/dist/main.js args…`, as `npm start -- args…` runs it, with output
 * collected. `detached`: in a process group of its own, like a terminal's foreground job, so
 * `process.kill(-pid, "SIGINT")` is a Ctrl-C. `node`: the Node.js binary to run it on (default: this one).
 */
export function spawnLauncher(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { detached?: boolean; node?: string } = {},
): LauncherProcess {
  const child = spawn(options.node ?? process.execPath, [MAIN, ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.detached,
  });
  let output = "";
  let stderr = "";
  const waiters = new Set<() => void>();
  const collect = (chunk: Buffer, isErr: boolean) => {
    const text = chunk.toString("utf8");
    output += text;
    if (isErr) stderr += text;
    for (const wake of waiters) wake();
  };
  child.stdout?.on("data", (chunk: Buffer) => collect(chunk, false));
  child.stderr?.on("data", (chunk: Buffer) => collect(chunk, true));
  // Once its output is all read too (its runtime child writes to the same pipes).
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  const rawLines = () => output.split("\n").filter((line) => line.startsWith("{"));
  const lines = () => rawLines().map((line) => JSON.parse(line) as Record<string, unknown> & { level: number; msg: string });
  return {
    child,
    output: () => output,
    stderr: () => stderr,
    rawLines,
    lines,
    exited,
    waitFor(msg, timeoutMs = 120_000) {
      const matches = (line: { msg: string }) => (typeof msg === "string" ? line.msg === msg : msg.test(line.msg));
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines().find(matches);
          if (found) {
            done();
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no log line ${String(msg)} within ${timeoutMs} ms:\n${output}`));
        }, timeoutMs);
        const onExit = (code: number | null) => {
          // The last output may still be on its way.
          setTimeout(() => {
            check();
            done();
            reject(new Error(`the launcher exited with ${code} before ${String(msg)}:\n${output}`));
          }, 50);
        };
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off("exit", onExit);
        };
        waiters.add(check);
        child.once("exit", onExit);
        check();
      });
    },
  };
}

/**
 * The keys at the top level of a JSON object's text, in order and with repeats (JSON.parse
 * keeps only the last of a repeated key).
 */
export function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
    else if (c === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === "\\" ? 2 : 1;
      const text = json.slice(i, end + 1);
      i = end;
      if (depth === 1 && /^\s*:/.test(json.slice(end + 1, end + 3))) keys.push(JSON.parse(text) as string);
    }
  }
  return keys;
}

/** The keys that appear more than once at the top level of a JSON object's text. */
export function repeatedKeys(json: string): string[] {
  const keys = topLevelKeys(json);
  return [...new Set(keys.filter((key, i) => keys.indexOf(key) !== i))];
}
