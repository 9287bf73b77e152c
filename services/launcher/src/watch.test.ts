import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { freePort } from "@langopen/common";
import { createTestDatabase, type TestDatabase, until } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type LauncherProcess, spawnLauncher } from "./test-fixtures/launcher-process.js";
import { statusOf } from "./test-fixtures/status.js";

const REPO_MODULES = fileURLToPath(new URL("../../../node_modules", import.meta.url));

/** A graph that waits `wait_ms` (from its input) and answers with its version. */
const agentSource = (version: string) => `
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
const State = Annotation.Root({ wait_ms: Annotation, reply: Annotation });
export const graph = new StateGraph(State)
  .addNode("answer", async (state) => {
    await new Promise((resolve) => setTimeout(resolve, state.wait_ms ?? 0));
    return { reply: "${version}" };
  })
  .addEdge(START, "answer")
  .addEdge("answer", END)
  .compile();
`;

/** The project's custom auth: everyone is "dev"; `refuse` names an event its handler refuses. */
const authSource = (refuse?: string) => `
import { Auth } from "@langchain/langgraph-sdk/auth";
export const auth = new Auth().authenticate(async () => ({ identity: "dev" }))${refuse ? `.on("${refuse}", () => false)` : ""};
`;
const projectConfig = (graphs: Record<string, string>) => JSON.stringify({ graphs, auth: { path: "./auth.mjs:auth" } });

let dir: string;
let db: TestDatabase;
let launcher: LauncherProcess;
let client: Client;

async function reply(graph: string, waitMs = 0): Promise<unknown> {
  const thread = await client.threads.create();
  const values = (await client.runs.wait(thread.thread_id, graph, { input: { wait_ms: waitMs } })) as { reply?: unknown };
  return values.reply;
}

/** Resolves once the launcher has logged `msg` more times than `before`. */
async function nextLine(msg: string, before: number): Promise<Record<string, unknown>> {
  await until(async () => launcher.lines().filter((line) => line.msg === msg).length > before, msg, {
    timeoutMs: 60_000,
    intervalMs: 50,
  });
  return launcher.lines().filter((line) => line.msg === msg)[before] as Record<string, unknown>;
}

/** Whether a process with this pid exists (signal 0 checks without sending). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const count = (msg: string) => launcher.lines().filter((line) => line.msg === msg).length;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "langopen-watch-"));
  // A small project of its own, finding its packages where a real one would.
  await symlink(REPO_MODULES, path.join(dir, "node_modules"), "dir");
  await writeFile(path.join(dir, "agent.mjs"), agentSource("v1"));
  await writeFile(path.join(dir, "auth.mjs"), authSource());
  await writeFile(path.join(dir, "langgraph.json"), projectConfig({ agent: "./agent.mjs:graph" }));
  db = await createTestDatabase(inject("databaseUrl"));
  const port = await freePort();
  const { REDIS_URL: _r, ...env } = process.env;
  launcher = spawnLauncher(["--watch", "--config", path.join(dir, "langgraph.json"), "--port", String(port)], {
    ...env,
    DATABASE_URL: db.url,
    LANGOPEN_DATA_DIR: path.join(dir, ".langopen"),
    LOG_LEVEL: "info",
  });
  await launcher.waitFor("LangOpen is ready");
  client = new Client({ apiUrl: `http://127.0.0.1:${port}` });
}, 180_000);

afterAll(async () => {
  if (launcher?.child.exitCode === null) {
    launcher.child.kill("SIGTERM");
    await launcher.exited;
  }
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe("npm start -- --watch", () => {
  it("serves a graph's new code after its file changed, while a run started before finishes on the old code", {
    timeout: 120_000,
  }, async () => {
    expect(await reply("agent")).toBe("v1");

    // A run that is running when the file changes.
    const thread = await client.threads.create();
    const before = await client.runs.create(thread.thread_id, "agent", { input: { wait_ms: 3_000 } });
    await until(async () => (await client.runs.get(thread.thread_id, before.run_id)).status === "running", "the run to start", {
      timeoutMs: 30_000,
      intervalMs: 50,
    });
    const reloads = count("Reloaded runtime");
    await writeFile(path.join(dir, "agent.mjs"), agentSource("v2"));
    await nextLine("Reloaded runtime", reloads);

    expect(await reply("agent")).toBe("v2");
    await client.runs.join(thread.thread_id, before.run_id);
    const finished = await client.runs.get(thread.thread_id, before.run_id);
    expect(finished.status).toBe("success");
    expect(((await client.threads.getState(thread.thread_id)).values as { reply?: string }).reply).toBe("v1");
  });

  it("keeps serving the running code when the changed file fails to load, and says why", { timeout: 120_000 }, async () => {
    const kept = count("Kept the running runtime: graphs failed to load after a change");
    await writeFile(path.join(dir, "agent.mjs"), "export const graph = {\n  oops oops\n};\n");
    const line = await nextLine("Kept the running runtime: graphs failed to load after a change", kept);
    const file = path.join(dir, "agent.mjs");
    expect(line.failed).toEqual([{ graph_id: "agent", file, cause: `SyntaxError: Unexpected identifier 'oops' (${file}:2:8)` }]);
    expect(await reply("agent")).toBe("v2");

    // Fixed again: served again.
    const reloads = count("Reloaded runtime");
    await writeFile(path.join(dir, "agent.mjs"), agentSource("v3"));
    await nextLine("Reloaded runtime", reloads);
    expect(await reply("agent")).toBe("v3");
  });

  it("serves a graph added to langgraph.json, with its default assistant", { timeout: 120_000 }, async () => {
    const reloads = count("Reloaded runtime");
    await writeFile(path.join(dir, "other.mjs"), agentSource("other"));
    await writeFile(path.join(dir, "langgraph.json"), projectConfig({ agent: "./agent.mjs:graph", other: "./other.mjs:graph" }));
    await nextLine("Reloaded runtime", reloads);
    expect(await reply("other")).toBe("other");
    expect((await client.assistants.search({ graphId: "other" })).map((a) => a.graph_id)).toEqual(["other"]);
    expect(await reply("agent")).toBe("v3");
  });

  it("applies the auth module's new handlers after it changed", { timeout: 120_000 }, async () => {
    const createStatus = () =>
      client.threads.create().then(
        () => 200,
        (err: unknown) => statusOf(Promise.reject(err)),
      );
    let reloads = count("Reloaded runtime");
    await writeFile(path.join(dir, "auth.mjs"), authSource("threads:create"));
    await nextLine("Reloaded runtime", reloads);
    await until(async () => (await createStatus()) === 403, "thread creation refused", {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    reloads = count("Reloaded runtime");
    await writeFile(path.join(dir, "auth.mjs"), authSource());
    await nextLine("Reloaded runtime", reloads);
    await until(async () => (await createStatus()) === 200, "thread creation allowed", {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
  });

  it("does not reload for files in node_modules, dot-folders or its data folder", { timeout: 60_000 }, async () => {
    const reloads = count("Reloading runtime after a change");
    await writeFile(path.join(dir, ".env.local"), "X=1\n");
    await writeFile(path.join(dir, "agent.mjs~"), "backup\n");
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(count("Reloading runtime after a change")).toBe(reloads);
  });

  it("stops with the replaced runtimes gone", { timeout: 60_000 }, async () => {
    launcher.child.kill("SIGTERM");
    expect(await launcher.exited).toBe(0);
    expect(
      launcher
        .lines()
        .filter(
          (line) =>
            line.level >= 50 &&
            line.msg !== "Failed to load Graph" &&
            !/^Marked Runtime not serving|^Kept the running runtime/.test(line.msg),
        ),
    ).toEqual([]);
    const pidsOf = (msg: string) =>
      new Set(
        launcher
          .lines()
          .filter((line) => line.msg === msg)
          .map((line) => line.pid),
      );
    const served = pidsOf("Runtime is ready");
    const failed = pidsOf("Marked Runtime not serving: graphs failed to load");
    const stopped = pidsOf("Stopped runtime-runner");
    // Every runtime that served was stopped, each by itself (none outlived its stop and had to be
    // killed); of a generation that failed to load, those that got as far as saying so, as well.
    expect(served.size).toBeGreaterThanOrEqual(4);
    expect(failed.size).toBeGreaterThanOrEqual(1);
    expect([...served, ...failed].filter((pid) => !stopped.has(pid))).toEqual([]);
    expect([...stopped].filter((pid) => !served.has(pid) && !failed.has(pid))).toEqual([]);
    // And none is left: every pid the launcher started is gone.
    const started = launcher
      .lines()
      .filter((line) => line.msg === "Started runtime processes" || line.msg === "Reloaded runtime")
      .flatMap((line) => line.pids as number[]);
    expect(started.filter((pid) => !served.has(pid))).toEqual([]);
    expect(started.filter((pid) => alive(pid))).toEqual([]);
    expect(launcher.lines().filter((line) => line.msg === "Killed a runtime process that did not stop in time")).toEqual([]);
  });
});
