// `npm start` on each Node.js major users run besides this one (22 and 24; CI runs the suite on 20): the binaries
// scripts/fetch-node.mjs puts in .cache/node (CI fetches them; without them, only the check that CI has them is
// skipped). Each starts as a user starts it (embedded Postgres, the default sandbox: Node's permission model, whose
// flag changed name between 20 and 24) and serves the official SDK a thread run, a streamed stateless run, and a
// clean stop.
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { freePort } from "@langopen/common";
import { describe, expect, it } from "vitest";
import { spawnLauncher } from "./test-fixtures/launcher-process.js";
import { TEST_GRAPHS } from "./test-fixtures/stack.js";

const CACHE = fileURLToPath(new URL("../../../.cache/node", import.meta.url));
/** The majors scripts/fetch-node.mjs fetches. */
const EXPECTED_MAJORS = ["22", "24"];

const binaries = existsSync(CACHE)
  ? readdirSync(CACHE)
      .filter((name) => /^v\d+\.\d+\.\d+$/.test(name) && existsSync(path.join(CACHE, name, "bin/node")))
      .map((name) => ({ version: name, node: path.join(CACHE, name, "bin/node") }))
  : [];

describe("npm start on the Node.js majors users run", () => {
  it.skipIf(!process.env.CI)("has Node 22 and 24 to run on in CI (scripts/fetch-node.mjs)", () => {
    const majors = binaries.map((b) => b.version.slice(1).split(".")[0]);
    expect(majors.sort()).toEqual(EXPECTED_MAJORS);
  });

  for (const { version, node } of binaries) {
    it(`serves the SDK on Node ${version}, graphs in the default sandbox`, { timeout: 300_000 }, async () => {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), "langopen-node-versions-"));
      const { DATABASE_URL: _d, REDIS_URL: _r, ...env } = process.env;
      const port = await freePort();
      const launcher = spawnLauncher(
        ["--config", TEST_GRAPHS, "--port", String(port)],
        {
          ...env,
          LANGOPEN_DATA_DIR: dataDir,
          LOG_LEVEL: "info",
        },
        { node },
      );
      try {
        // A first start initialises a Postgres cluster; on a loaded machine that takes a while.
        await launcher.waitFor("LangOpen is ready", 200_000);
        const prepared = await launcher.waitFor("Prepared the project for its runtime processes");
        expect(prepared.sandbox).toBe("node");

        const client = new Client({ apiUrl: `http://127.0.0.1:${port}` });
        const thread = await client.threads.create();
        const values = (await client.runs.wait(thread.thread_id, "echo", {
          input: { messages: [{ role: "human", content: `on ${version}` }] },
        })) as { messages: Array<{ content: string }> };
        expect(values.messages.at(-1)?.content).toBe(`You said: on ${version}`);

        const events: string[] = [];
        for await (const chunk of client.runs.stream(null, "echo", {
          input: { messages: [{ role: "human", content: "streamed" }] },
          streamMode: ["values", "updates"],
        }))
          events.push(chunk.event);
        expect(events[0]).toBe("metadata");
        expect(events).toContain("updates");
        expect(events.filter((e) => e === "values").length).toBeGreaterThanOrEqual(2);
        expect(events).not.toContain("error");
      } finally {
        launcher.child.kill("SIGTERM");
        const code = await launcher.exited;
        await rm(dataDir, { recursive: true, force: true });
        expect(code, launcher.output()).toBe(0);
      }
    });
  }
});
