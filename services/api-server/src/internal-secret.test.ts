import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createRpcTransport, freePort, generateInternalSecret } from "@langopen/common";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { createTestDatabase } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

let dir: string;
let database: { url: string; drop: () => Promise<void> };
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "langopen-api-secret-"));
  database = await createTestDatabase(inject("databaseUrl"));
});
afterAll(async () => {
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

/** `node dist/main.js` with these variables, until it exits or serves (then `probe` runs, and it is stopped). */
async function run(
  env: Record<string, string>,
  probe?: (url: string) => Promise<void>,
): Promise<{ served: boolean; code: number | null; stderr: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? "", DATABASE_URL: database.url, RPC_PORT: String(port), LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let served = false;
  let stderr = "";
  let probed: Promise<void> = Promise.resolve();
  child.stdout.on("data", (chunk: Buffer) => {
    if (served || !chunk.toString("utf8").includes("Started RPC server")) return;
    served = true;
    probed = (probe?.(`http://127.0.0.1:${port}`) ?? Promise.resolve()).finally(() => child.kill("SIGTERM"));
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  await probed;
  return { served, code, stderr };
}

describe("the api-server process (split mode)", () => {
  it("refuses to start without the internal secret, saying how to set it", async () => {
    const { served, code, stderr } = await run({});
    expect(served).toBe(false);
    expect(code).toBe(1);
    expect(stderr).toContain("set LANGOPEN_INTERNAL_SECRET");
    expect(stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it("serves callers that send the secret of LANGOPEN_INTERNAL_SECRET_FILE, and only them", async () => {
    const secret = generateInternalSecret();
    const file = path.join(dir, "secret");
    await writeFile(file, `${secret}\n`, { mode: 0o600 });
    const answers: Array<string | number> = [];
    const { served } = await run({ LANGOPEN_INTERNAL_SECRET_FILE: file }, async (url) => {
      const threads = (token?: string) => createClient(ThreadService, createRpcTransport(url, { token }));
      answers.push((await threads(secret).searchThreads({})).threads.length);
      answers.push(
        await threads()
          .searchThreads({})
          .then(
            () => "answered",
            (err: { code: number }) => err.code,
          ),
      );
    });
    expect(served).toBe(true);
    expect(answers).toEqual([0, 16]); // UNAUTHENTICATED without it
  });
});
