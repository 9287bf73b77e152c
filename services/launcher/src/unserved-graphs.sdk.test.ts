import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { createLogger, type Logger } from "@langopen/common";
import { createTestDatabase } from "@langopen/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type LangOpen, startLangOpen } from "./compose.js";
import { statusOf } from "./test-fixtures/status.js";

const FIXTURE_GRAPH = fileURLToPath(new URL("./test-fixtures/graphs.mjs", import.meta.url));
const REPO_MODULES = fileURLToPath(new URL("../../../node_modules", import.meta.url));

/**
 * A project whose langgraph.json changed: `before.json` serves the graphs "keeper" and "retired",
 * `after.json` only "keeper" (the same one-node graph).
 */
async function writeProject(dir: string): Promise<{ before: string; after: string }> {
  await writeFile(path.join(dir, "graphs.mjs"), await readFile(FIXTURE_GRAPH, "utf8"));
  await symlink(REPO_MODULES, path.join(dir, "node_modules"), "dir");
  const before = path.join(dir, "before.json");
  const after = path.join(dir, "after.json");
  await writeFile(before, JSON.stringify({ graphs: { keeper: "./graphs.mjs:graph", retired: "./graphs.mjs:graph" } }));
  await writeFile(after, JSON.stringify({ graphs: { keeper: "./graphs.mjs:graph" } }));
  return { before, after };
}

/** Why an SDK call failed: its HTTP status and the server's detail. */
async function failureOf(call: Promise<unknown>): Promise<{ status: number; message: string }> {
  let message = "";
  const status = await statusOf(
    call.catch((err: unknown) => {
      message = String(err);
      throw err;
    }),
  );
  return { status, message };
}

describe("assistants and queued runs of a graph that a new langgraph.json no longer serves", () => {
  let databaseUrl: string;
  let dropDatabase: () => Promise<void>;
  let dir: string;
  let stack: LangOpen | undefined;
  let db: pg.Client;
  /** The JSON log lines of the restarted stack (api-server, worker, gateway). */
  const logs: string[] = [];
  let retired: { assistant_id: string };
  let keeper: { assistant_id: string };
  let threadId: string;
  let queuedRunId: string;

  const start = (configPath: string, logger: Logger) =>
    startLangOpen(
      {
        host: "127.0.0.1",
        port: 0,
        databaseUrl,
        redisUrl: inject("redisUrl"),
        configPath,
        dataDir: dir,
        shutdownGraceMs: 1_000,
        logLevel: "warn",
      },
      logger,
    );

  beforeAll(async () => {
    const database = await createTestDatabase(inject("databaseUrl"));
    databaseUrl = database.url;
    dropDatabase = database.drop;
    dir = await mkdtemp(path.join(os.tmpdir(), "langopen-unserved-"));
    const { before, after } = await writeProject(dir);

    // First deployment: both graphs. An assistant of each, and a run on "retired" still queued
    // (held by after_seconds) when the deployment goes away.
    const first = await start(before, createLogger({ service: "test", level: "silent", pretty: false }));
    const client = new Client({ apiUrl: first.url });
    retired = await client.assistants.create({ graphId: "retired", name: "retired assistant" });
    keeper = await client.assistants.create({ graphId: "keeper", name: "keeper assistant" });
    threadId = (await client.threads.create()).thread_id;
    queuedRunId = (await client.runs.create(threadId, retired.assistant_id, { input: { value: 1 }, afterSeconds: 3 })).run_id;
    await first.stop();

    // Second deployment on the same database: only "keeper". Its logs are kept.
    const lines = new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    });
    stack = await start(after, createLogger({ service: "test", level: "info", pretty: false, destination: lines }));
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await stack?.stop();
    await dropDatabase?.();
    await rm(dir, { recursive: true, force: true });
  });

  it("fails a queued run of the gone graph at once, on its first attempt, with a clear error", async () => {
    const client = new Client({ apiUrl: stack?.url });
    const result = await client.runs.join(threadId, queuedRunId);
    expect(result).toEqual({
      __error__: { error: "GraphNotFound", message: "graph 'retired' is not served by this deployment's runtime" },
    });
    expect((await client.runs.get(threadId, queuedRunId)).status).toBe("error");
    const { rows } = await db.query<{ attempt: number }>("SELECT attempt FROM runs WHERE run_id = $1", [queuedRunId]);
    expect(rows[0]?.attempt).toBe(1);
    // The run's stream says why before its end.
    const events: Array<{ event: string; data: unknown }> = [];
    for await (const { event, data } of client.runs.joinStream(threadId, queuedRunId, { lastEventId: "-1" })) {
      events.push({ event, data });
    }
    expect(events.filter((e) => e.event !== "metadata")).toEqual([
      { event: "error", data: { error: "GraphNotFound", message: "graph 'retired' is not served by this deployment's runtime" } },
      { event: "end", data: { run_id: queuedRunId, status: "error" } },
    ]);
    // Failed as the run's own fault: no retry as an infrastructure failure.
    const ofRun = logs.filter((line) => line.includes(queuedRunId));
    expect(ofRun.some((line) => line.includes('"msg":"Run failed"'))).toBe(true);
    expect(ofRun.filter((line) => /infrastructure failure/.test(line))).toEqual([]);
  });

  it("leaves assistants of the gone graph out of search and count, and still answers them by id", async () => {
    const client = new Client({ apiUrl: stack?.url });
    const listed = await client.assistants.search({ limit: 100 });
    expect(listed.map((a) => a.graph_id)).not.toContain("retired");
    expect(listed.map((a) => a.assistant_id)).toContain(keeper.assistant_id);
    expect(await client.assistants.count()).toBe(listed.length);
    expect(await client.assistants.search({ graphId: "retired" })).toEqual([]);
    expect(await client.assistants.count({ graphId: "retired" })).toBe(0);
    // Paging counts only what is served.
    const page = await client.assistants.search({ limit: 1, includePagination: true });
    expect(page.assistants).toHaveLength(1);
    expect(page.next).toBe(listed.length > 1 ? "1" : null);
    // Nothing is lost: the assistant itself still answers.
    expect(await client.assistants.get(retired.assistant_id)).toMatchObject({ graph_id: "retired", name: "retired assistant" });
  });

  it("refuses a new run of an assistant of the gone graph at once with 409 naming the graph", async () => {
    const client = new Client({ apiUrl: stack?.url });
    const refused = await failureOf(client.runs.create(threadId, retired.assistant_id, { input: { value: 2 } }));
    expect(refused.status).toBe(409);
    expect(refused.message).toContain(`graph 'retired' of assistant ${retired.assistant_id} is not served by this deployment`);
    expect((await failureOf(client.runs.wait(null, retired.assistant_id, { input: { value: 2 } }))).status).toBe(409);
    // Its graph's name is no assistant any more.
    expect(await statusOf(client.runs.create(threadId, "retired", { input: { value: 2 } }))).toBe(404);
    // Moved onto a served graph, it runs again.
    await client.assistants.update(retired.assistant_id, { graphId: "keeper" });
    expect(await client.runs.wait(threadId, retired.assistant_id, { input: { value: 3 } })).toEqual({ value: 3 });
  });
});
