import { readFileSync } from "node:fs";
import net from "node:net";

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
 * A TCP port that was free on `host` a moment ago, for a server that must know its address before
 * it listens (two services that call each other, a URL handed to a child process).
 *
 * Picked at random below the kernel's ephemeral range: a port from listen(0) lies inside that range,
 * where every outgoing connection (to Postgres, to Redis) may take it in the moment before the
 * server binds it. Below the range only another explicit bind can, and a random pick among some
 * twenty thousand ports makes that rare. Falls back to listen(0) when the range leaves no room.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const high = ephemeralLow() - 1;
  if (high > FIRST_PICKED_PORT) {
    for (let i = 0; i < PICKS; i++) {
      const port = FIRST_PICKED_PORT + Math.floor(Math.random() * (high - FIRST_PICKED_PORT + 1));
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
