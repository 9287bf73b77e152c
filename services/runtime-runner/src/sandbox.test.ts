import { type ChildProcess, spawnSync } from "node:child_process";
import { chmod, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeRun, json } from "./test-fixtures/run-helpers.js";
import { readyUrl, type SplitRuntime, spawnSplitRuntime } from "./test-fixtures/split-runtime.js";

/**
 * Split mode (dist/main.js started with its credentials in its environment): the process that
 * holds them runs no graph code; it supervises a sandboxed child, which gets them over IPC. A
 * graph probing its surroundings finds neither the credentials nor a way to them. The same
 * holds with the child in gVisor (LANGOPEN_SANDBOX=gvisor; needs runsc and root, which CI has).
 */
const REPO_MODULES = fileURLToPath(new URL("../../../node_modules", import.meta.url));

const PROBE_GRAPH = `
import { execSync } from "node:child_process";
import fs from "node:fs";
import { Annotation, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({ report: Annotation() });

function attempt(fn) {
  try {
    return "allowed: " + String(fn()).slice(0, 200).replaceAll("\\\\0", " ");
  } catch (err) {
    return "denied: " + (err.code ?? err.message);
  }
}

export const graph = new StateGraph(State)
  .addNode("probe", () => ({
    report: {
      variables: Object.keys(process.env).filter((k) => k.startsWith("LANGOPEN_")),
      uid: process.getuid(),
      supervisorEnviron: attempt(() => fs.readFileSync("/proc/" + process.ppid + "/environ", "utf8")),
      ownEnviron: attempt(() => fs.readFileSync("/proc/self/environ", "utf8")),
      spawnProcess: attempt(() => execSync("id").toString()),
      signalSupervisor: attempt(() => process.kill(process.ppid, 0)),
    },
  }))
  .addEdge("__start__", "probe")
  .compile();
`;

const canRunGvisor =
  spawnSync("sh", ["-c", "command -v runsc"], { encoding: "utf8" }).stdout.trim() !== "" && process.getuid?.() === 0;
const MODES = ["node", ...(canRunGvisor || process.env.CI ? ["gvisor"] : [])] as const;

describe.each(MODES)("split mode, LANGOPEN_SANDBOX=%s: the runtime-runner supervises a sandboxed child", (mode) => {
  let dir: string;
  let child: ChildProcess;
  let runtime: SplitRuntime;
  let url: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "langopen-split-sandbox-"));
    // The sandbox user must be able to read the project.
    await chmod(dir, 0o755);
    await symlink(REPO_MODULES, path.join(dir, "node_modules"), "dir");
    await writeFile(path.join(dir, "probe.mjs"), PROBE_GRAPH);
    await writeFile(path.join(dir, "langgraph.json"), JSON.stringify({ graphs: { probe: "./probe.mjs:graph" } }));
    runtime = await spawnSplitRuntime(path.join(dir, "langgraph.json"), { LANGOPEN_SANDBOX: mode });
    child = runtime.child;
    url = await readyUrl(runtime);
  }, 90_000);

  afterAll(async () => {
    if (child?.exitCode === null) {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    }
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps the credentials out of the graph code's reach", { timeout: 60_000 }, async () => {
    const client = runtime.client(url);
    const run = await executeRun(client, { graphId: "probe", spec: { inputJson: json({}) } });
    expect(run.outcome).toBe("SUCCESS");
    const report = (run.values as { report: Record<string, unknown> }).report;
    expect(report.variables).toEqual([]);
    expect(report.supervisorEnviron).toMatch(/^denied: /);
    expect(report.ownEnviron).toMatch(/^denied: /);
    expect(report.spawnProcess).toMatch(/^denied: /);
    expect(JSON.stringify(report)).not.toContain(runtime.credentials.token);
    if (process.getuid?.() === 0) {
      expect(report.uid).toBe(65534);
      // In gVisor the supervisor is not even in the child's process table (its parent there is none).
      if (mode === "node") expect(report.signalSupervisor).toBe("denied: EPERM");
    }
  });

  it("stops, with its child, on SIGTERM with exit code 0", { timeout: 30_000 }, async () => {
    const supervisor = child.pid as number;
    // Inside gVisor the child logs the pids of its own process table: only the host's count here.
    const pids = mode === "node" ? [...runtime.output().matchAll(/"pid":(\d+)/g)].map((m) => Number(m[1])) : [supervisor];
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    // No process of the pair is left (the child stops as its supervisor goes); in gVisor, no
    // runsc of the supervisor's containers (named langopen-<its pid>-…) either.
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const runscLeft = () =>
      spawnSync("ps", ["-eo", "args"], { encoding: "utf8" })
        .stdout.split("\n")
        .filter((line) => line.includes("runsc") && line.includes(`langopen-${supervisor}-`));
    const deadline = Date.now() + 10_000;
    while ((pids.some(alive) || runscLeft().length > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(pids.filter(alive)).toEqual([]);
    expect(runscLeft()).toEqual([]);
  });
});
