import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { freePort } from "@langopen/common";
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
    const values = await client.runs.wait(thread.thread_id, "echo", { input: { messages: [{ role: "human", content: "still there?" }] } });
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
});
