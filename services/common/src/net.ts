import { readFileSync } from "node:fs";
import { chmod, mkdir, open, stat, utimes } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";

function listenOnce(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host, port, exclusive: true }, () => {
      const { port: bound } = server.address() as net.AddressInfo;
      server.close(() => resolve(bound));
    });
  });
}

/** The lowest port the kernel hands out for outgoing connections and for listen(0) (Linux default 32768). */
function ephemeralLow(): number {
  try {
    const low = Number.parseInt(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0] ?? "", 10);
    return Number.isFinite(low) && low > 1024 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

const FIRST_PICKED_PORT = 10_000;
const PICKS = 20;

/**
 * Ports at or above FIRST_PICKED_PORT that browsers refuse to connect to (the Fetch standard's
 * "bad port" list: 10080 is Amanda's). A picked port can become a public one that a browser opens
 * (the portal's tests), so it is never picked.
 */
const BROWSER_BLOCKED_PORTS = new Set([10_080]);

/** Where picked ports are marked taken for a while, across the machine's processes. */
const RESERVATIONS = path.join(os.tmpdir(), "langopen-ports");
/** How long a picked port stays marked: ample time for its server to bind it. */
const RESERVED_MS = 60_000;

/**
 * Marks `port` as picked for RESERVED_MS; false when another pick (of any process) marked it
 * within that time. Two processes picking at random among the same ports would otherwise hand
 * the same one to two servers now and then (a suite starting thousands of servers hits that).
 * Where the folder cannot be written, every port counts as free: the bind still tells.
 */
async function reserve(port: number): Promise<boolean> {
  const file = path.join(RESERVATIONS, String(port));
  try {
    await mkdir(RESERVATIONS, { recursive: true }).then((made) => (made ? chmod(RESERVATIONS, 0o1777) : undefined));
    const handle = await open(file, "wx");
    await handle.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") return true;
  }
  const marked = await stat(file).catch(() => undefined);
  if (marked && Date.now() - marked.mtimeMs < RESERVED_MS) return false;
  const now = new Date();
  return utimes(file, now, now).then(
    () => true,
    () => false,
  );
}

/**
 * A TCP port that was free on `host` a moment ago, for a server that must know its address before
 * it listens (two services that call each other, a URL handed to a child process).
 *
 * Picked at random below the kernel's ephemeral range: a port from listen(0) lies inside that range,
 * where every outgoing connection (to Postgres, to Redis) may take it in the moment before the
 * server binds it. Below the range only another explicit bind can; a pick is marked for a minute
 * (see reserve) so that no other pick, in this process or another, returns it meanwhile. Falls
 * back to listen(0) when the range leaves no room.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const high = ephemeralLow() - 1;
  if (high > FIRST_PICKED_PORT) {
    for (let i = 0; i < PICKS; i++) {
      const port = FIRST_PICKED_PORT + Math.floor(Math.random() * (high - FIRST_PICKED_PORT + 1));
      if (BROWSER_BLOCKED_PORTS.has(port) || !(await reserve(port))) continue;
      try {
        return await listenOnce(port, host);
      } catch {
        // Taken: pick another.
      }
    }
  }
  return listenOnce(0, host);
}

/** `port` when it is free a moment ago, else another free one. */
export function freePortPreferring(port: number | undefined, host = "127.0.0.1"): Promise<number> {
  return port ? listenOnce(port, host).catch(() => freePort(host)) : freePort(host);
}
