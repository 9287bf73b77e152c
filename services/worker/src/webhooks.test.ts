import { createHmac } from "node:crypto";
import type { LookupAddress } from "node:dns";
import { createLogger } from "@langopen/common";
import { createLocalSignals, type WebhookStore } from "@langopen/data-plane";
import { until } from "@langopen/testkit";
import { describe, expect, it } from "vitest";
import {
  isNonPublicAddress,
  parseAllowedHosts,
  RefusedTargetError,
  signBody,
  startWebhookDispatcher,
  vetTarget,
} from "./webhooks.js";

describe("webhook targets", () => {
  it.each([
    ["127.0.0.1", true],
    ["127.255.0.9", true],
    ["10.1.2.3", true],
    ["172.16.0.1", true],
    ["172.31.255.255", true],
    ["172.32.0.1", false],
    ["192.168.1.1", true],
    ["169.254.169.254", true],
    ["100.64.0.1", true],
    ["0.0.0.0", true],
    ["224.0.0.1", true],
    ["8.8.8.8", false],
    ["93.184.216.34", false],
    ["::1", true],
    ["::", true],
    ["fe80::1", true],
    ["fc00::1", true],
    ["fd12:3456::1", true],
    ["ff02::1", true],
    ["::ffff:127.0.0.1", true],
    ["::ffff:7f00:1", true],
    ["::ffff:8.8.8.8", false],
    ["64:ff9b::a00:1", true],
    ["64:ff9b::808:808", false],
    ["2606:4700:4700::1111", false],
    ["not an address", true],
  ])("%s is non-public: %s", (address, expected) => {
    expect(isNonPublicAddress(address)).toBe(expected);
  });

  it("parses host and host:port allow-list entries", () => {
    expect(
      parseAllowedHosts(["hooks.internal", " 127.0.0.1:8080 ", "", "[::1]:9000", "[fd00::1]", "::1", "Example.COM"]),
    ).toEqual([
      { host: "hooks.internal" },
      { host: "127.0.0.1", port: 8080 },
      { host: "::1", port: 9000 },
      { host: "fd00::1" },
      { host: "::1" },
      { host: "example.com" },
    ]);
  });

  const resolver = (table: Record<string, string[]>) => async (host: string) =>
    (table[host] ?? []).map((address): LookupAddress => ({ address, family: address.includes(":") ? 6 : 4 }));

  it("refuses relative, non-http and private targets, and names the reason", async () => {
    const none = parseAllowedHosts([]);
    await expect(vetTarget("/hooks/run", none)).rejects.toThrow(/a path needs the API's own URL/);
    await expect(vetTarget("hooks/run", none)).rejects.toThrow(/neither an absolute URL nor a path/);
    await expect(vetTarget("ftp://example.com/x", none)).rejects.toThrow(/only http and https/);
    await expect(vetTarget("http://127.0.0.1:9/x", none)).rejects.toThrow(RefusedTargetError);
    await expect(vetTarget("http://[::1]/x", none)).rejects.toThrow(/loopback, private/);
    await expect(vetTarget("http://169.254.169.254/latest/meta-data", none)).rejects.toThrow(RefusedTargetError);
    // A name is refused when any of its addresses is private.
    const resolve = resolver({ "mixed.example": ["93.184.216.34", "10.0.0.5"], "localhost.example": ["::1"] });
    await expect(vetTarget("https://mixed.example/h", none, resolve)).rejects.toThrow(/resolves to 10\.0\.0\.5/);
    await expect(vetTarget("https://localhost.example/h", none, resolve)).rejects.toThrow(/resolves to ::1/);
  });

  it("sends a path to the installation's own API, and never lets one name another host", async () => {
    const none = parseAllowedHosts([]);
    const self = "http://127.0.0.1:8123";
    expect((await vetTarget("/custom/webhook?x=1", none, undefined, self)).url.href).toBe(
      "http://127.0.0.1:8123/custom/webhook?x=1",
    );
    // Protocol-relative URLs (a browser reads a backslash as a slash) are other hosts: the private-address rules apply.
    for (const sneaky of ["//169.254.169.254/latest", "/\\169.254.169.254/latest"]) {
      await expect(vetTarget(sneaky, none, undefined, self), sneaky).rejects.toThrow(RefusedTargetError);
    }
  });

  it("pins a public name to the addresses it checked, and lets allow-listed targets through", async () => {
    const resolve = resolver({ "hooks.example": ["93.184.216.34", "2606:2800:220:1::1"] });
    const target = await vetTarget("https://hooks.example/h", parseAllowedHosts([]), resolve);
    expect(target.url.hostname).toBe("hooks.example");
    const answers: unknown[] = [];
    target.lookup?.("hooks.example", { all: true }, (_err, addresses) => answers.push(addresses));
    target.lookup?.("hooks.example", {}, (_err, address, family) => answers.push([address, family]));
    expect(answers).toEqual([
      [
        { address: "93.184.216.34", family: 4 },
        { address: "2606:2800:220:1::1", family: 6 },
      ],
      ["93.184.216.34", 4],
    ]);

    const allowed = parseAllowedHosts(["127.0.0.1:8080", "hooks.internal"]);
    expect((await vetTarget("http://127.0.0.1:8080/x", allowed)).lookup).toBeUndefined();
    await expect(vetTarget("http://127.0.0.1:8081/x", allowed)).rejects.toThrow(RefusedTargetError);
    expect((await vetTarget("http://hooks.internal:1234/x", allowed, resolver({}))).url.port).toBe("1234");
  });

  it("signs t.body with HMAC-SHA256", () => {
    const body = '{"run_id":"r"}';
    const expected = createHmac("sha256", "k").update(`1700000000.${body}`).digest("hex");
    expect(signBody("k", body, 1_700_000_000)).toBe(`t=1700000000,v1=${expected}`);
  });
});

describe("webhook dispatcher", () => {
  it("looks for due deliveries when one was queued, not whenever a run ends", async () => {
    const signals = createLocalSignals();
    let looks = 0;
    const webhooks = {
      claimDue: async () => {
        looks++;
        return [];
      },
    } as unknown as WebhookStore;
    // Its poll never comes within the test; the in-process signals wake it synchronously.
    const dispatcher = startWebhookDispatcher({
      webhooks,
      signals,
      logger: createLogger({ service: "test", level: "silent" }),
      pollMs: 3_600_000,
    });
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    try {
      await until(async () => looks === 1, "the look at start");
      await settle();
      await signals.publishRunDone("a run without a webhook");
      await settle();
      expect(looks).toBe(1);
      await signals.publishWebhooksDue();
      await until(async () => looks === 2, "a look once a delivery was queued");
    } finally {
      await dispatcher.stop();
      await signals.close();
    }
  });
});
