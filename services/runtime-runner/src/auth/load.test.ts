import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger, freePort } from "@langopen/common";
import { describe, expect, it } from "vitest";
import { startRuntime } from "../compose.js";
import { parseExportPath } from "../graphs/project-export.js";
import { loadProjectAuth } from "./load.js";

const logger = createLogger({ service: "test", level: "silent" });
const broken = (name: string) => fileURLToPath(new URL(`../test-fixtures/auth/broken/${name}.json`, import.meta.url));
const BROKEN_DIR = path.dirname(broken("x"));

async function start(configPath: string, graphLoadTimeoutMs?: number) {
  const apiServerUrl = `http://127.0.0.1:${await freePort()}`;
  return startRuntime({ configPath, host: "127.0.0.1", port: 0, apiServerUrl, graphLoadTimeoutMs }, logger);
}

describe("parseExportPath", () => {
  it("splits on the first colon, resolves against the config's folder, and defaults to the default export", () => {
    expect(parseExportPath("./auth.ts:auth", "/app")).toEqual({ file: "/app/auth.ts", exportName: "auth" });
    expect(parseExportPath("./auth.ts", "/app")).toEqual({ file: "/app/auth.ts", exportName: "default" });
    expect(parseExportPath("./auth.ts:", "/app")).toEqual({ file: "/app/auth.ts", exportName: "default" });
    expect(parseExportPath("src/auth.mjs:a:b", "/app")).toEqual({ file: "/app/src/auth.mjs", exportName: "a:b" });
  });
});

describe("loading the project's auth", () => {
  it("loads nothing when langgraph.json has no auth", async () => {
    const none = fileURLToPath(new URL("../test-fixtures/auth/none/langgraph.json", import.meta.url));
    await expect(loadProjectAuth({ configPath: none, logger })).resolves.toBeUndefined();
  });

  it.each([
    ["missing-file", `Failed to load auth: ./absent.mjs:auth: ${path.join(BROKEN_DIR, "absent.mjs")} does not exist`],
    ["missing-export", 'Failed to load auth: ./not-auth.mjs:nothing: not-auth.mjs has no export "nothing" (exports: auth)'],
    ["throws", "Failed to load auth: ./throws.mjs:auth: Cannot reach the key server"],
    ["not-auth", "Auth must be an instance of Auth: ./not-auth.mjs:auth"],
    ["bad-cache", `${broken("bad-cache")}: "auth.cache.ttl_seconds" must be a positive integer, got "a minute"`],
  ])("does not start the runtime when auth cannot be used (%s)", async (name, message) => {
    await expect(start(broken(name))).rejects.toThrow(message);
  });

  it("does not start the runtime when the auth module hangs", async () => {
    await expect(start(broken("hangs"), 500)).rejects.toThrow(
      "Failed to load auth: ./hangs.mjs:auth: the module did not finish loading within 500 ms",
    );
  });
});
