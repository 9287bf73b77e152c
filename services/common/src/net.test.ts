import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { stat } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { freePort, freePortPreferring } from "./net.js";

const exec = promisify(execFile);

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

describe("freePort's reservations", () => {
  it("never hands out a port another pick took within the minute, in this process or another", async () => {
    const first = await freePort();
    const marked = await stat(path.join(os.tmpdir(), "langopen-ports", String(first)));
    expect(Date.now() - marked.mtimeMs).toBeLessThan(60_000);
    // Another process's picks, at the same time as this one's.
    const script = `import { freePort } from ${JSON.stringify(new URL("../dist/net.js", import.meta.url).href)};
      const ports = []; for (let i = 0; i < 150; i++) ports.push(await freePort()); console.log(JSON.stringify(ports));`;
    const [other, mine] = await Promise.all([
      exec(process.execPath, ["--input-type=module", "-e", script]).then((r) => JSON.parse(r.stdout) as number[]),
      (async () => {
        const ports: number[] = [];
        for (let i = 0; i < 150; i++) ports.push(await freePort());
        return ports;
      })(),
    ]);
    const all = [first, ...mine, ...other];
    expect(new Set(all).size).toBe(all.length);
  });
});
