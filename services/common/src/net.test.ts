import { readFileSync } from "node:fs";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { freePort, freePortPreferring } from "./net.js";

const ephemeralLow = Number.parseInt(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0] ?? "", 10);

function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

describe("freePort", () => {
  it("picks distinct bindable ports below the range outgoing connections take theirs from", async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(ephemeralLow);
    }
    expect(new Set(ports).size).toBeGreaterThan(15);
    const server = await listen(ports[0] as number);
    server.close();
  });

  it("keeps a preferred port when it is free and picks another when it is taken", async () => {
    const port = await freePort();
    expect(await freePortPreferring(port)).toBe(port);
    const taken = await listen(port);
    try {
      const other = await freePortPreferring(port);
      expect(other).not.toBe(port);
      expect(other).toBeGreaterThan(0);
    } finally {
      taken.close();
    }
  });
});
