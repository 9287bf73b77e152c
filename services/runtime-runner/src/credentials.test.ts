import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort, generateInternalSecret, runtimeCredentialsOf } from "@langopen/common";
import { describe, expect, it } from "vitest";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const CONFIG = fileURLToPath(new URL("../test-graphs/langgraph.json", import.meta.url));

/** `node dist/main.js` on its own (split mode, no IPC channel) with these variables: until it exits or is ready. */
async function run(env: Record<string, string>): Promise<{ ready: boolean; code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? "",
      LANGOPEN_CONFIG: CONFIG,
      RPC_HOST: "127.0.0.1",
      RPC_PORT: String(await freePort()),
      API_SERVER_URL: `http://127.0.0.1:${await freePort()}`,
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let ready = false;
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    if (!ready && chunk.toString("utf8").includes("Runtime is ready")) {
      ready = true;
      child.kill("SIGTERM");
    }
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  return { ready, code, stderr };
}

describe("the runtime's credentials in split mode", () => {
  const credentials = runtimeCredentialsOf(generateInternalSecret());

  it("refuses to start without them, or with one of the two, saying what they are", async () => {
    for (const env of [{}, { LANGOPEN_RUNTIME_TOKEN: credentials.token }] as Array<Record<string, string>>) {
      const { ready, code, stderr } = await run(env);
      expect(ready).toBe(false);
      expect(code).toBe(1);
      expect(stderr).toContain("LANGOPEN_RUNTIME_TOKEN and LANGOPEN_RUNTIME_CALLER_TOKEN_SHA256");
      expect(stderr).not.toMatch(/at .*\.js:\d+/); // a message, not a stack
    }
  });

  it("takes a token and a digest of 64 hex digits, and starts with both", async () => {
    const bad = await run({
      LANGOPEN_RUNTIME_TOKEN: "not-hex",
      LANGOPEN_RUNTIME_CALLER_TOKEN_SHA256: credentials.callerTokenSha256,
    });
    expect(bad).toMatchObject({ ready: false, code: 1 });
    expect(bad.stderr).toContain("LANGOPEN_RUNTIME_TOKEN");
    const good = await run({
      LANGOPEN_RUNTIME_TOKEN: credentials.token,
      LANGOPEN_RUNTIME_CALLER_TOKEN_SHA256: credentials.callerTokenSha256,
    });
    expect(good.ready).toBe(true);
  });
});
