import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { freePort } from "@langopen/common";
import { createTestDatabase } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type LauncherProcess, spawnLauncher } from "./test-fixtures/launcher-process.js";

/**
 * `npm start` runs graph code in a sandbox by default: a project whose graph probes its
 * surroundings finds none of LangOpen's secrets, cannot read the data directory inside its own
 * folder, other processes' environments or /etc/shadow, cannot write outside its scratch folder,
 * start processes or threads, or load native code; an ordinary graph, in TypeScript too, runs.
 */
const REPO_MODULES = fileURLToPath(new URL("../../../node_modules", import.meta.url));

/** Each probe answers "denied: <why>" or "allowed: <what it got>". */
const PROBE_GRAPH = `
import { execSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { Annotation, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({ dataDir: Annotation(), projectDir: Annotation(), report: Annotation() });

function attempt(fn) {
  try {
    const got = fn();
    // What /proc holds is NUL-separated; the report is stored as text.
    return "allowed: " + String(got).slice(0, 80).replaceAll("\\0", " ");
  } catch (err) {
    return "denied: " + (err.code ?? err.message);
  }
}

function probe(state) {
  const leaked = Object.keys(process.env).filter((k) =>
    /^(LANGOPEN_|WEBHOOK_|PG|npm_)/.test(k) || ["DATABASE_URL", "REDIS_URL", "NODE_OPTIONS"].includes(k),
  );
  return {
    report: {
      leakedVariables: leaked,
      declaredVariable: process.env.PROJECT_VAR ?? null,
      exportedModelKey: process.env.OPENAI_API_KEY ?? null,
      uid: process.getuid(),
      readParentEnviron: attempt(() => fs.readFileSync("/proc/" + process.ppid + "/environ", "utf8")),
      readOwnEnviron: attempt(() => fs.readFileSync("/proc/self/environ", "utf8")),
      readShadow: attempt(() => fs.readFileSync("/etc/shadow", "utf8")),
      listDataDir: attempt(() => fs.readdirSync(state.dataDir).join(",")),
      readInternalSecret: attempt(() => fs.readFileSync(path.join(state.dataDir, "internal-secret"), "utf8")),
      readThroughLink: attempt(() => fs.readFileSync(path.join(state.projectDir, "outside", "hostname"), "utf8")),
      readProjectFile: attempt(() => fs.readFileSync(path.join(state.projectDir, "langgraph.json"), "utf8").length),
      writeProject: attempt(() => fs.writeFileSync(path.join(state.projectDir, "pwned"), "x")),
      writeTmp: attempt(() => fs.writeFileSync("/tmp/langopen-sandbox-pwned", "x")),
      writeScratch: attempt(() => {
        fs.writeFileSync(path.join(os.tmpdir(), "scratch-file"), "x");
        return os.tmpdir() === os.homedir();
      }),
      spawnProcess: attempt(() => execSync("id").toString()),
      startWorker: attempt(() => {
        const worker = new Worker("1", { eval: true });
        void worker.terminate();
        return "worker";
      }),
      loadAddon: attempt(() => process.dlopen({ exports: {} }, path.join(state.projectDir, "addon.node"))),
      signalParent: attempt(() => process.kill(process.ppid, 0)),
    },
  };
}

export const graph = new StateGraph(State).addNode("probe", probe).addEdge("__start__", "probe").compile();
`;

const TS_GRAPH = `
import { Annotation, StateGraph } from "@langchain/langgraph";
import { shout } from "./lib/shout.ts";

const State = Annotation.Root({ text: Annotation<string>(), report: Annotation<string>() });

export const graph = new StateGraph(State)
  .addNode("answer", (state: typeof State.State) => ({ report: shout(state.text) }))
  .addEdge("__start__", "answer")
  .compile();
`;

interface Served {
  dir: string;
  dataDir: string;
  launcher: LauncherProcess;
  client: Client;
  stop(): Promise<void>;
}

async function serve(prefix: string, config: Record<string, unknown>, env: Record<string, string> = {}): Promise<Served> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  // mkdtemp makes it private to its owner: the sandbox user must be able to read the project.
  await chmod(dir, 0o755);
  await symlink(REPO_MODULES, path.join(dir, "node_modules"), "dir");
  // A link the project ships, leading out of it (Node's permission model would follow it).
  await symlink("/etc", path.join(dir, "outside"), "dir");
  await writeFile(path.join(dir, "probe.mjs"), PROBE_GRAPH);
  await mkdir(path.join(dir, "lib"));
  await writeFile(
    path.join(dir, "lib", "shout.ts"),
    'export const shout = (text: string): string => text.toUpperCase().concat("!");\n',
  );
  await writeFile(path.join(dir, "typed.ts"), TS_GRAPH);
  await writeFile(path.join(dir, "langgraph.json"), JSON.stringify(config));
  const db = await createTestDatabase(inject("databaseUrl"));
  const dataDir = path.join(dir, ".langopen");
  const port = await freePort();
  const { REDIS_URL: _r, ...inherited } = process.env;
  const launcher = spawnLauncher(["--config", path.join(dir, "langgraph.json"), "--port", String(port)], {
    ...inherited,
    DATABASE_URL: db.url,
    LANGOPEN_DATA_DIR: dataDir,
    LANGOPEN_RUNTIME_PROCESSES: "1",
    WEBHOOK_SECRET: "webhook-secret-for-the-test",
    OPENAI_API_KEY: "sk-exported-on-purpose",
    LOG_LEVEL: "info",
    ...env,
  });
  const stop = async () => {
    if (launcher.child.exitCode === null) {
      launcher.child.kill("SIGTERM");
      await launcher.exited;
    }
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  };
  return { dir, dataDir, launcher, client: new Client({ apiUrl: `http://127.0.0.1:${port}` }), stop };
}

async function report(served: Served, graph: string, input: Record<string, unknown>): Promise<unknown> {
  const thread = await served.client.threads.create();
  const values = (await served.client.runs.wait(thread.thread_id, graph, { input })) as { report?: unknown };
  return values.report;
}

const asRoot = process.getuid?.() === 0;

describe("npm start: the sandbox (default)", () => {
  let served: Served;
  beforeAll(async () => {
    served = await serve("langopen-sandbox-", {
      graphs: { probe: "./probe.mjs:graph", typed: "./typed.ts:graph" },
      env: { PROJECT_VAR: "declared" },
    });
    await served.launcher.waitFor("LangOpen is ready");
  }, 180_000);
  afterAll(async () => {
    await served?.stop();
  });

  it("denies every probe of a hostile graph, and passes what the project declares and the user exported", {
    timeout: 60_000,
  }, async () => {
    const got = (await report(served, "probe", { dataDir: served.dataDir, projectDir: served.dir })) as Record<string, unknown>;
    expect(got.leakedVariables).toEqual([]);
    expect(got.declaredVariable).toBe("declared");
    expect(got.exportedModelKey).toBe("sk-exported-on-purpose");
    for (const name of [
      "readParentEnviron",
      "readOwnEnviron",
      "readShadow",
      "listDataDir",
      "readInternalSecret",
      "readThroughLink",
      "writeProject",
      "writeTmp",
      "spawnProcess",
      "startWorker",
      "loadAddon",
    ]) {
      expect({ [name]: got[name] }).toEqual({ [name]: expect.stringMatching(/^denied: /) });
    }
    expect(got.readProjectFile).toMatch(/^allowed: /);
    expect(got.writeScratch).toBe("allowed: true");
    if (asRoot) {
      // As another user the kernel refuses too: signals to the launcher, and /proc of other users.
      expect(got.uid).toBe(65534);
      expect(got.signalParent).toBe("denied: EPERM");
    }
  });

  it("runs a TypeScript graph, compiled before the sandbox starts", { timeout: 60_000 }, async () => {
    expect(await report(served, "typed", { text: "hello" })).toBe("HELLO!");
  });
});

describe("npm start: what a project may ask of the sandbox", () => {
  it("lets a project that asks for child processes start them", { timeout: 180_000 }, async () => {
    const served = await serve("langopen-sandbox-allow-", {
      graphs: { probe: "./probe.mjs:graph" },
      langopen: { sandbox: { allow: ["child_process"] } },
    });
    try {
      await served.launcher.waitFor("LangOpen is ready");
      const got = (await report(served, "probe", { dataDir: served.dataDir, projectDir: served.dir })) as Record<string, string>;
      expect(got.spawnProcess).toMatch(/^allowed: uid=/);
      expect(got.startWorker).toMatch(/^denied: /);
      expect(got.readInternalSecret).toMatch(/^denied: /);
    } finally {
      await served.stop();
    }
  });

  it("refuses to start a project that asks for something unknown, naming it", { timeout: 180_000 }, async () => {
    const served = await serve("langopen-sandbox-unknown-", {
      graphs: { probe: "./probe.mjs:graph" },
      langopen: { sandbox: { allow: ["network", "child_process"] } },
    });
    try {
      expect(await served.launcher.exited).not.toBe(0);
      expect(served.launcher.stderr()).toContain('"langopen.sandbox.allow" must be a list of "child_process"');
      expect(served.launcher.stderr()).toContain('["network","child_process"]');
    } finally {
      await served.stop();
    }
  });

  it("runs graph code unsandboxed with LANGOPEN_SANDBOX=none, still without LangOpen's variables", {
    timeout: 180_000,
  }, async () => {
    const served = await serve(
      "langopen-sandbox-none-",
      { graphs: { probe: "./probe.mjs:graph" } },
      { LANGOPEN_SANDBOX: "none" },
    );
    try {
      await served.launcher.waitFor("LangOpen is ready");
      const got = (await report(served, "probe", { dataDir: served.dataDir, projectDir: served.dir })) as Record<string, unknown>;
      expect(got.leakedVariables).toEqual([]);
      expect(got.readInternalSecret).toMatch(/^allowed: /);
      expect(got.readThroughLink).toMatch(/^allowed: /);
    } finally {
      await served.stop();
    }
  });
});
