import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Client } from "@langchain/langgraph-sdk";
import { freePort } from "@langopen/common";
import { until } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LauncherProcess, repeatedKeys, spawnLauncher } from "./test-fixtures/launcher-process.js";
import { TEST_GRAPHS } from "./test-fixtures/stack.js";

let dataDir: string;
let launcher: LauncherProcess | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "langopen-ctrl-c-"));
});
afterAll(async () => {
  // A launcher left running by a failed test goes, with its whole group.
  if (launcher && launcher.child.exitCode === null) process.kill(-(launcher.child.pid as number), "SIGKILL");
  await rm(dataDir, { recursive: true, force: true });
});

/** The pids of the processes whose command line mentions the text, from /proc. */
async function processesWith(text: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // A zombie is gone already.
    if (cmdline.includes(text) && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z") pids.push(Number(entry));
  }
  return pids;
}

describe("Ctrl-C in the terminal running npm start", () => {
  it("stops everything at once, after the run in flight, with one Stopped line and no error", { timeout: 300_000 }, async () => {
    const port = await freePort();
    // As a user runs it: an embedded Postgres, no Redis; in a process group of its own, as a terminal's job.
    const { DATABASE_URL: _d, REDIS_URL: _r, ...env } = process.env;
    launcher = spawnLauncher(
      ["--config", TEST_GRAPHS, "--port", String(port)],
      { ...env, LANGOPEN_DATA_DIR: dataDir, LOG_LEVEL: "info" },
      { detached: true },
    );
    await launcher.waitFor("LangOpen is ready", 240_000);
    expect(await processesWith(path.join(dataDir, "postgres"))).not.toEqual([]);

    // A run of about two seconds is in flight when Ctrl-C comes.
    const client = new Client({ apiUrl: `http://127.0.0.1:${port}` });
    const thread = await client.threads.create();
    const run = await client.runs.create(thread.thread_id, "slow", { input: {}, config: { configurable: { ticks: 20 } } });
    await until(async () => (await client.runs.get(thread.thread_id, run.run_id)).status === "running", "the run to start", {
      timeoutMs: 30_000,
      intervalMs: 50,
    });

    const pressed = Date.now();
    process.kill(-(launcher.child.pid as number), "SIGINT");
    const code = await Promise.race([
      launcher.exited,
      new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 10_000)),
    ]);
    const tookMs = Date.now() - pressed;
    console.log(`Ctrl-C to exit: ${tookMs} ms`);

    expect(code).toBe(0);
    expect(tookMs).toBeLessThan(10_000);
    const lines = launcher.lines();
    expect(lines.filter((line) => line.msg === "Stopped LangOpen")).toHaveLength(1);
    expect(lines.filter((line) => line.level >= 50)).toEqual([]);
    // The run ended as it should, on the runtime that had it: the runtime left the signal to the launcher.
    expect(lines.find((line) => line.msg === "Finished Run" && line.run_id === run.run_id)).toMatchObject({ outcome: "SUCCESS" });
    expect(lines.filter((line) => /Lost|Dependency is down|Returned run|Handed run back/.test(line.msg))).toEqual([]);
    // Every line carries each key once (the launcher's and its runtime's).
    expect(launcher.rawLines().filter((line) => repeatedKeys(line).length > 0)).toEqual([]);
    // Nothing is left running: not the runtime child, not Postgres.
    expect(await processesWith(path.join(dataDir, "postgres"))).toEqual([]);
    expect(lines.findLast((line) => line.msg === "Stopped embedded Postgres")).toBeDefined();
  });
});
