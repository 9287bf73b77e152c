import { chmod, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { freePort } from "@langopen/common";
import { createTestDatabase, type TestDatabase, until } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type LauncherProcess, spawnLauncher } from "./test-fixtures/launcher-process.js";

/**
 * The runtime processes of one version of the project (a generation) share one preparation:
 * its TypeScript compiled once, what it may read listed once, however many processes start on
 * it and however often one is restarted. A reload (--watch) prepares the changed project once
 * for its whole generation, and the replaced generation's build folder goes once its processes
 * are gone.
 */
const REPO_MODULES = fileURLToPath(new URL("../../../node_modules", import.meta.url));
/** Where the projects' build folders go (their node_modules is the repository's). */
const BUILD_CACHE = path.join(REPO_MODULES, ".cache", "langopen");
const PREPARED = "Prepared the project for its runtime processes";

/** A TypeScript graph (with a module of its own, bundled in) answering with its version. */
const agentSource = (version: string) => `
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { tag } from "./lib/tag.ts";

const State = Annotation.Root({ reply: Annotation<string>() });

export const graph = new StateGraph(State)
  .addNode("answer", () => ({ reply: tag("${version}") }))
  .addEdge(START, "answer")
  .addEdge("answer", END)
  .compile();
`;

interface Served {
  dir: string;
  launcher: LauncherProcess;
  client: Client;
  count(msg: string): number;
  /** The build folders of this launcher in the project's build cache. */
  builds(): Promise<string[]>;
  /** The reply of a run of the graph. */
  reply(): Promise<unknown>;
  stop(): Promise<void>;
}

async function serve(processes: number, args: string[] = []): Promise<Served> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "langopen-generation-"));
  // The sandbox user must be able to read the project.
  await chmod(dir, 0o755);
  await symlink(REPO_MODULES, path.join(dir, "node_modules"), "dir");
  await mkdir(path.join(dir, "lib"));
  await writeFile(path.join(dir, "lib", "tag.ts"), 'export const tag = (version: string): string => "agent " + version;\n');
  await writeFile(path.join(dir, "agent.ts"), agentSource("v1"));
  await writeFile(path.join(dir, "langgraph.json"), JSON.stringify({ graphs: { agent: "./agent.ts:graph" } }));
  let db: TestDatabase | undefined = await createTestDatabase(inject("databaseUrl"));
  const port = await freePort();
  const { REDIS_URL: _r, ...inherited } = process.env;
  const launcher = spawnLauncher([...args, "--config", path.join(dir, "langgraph.json"), "--port", String(port)], {
    ...inherited,
    DATABASE_URL: db.url,
    LANGOPEN_DATA_DIR: path.join(dir, ".langopen"),
    LANGOPEN_RUNTIME_PROCESSES: String(processes),
    // The compiler over the graph's types is shared per version already; not what is looked at here.
    LANGOPEN_TYPED_SCHEMAS: "false",
    LOG_LEVEL: "info",
  });
  const client = new Client({ apiUrl: `http://127.0.0.1:${port}` });
  const pid = launcher.child.pid as number;
  return {
    dir,
    launcher,
    client,
    count: (msg) => launcher.lines().filter((line) => line.msg === msg).length,
    builds: async () =>
      (await readdir(BUILD_CACHE).catch(() => [] as string[])).filter((name) => name.startsWith(`langopen-runtime-${pid}-`)),
    async reply() {
      const thread = await client.threads.create();
      return ((await client.runs.wait(thread.thread_id, "agent", { input: {} })) as { reply?: unknown }).reply;
    },
    async stop() {
      if (launcher.child.exitCode === null) {
        launcher.child.kill("SIGTERM");
        await launcher.exited;
      }
      await db?.drop();
      db = undefined;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Kills one runtime process of the launcher (SIGKILL, as a crash would end it) and waits for it to serve again. */
async function killOneRuntime(served: Served, died: string): Promise<void> {
  const pids = served.launcher.lines().find((line) => line.msg === "Started runtime processes")?.pids as number[] | undefined;
  const pid = pids?.[0];
  if (pid === undefined) throw new Error("no runtime process was started");
  const ready = served.count("Runtime is ready");
  const deaths = served.count(died);
  process.kill(pid, "SIGKILL");
  await until(async () => served.count(died) > deaths, died, { timeoutMs: 30_000, intervalMs: 50 });
  await until(async () => served.count("Runtime is ready") > ready, "the runtime process to serve again", {
    timeoutMs: 60_000,
    intervalMs: 50,
  });
}

describe("npm start with 3 runtime processes", () => {
  let served: Served;
  beforeAll(async () => {
    served = await serve(3);
    await served.launcher.waitFor("LangOpen is ready");
  }, 180_000);
  afterAll(() => served?.stop());

  it("prepares the project once for all of them: one compilation, one build folder", { timeout: 60_000 }, async () => {
    expect(served.count("Runtime is ready")).toBe(3);
    expect(served.launcher.lines().filter((line) => line.msg === PREPARED)).toEqual([
      expect.objectContaining({ sandbox: "node", compiled: 1 }),
    ]);
    expect(await served.builds()).toHaveLength(1);
    expect(await served.reply()).toBe("agent v1");
  });

  it("restarts a runtime process that died without preparing the project again", { timeout: 120_000 }, async () => {
    await killOneRuntime(served, "Runtime process died; restarting it");
    expect(served.count(PREPARED)).toBe(1);
    expect(await served.builds()).toHaveLength(1);
    for (let i = 0; i < 3; i++) expect(await served.reply()).toBe("agent v1");
  });

  it("removes the build folder when it stops", { timeout: 60_000 }, async () => {
    served.launcher.child.kill("SIGTERM");
    expect(await served.launcher.exited).toBe(0);
    expect(await served.builds()).toEqual([]);
  });
});

describe("npm start -- --watch with 2 runtime processes", () => {
  let served: Served;
  beforeAll(async () => {
    served = await serve(2, ["--watch"]);
    await served.launcher.waitFor("LangOpen is ready");
  }, 180_000);
  afterAll(() => served?.stop());

  it("replaces a runtime process that died on its generation's preparation", { timeout: 120_000 }, async () => {
    expect(served.count(PREPARED)).toBe(1);
    await killOneRuntime(served, "Runtime process died; starting another");
    expect(served.count(PREPARED)).toBe(1);
    expect(await served.reply()).toBe("agent v1");
  });

  it("prepares a changed project once for its new generation, and removes the old generation's build folder once its processes are gone", {
    timeout: 120_000,
  }, async () => {
    const [before] = await served.builds();
    const reloads = served.count("Reloaded runtime");
    await writeFile(path.join(served.dir, "agent.ts"), agentSource("v2"));
    await until(async () => served.count("Reloaded runtime") > reloads, "the reload", { timeoutMs: 60_000, intervalMs: 50 });
    expect(await served.reply()).toBe("agent v2");
    expect(served.launcher.lines().filter((line) => line.msg === PREPARED)).toEqual([
      expect.objectContaining({ compiled: 1 }),
      expect.objectContaining({ compiled: 1 }),
    ]);
    // The replaced processes stop (they have no calls left), and their generation's folder goes with them.
    const after = await until(
      async () => {
        const builds = await served.builds();
        return builds.length === 1 && builds[0] !== before && builds;
      },
      "the old build folder to go",
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(after).toHaveLength(1);
  });

  it("removes the last build folder when it stops", { timeout: 60_000 }, async () => {
    served.launcher.child.kill("SIGTERM");
    expect(await served.launcher.exited).toBe(0);
    expect(await served.builds()).toEqual([]);
  });
});
