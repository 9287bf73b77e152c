import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { freePort } from "@langopen/common";
import { until } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_GRAPHS } from "./test-fixtures/stack.js";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

interface Started {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** `npm start` as a user runs it: no DATABASE_URL, no REDIS_URL, an embedded Postgres. */
async function start(dataDir: string): Promise<Started> {
  const port = await freePort();
  const { DATABASE_URL: _d, REDIS_URL: _r, ...env } = process.env;
  const child = spawn(process.execPath, [MAIN, "--config", TEST_GRAPHS, "--port", String(port)], {
    env: { ...env, LANGOPEN_DATA_DIR: dataDir, LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  // A first start initialises a Postgres cluster; on a loaded machine that takes a while.
  const deadline = Date.now() + 150_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`LangOpen exited with ${child.exitCode}:\n${output}`);
    try {
      if ((await fetch(`${url}/ok`)).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`LangOpen did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, url, output: () => output };
}

async function stop(started: Started): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => started.child.once("exit", (code) => resolve(code)));
  started.child.kill("SIGTERM");
  return exited;
}

describe("npm start with nothing else installed", () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "langopen-embedded-"));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it("serves runs on an embedded Postgres and keeps them across a restart", { timeout: 400_000 }, async () => {
    const first = await start(dataDir);
    const info = (await (await fetch(`${first.url}/info`)).json()) as { version?: string };
    expect(info.version).toBe(JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8")).version);
    const client = new Client({ apiUrl: first.url });
    const thread = await client.threads.create({ metadata: { kept: true } });
    const values = await client.runs.wait(thread.thread_id, "echo", {
      input: { messages: [{ role: "human", content: "still there?" }] },
    });
    expect((values as { messages: Array<{ content: string }> }).messages.at(-1)?.content).toBe("You said: still there?");
    expect(await stop(first)).toBe(0);

    const second = await start(dataDir);
    try {
      const again = new Client({ apiUrl: second.url });
      const kept = await again.threads.get(thread.thread_id);
      expect(kept.metadata).toEqual({ kept: true, graph_id: "echo", assistant_id: expect.any(String) });
      const state = await again.threads.getState(thread.thread_id);
      expect((state.values as { messages: unknown[] }).messages).toHaveLength(2);
    } finally {
      expect(await stop(second)).toBe(0);
    }
  });

  it("starts again after its launcher was killed: the runtime went with it, the Postgres it left is stopped", {
    timeout: 400_000,
  }, async () => {
    const first = await start(dataDir);
    const thread = await new Client({ apiUrl: first.url }).threads.create({ metadata: { before: "the kill" } });
    const children = await childrenOf(first.child.pid as number);
    const runtime = children.find((c) => c.args.includes("runtime-runner"));
    const postgres = children.find((c) => c.args.includes("postgres"));
    expect(runtime && postgres).toBeTruthy();
    const exited = new Promise((resolve) => first.child.once("exit", resolve));
    first.child.kill("SIGKILL");
    await exited;
    // The runtime child notices its launcher is gone (IPC channel closed) and stops; Postgres does not.
    await until(async () => !(await alive(runtime?.pid as number)), "the runtime child to exit", {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    expect(await alive(postgres?.pid as number)).toBe(true);

    const second = await start(dataDir);
    try {
      expect(await alive(postgres?.pid as number)).toBe(false);
      expect(second.output()).toContain("Stopping the Postgres a killed launcher left running");
      const kept = await new Client({ apiUrl: second.url }).threads.get(thread.thread_id);
      expect(kept.metadata).toMatchObject({ before: "the kill" });
    } finally {
      expect(await stop(second)).toBe(0);
    }
  });
});

/** The processes whose parent is pid, from /proc. */
async function childrenOf(pid: number): Promise<Array<{ pid: number; args: string }>> {
  const out: Array<{ pid: number; args: string }> = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) !== pid) continue;
    const args = (await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "")).split("\0").join(" ");
    out.push({ pid: Number(entry), args });
  }
  return out;
}

/** Whether the process is alive (a zombie counts as gone). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  return stat !== undefined && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}
