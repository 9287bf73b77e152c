import { type ChildProcess, spawnSync } from "node:child_process";
import { chmod, cp, mkdtemp, readdir, rm, symlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { until } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeRun, json } from "./test-fixtures/run-helpers.js";
import { type SplitRuntime, spawnSplitRuntime } from "./test-fixtures/split-runtime.js";

/**
 * Split mode's supervisor bounds its sandboxed child's memory as a launcher bounds each runtime
 * process (LANGOPEN_RUNTIME_MAX_MEMORY_MB: the data segment; in gVisor the sandbox's limit): a
 * run that allocates past it takes the child down, the supervisor says it ran out of memory and
 * starts it again on the project it prepared once (the TypeScript graph is not compiled again).
 */
const FIXTURE = fileURLToPath(new URL("./test-fixtures/memory", import.meta.url));
const REPO_MODULES = fileURLToPath(new URL("../../../node_modules", import.meta.url));
const BUILD_CACHE = path.join(REPO_MODULES, ".cache", "langopen");
const LIMIT_MB = 256;

const canRunGvisor =
  spawnSync("sh", ["-c", "command -v runsc"], { encoding: "utf8" }).stdout.trim() !== "" && process.getuid?.() === 0;
const MODES = ["node", ...(canRunGvisor || process.env.CI ? ["gvisor"] : [])] as const;

type Line = Record<string, unknown> & { msg: string };

describe.each(MODES)("split mode, LANGOPEN_SANDBOX=%s, LANGOPEN_RUNTIME_MAX_MEMORY_MB=256", (mode) => {
  let dir: string;
  let supervisor: ChildProcess;
  let runtime: SplitRuntime;
  let url: string;
  const lines = (): Line[] =>
    runtime
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Line);
  const count = (msg: string) => lines().filter((line) => line.msg === msg).length;
  const client = () => runtime.client(url);
  const echo = async (text: string) =>
    (await executeRun(client(), { graphId: "echo", spec: { inputJson: json({ text }) } })).values;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "langopen-split-memory-"));
    // The sandbox user must be able to read the project.
    await chmod(dir, 0o755);
    await cp(FIXTURE, dir, { recursive: true });
    await symlink(REPO_MODULES, path.join(dir, "node_modules"), "dir");
    runtime = await spawnSplitRuntime(path.join(dir, "langgraph.json"), {
      LANGOPEN_SANDBOX: mode,
      LANGOPEN_RUNTIME_MAX_MEMORY_MB: String(LIMIT_MB),
      LANGOPEN_TYPED_SCHEMAS: "false",
    });
    supervisor = runtime.child;
    await until(async () => count("Runtime is ready") > 0 || supervisor.exitCode !== null, "the runtime to be ready", {
      timeoutMs: 90_000,
      intervalMs: 100,
    });
    const ready = lines().find((line) => line.msg === "Runtime is ready");
    if (!ready) throw new Error(`the runtime did not start:\n${runtime.output()}`);
    url = ready.url as string;
  }, 120_000);

  afterAll(async () => {
    if (supervisor?.exitCode === null) {
      supervisor.kill("SIGKILL");
      await new Promise((resolve) => supervisor.once("exit", resolve));
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("ends a run that allocates past the limit, says the child ran out of memory and starts it again without preparing the project again", {
    timeout: 150_000,
  }, async () => {
    expect(await echo("before")).toEqual({ text: "before", reply: "You said: before" });

    await expect(executeRun(client(), { graphId: "hog", spec: { inputJson: json({}) } })).rejects.toThrow();
    await until(async () => count("Sandboxed runtime died; restarting it") > 0, "the supervisor to see its child die", {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const died = lines().find((line) => line.msg === "Sandboxed runtime died; restarting it") as Line;
    expect(died.out_of_memory).toBe(true);
    if (mode === "node") {
      expect(died.reason).toContain(
        `ran out of memory (heap limit Node's default; memory limit ${LIMIT_MB} MB, LANGOPEN_RUNTIME_MAX_MEMORY_MB)`,
      );
    } else {
      // Node sizes its default heap from the sandbox's memory: its heap limit or the sandbox's is met first.
      expect(died.reason).toMatch(new RegExp(`ran out of memory \\(.*${LIMIT_MB} MB, LANGOPEN_RUNTIME_MAX_MEMORY_MB\\)`));
    }

    // The supervisor stays, and its new child serves on the same address.
    expect(supervisor.exitCode).toBeNull();
    await until(async () => count("Runtime is ready") > 1, "the child to serve again", { timeoutMs: 90_000, intervalMs: 100 });
    expect(await echo("after")).toEqual({ text: "after", reply: "You said: after" });
    // One preparation (the TypeScript graph compiled once) for both children.
    expect(lines().filter((line) => line.msg === "Prepared the project for its runtime processes")).toEqual([
      expect.objectContaining({ sandbox: mode, compiled: 1 }),
    ]);
    expect(count("Started the sandboxed runtime")).toBe(2);
  });

  it("stops on SIGTERM with exit code 0 and removes its build folder", { timeout: 30_000 }, async () => {
    const pid = supervisor.pid as number;
    const builds = async () =>
      (await readdir(BUILD_CACHE).catch(() => [] as string[])).filter((name) => name.startsWith(`langopen-runtime-${pid}-`));
    expect(await builds()).toHaveLength(1);
    const exited = new Promise<number | null>((resolve) => supervisor.once("exit", (code) => resolve(code)));
    supervisor.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(await builds()).toEqual([]);
  });
});
