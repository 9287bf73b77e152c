import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { StartupError } from "@langopen/common";
import { describe, expect, it } from "vitest";
import { assertSafeBinding, createHostPolicy, isLoopbackAddress, parseHostList, splitHost } from "./host-check.js";

describe("splitHost", () => {
  it.each([
    ["localhost", "localhost", undefined],
    ["LocalHost:8123", "localhost", "8123"],
    ["127.0.0.1:80", "127.0.0.1", "80"],
    ["[::1]:8123", "::1", "8123"],
    ["[::1]", "::1", undefined],
    ["example.com.", "example.com", undefined],
    ["::1", "::1", undefined],
  ])("%s -> %s %s", (value, name, port) => {
    expect(splitHost(value)).toEqual({ name, port });
  });
});

describe("the Host policy", () => {
  it("serves loopback names on any port, and nothing else, by default", () => {
    const policy = createHostPolicy([]);
    for (const host of ["localhost", "localhost:8123", "app.localhost:3000", "127.0.0.1:1", "[::1]:8123", "LOCALHOST."]) {
      expect(policy.allows(host), host).toBe(true);
    }
    for (const host of [
      "evil.example",
      "evil.example:8123",
      "localhost.evil.example",
      "127.0.0.1.nip.io",
      "0.0.0.0:8123",
      "10.0.0.5:8123",
      "localhost:abc",
      "",
      undefined,
    ]) {
      expect(policy.allows(host), String(host)).toBe(false);
    }
  });

  it("serves configured names, name:port pairs and *.suffix entries", () => {
    const policy = createHostPolicy(parseHostList(" agents.example.com, api.example.com:443 ,*.corp.example,[fd00::1]"));
    expect(policy.enabled).toBe(true);
    expect(policy.allows("agents.example.com")).toBe(true);
    expect(policy.allows("Agents.Example.com:8123")).toBe(true);
    expect(policy.allows("api.example.com:443")).toBe(true);
    expect(policy.allows("api.example.com:8443")).toBe(false);
    expect(policy.allows("api.example.com")).toBe(false);
    expect(policy.allows("a.corp.example:9000")).toBe(true);
    expect(policy.allows("a.b.corp.example")).toBe(true);
    expect(policy.allows("corp.example")).toBe(false);
    expect(policy.allows("evilcorp.example")).toBe(false);
    expect(policy.allows("[fd00::1]:8123")).toBe(true);
    expect(policy.allows("evil.example")).toBe(false);
  });

  it("serves the address it is bound to, and every local one when bound to all", () => {
    const policy = createHostPolicy([]);
    expect(policy.allows("192.0.2.10:8123")).toBe(false);
    policy.learnBoundAddress({ address: "192.0.2.10", family: "IPv4", port: 8123 });
    expect(policy.allows("192.0.2.10:8123")).toBe(true);
    expect(policy.allows("192.0.2.11:8123")).toBe(false);

    const wildcard = createHostPolicy([]);
    wildcard.learnBoundAddress({ address: "0.0.0.0", family: "IPv4", port: 8123 });
    // The wildcard itself is no address a client may name.
    expect(wildcard.allows("0.0.0.0:8123")).toBe(false);
    expect(wildcard.allows("evil.example:8123")).toBe(false);
  });

  it("is off with *", () => {
    const policy = createHostPolicy(parseHostList("agents.example.com,*"));
    expect(policy.enabled).toBe(false);
    expect(policy.allows("evil.example")).toBe(true);
  });
});

describe("binding", () => {
  it.each(["127.0.0.1", "127.0.1.1", "localhost", "::1", "[::1]", "::ffff:127.0.0.1"])("%s is loopback", (host) => {
    expect(isLoopbackAddress(host)).toBe(true);
  });
  it.each(["0.0.0.0", "::", "192.168.1.10", "example.com", "128.0.0.1"])("%s is not loopback", (host) => {
    expect(isLoopbackAddress(host)).toBe(false);
  });

  it("refuses a non-loopback address without auth, naming the setting that allows it", () => {
    const unsafe = () => assertSafeBinding({ host: "0.0.0.0", authConfigured: false, allowUnauthenticated: false });
    expect(unsafe).toThrow(StartupError);
    expect(unsafe).toThrow(/LANGOPEN_ALLOW_UNAUTHENTICATED=true/);
    expect(unsafe).toThrow(/0\.0\.0\.0/);
  });

  it("allows loopback, authenticated, or explicitly unauthenticated listeners", () => {
    expect(() => assertSafeBinding({ host: "127.0.0.1", authConfigured: false, allowUnauthenticated: false })).not.toThrow();
    expect(() => assertSafeBinding({ host: "0.0.0.0", authConfigured: true, allowUnauthenticated: false })).not.toThrow();
    expect(() => assertSafeBinding({ host: "0.0.0.0", authConfigured: false, allowUnauthenticated: true })).not.toThrow();
  });
});

const GATEWAY_MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

/**
 * `node gateway/dist/main.js` with this environment, until it exits or logs that it started (it
 * is then stopped): whether it started, its exit code and stderr.
 */
function runGateway(env: Record<string, string>): Promise<{ started: boolean; code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [GATEWAY_MAIN], {
      env: { PATH: process.env.PATH ?? "", API_SERVER_URL: "http://127.0.0.1:1", PORT: "0", LOG_LEVEL: "info", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let started = false;
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      if (!started && chunk.toString("utf8").includes("Started gateway")) {
        started = true;
        child.kill("SIGTERM");
      }
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ started, code, stderr });
    });
  });
}

describe("the gateway process (split mode)", () => {
  it("refuses to start on 0.0.0.0 without auth, with the message", async () => {
    const { started, code, stderr } = await runGateway({ HOST: "0.0.0.0" });
    expect(started).toBe(false);
    expect(code).toBe(1);
    expect(stderr).toContain("LANGOPEN_ALLOW_UNAUTHENTICATED=true");
    expect(stderr).not.toMatch(/at .*\.js:\d+/); // a message, not a stack
  });

  it("starts on 0.0.0.0 when told to serve without auth on purpose, or with API keys", async () => {
    expect(await runGateway({ HOST: "0.0.0.0", LANGOPEN_ALLOW_UNAUTHENTICATED: "true" })).toMatchObject({ started: true });
    expect(await runGateway({ HOST: "0.0.0.0", LANGOPEN_API_KEYS: "ci=sk-test-key" })).toMatchObject({ started: true });
  });

  it("refuses to start on a langgraph.json it cannot read", async () => {
    const { started, code, stderr } = await runGateway({ LANGOPEN_CONFIG: "/nonexistent/langgraph.json" });
    expect(started).toBe(false);
    expect(code).toBe(1);
    expect(stderr).toContain("/nonexistent/langgraph.json");
  });
});
