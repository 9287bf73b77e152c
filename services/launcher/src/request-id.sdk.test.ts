import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { createTestDatabase, type TestDatabase } from "@langopen/testkit";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type LangOpen, startLangOpen } from "./compose.js";
import { FIXTURE_CONFIG } from "./test-fixtures/stack.js";

/**
 * The request id a client sends (or the gateway makes) is on every log line of that request,
 * in the gateway and in the api-server it calls: pino's output is captured through a
 * destination stream.
 */
type Line = Record<string, unknown>;
const lines: Line[] = [];
let db: TestDatabase;
let dataDir: string;
let langopen: LangOpen;

beforeAll(async () => {
  db = await createTestDatabase(inject("databaseUrl"));
  dataDir = await mkdtemp(path.join(os.tmpdir(), "langopen-request-id-"));
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const text of String(chunk).split("\n")) if (text) lines.push(JSON.parse(text) as Line);
      done();
    },
  });
  langopen = await startLangOpen(
    {
      host: "127.0.0.1",
      port: 0,
      databaseUrl: db.url,
      redisUrl: inject("redisUrl"),
      configPath: FIXTURE_CONFIG,
      dataDir,
      shutdownGraceMs: 1_000,
      // The runtime's own process.
      logLevel: "warn",
    },
    pino({ level: "debug", base: { service: "test" } }, destination),
  );
}, 60_000);

afterAll(async () => {
  await langopen?.stop();
  await db?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const apiServerLines = (requestId: string) => lines.filter((l) => l.service === "api-server" && l.request_id === requestId);

describe("request ids", () => {
  it("shows the client's x-request-id on the api-server's log lines of that request", async () => {
    const created = await fetch(`${langopen.url}/threads`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "abc" },
      body: JSON.stringify({ metadata: { user: "ada" } }),
    });
    expect(created.status).toBe(200);
    expect(created.headers.get("x-request-id")).toBe("abc");
    const { thread_id: threadId } = (await created.json()) as { thread_id: string };
    const read = await fetch(`${langopen.url}/threads/${threadId}`, { headers: { "x-request-id": "abc-2" } });
    expect(read.status).toBe(200);

    expect(apiServerLines("abc")).toEqual([
      expect.objectContaining({ msg: "Answered RPC", rpc_service: "langopen.data.v1.ThreadService", rpc_method: "CreateThread" }),
    ]);
    expect(apiServerLines("abc-2")).toEqual([
      expect.objectContaining({ msg: "Answered RPC", rpc_service: "langopen.data.v1.ThreadService", rpc_method: "GetThread" }),
    ]);
    // The gateway's lines of the same request carry it too.
    expect(lines.some((l) => l.service === "gateway" && l.request_id === "abc")).toBe(true);
  });

  it("follows the id the gateway made when the client sent none", async () => {
    const res = await fetch(`${langopen.url}/assistants/search`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    const requestId = res.headers.get("x-request-id") ?? "";
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(apiServerLines(requestId)).toEqual([expect.objectContaining({ rpc_method: "SearchAssistants" })]);
  });
});
