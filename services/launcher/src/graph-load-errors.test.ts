import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createTestDatabase, type TestDatabase } from "@langopen/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { spawnLauncher } from "./test-fixtures/launcher-process.js";

let dir: string;
let db: TestDatabase | undefined;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "langopen-graph-errors-"));
});
afterEach(async () => {
  await db?.drop();
  db = undefined;
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** `npm start -- --config <project>/langgraph.json` on a project of one graph, "agent": its exit code and output. */
async function startOn(project: string, graphFile: string, source?: string) {
  const projectDir = path.join(dir, project);
  await mkdir(projectDir, { recursive: true });
  if (source !== undefined) await writeFile(path.join(projectDir, graphFile), source);
  await writeFile(path.join(projectDir, "langgraph.json"), JSON.stringify({ graphs: { agent: `./${graphFile}:graph` } }));
  db = await createTestDatabase(inject("databaseUrl"));
  const { REDIS_URL: _r, ...env } = process.env;
  const launcher = spawnLauncher(["--config", path.join(projectDir, "langgraph.json"), "--port", "0"], {
    ...env,
    DATABASE_URL: db.url,
    LANGOPEN_DATA_DIR: path.join(projectDir, ".langopen"),
    LOG_LEVEL: "info",
  });
  const timeout = setTimeout(() => launcher.child.kill("SIGKILL"), 90_000);
  const code = await launcher.exited;
  clearTimeout(timeout);
  return { code, projectDir, launcher };
}

describe("npm start on a project whose graph does not load", () => {
  it("stops before it is ready when the graph's file has a syntax error, naming the graph, the file and the cause", {
    timeout: 120_000,
  }, async () => {
    const { code, projectDir, launcher } = await startOn("syntax", "agent.mjs", "export const graph = {\n  oops oops\n};\n");
    const file = path.join(projectDir, "agent.mjs");

    expect(code).toBe(1);
    expect(launcher.stderr().trim()).toBe(
      [
        `A graph of ${path.join(projectDir, "langgraph.json")} failed to load:`,
        `  graph "agent" (./agent.mjs:graph), file ${file}: SyntaxError: Unexpected identifier 'oops' (${file}:2:8)`,
      ].join("\n"),
    );
    expect(launcher.lines().some((line) => line.msg === "LangOpen is ready")).toBe(false);
    // The runtime's own log says it too, with the error's stack.
    const failed = launcher.lines().find((line) => line.msg === "Failed to load Graph");
    expect(failed).toMatchObject({ graph_id: "agent", file, level: 50 });
  });

  it("stops before it is ready when the graph's file is missing, naming the graph, the file and the cause", {
    timeout: 120_000,
  }, async () => {
    const { code, projectDir, launcher } = await startOn("missing", "nope.mjs");

    expect(code).toBe(1);
    expect(launcher.stderr()).toContain(`graph "agent" (./nope.mjs:graph), file ${path.join(projectDir, "nope.mjs")}: `);
    expect(launcher.stderr()).toContain(`nope.mjs does not exist in ${projectDir}`);
    expect(launcher.lines().some((line) => line.msg === "LangOpen is ready")).toBe(false);
  });
});
