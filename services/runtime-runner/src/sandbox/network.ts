import { lstatSync } from "node:fs";
import { chmod, chown, mkdir } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { type EgressEntry, type Logger, urlList } from "@langopen/common";
import { type Destination, EgressPolicy, type EgressProxy, splice, startEgressProxy } from "./egress-proxy.js";

/*
 * The network of a runtime in gVisor: none (runsc --network=none). What it serves and calls
 * crosses as Unix sockets in a folder the sandbox shares with its parent (runsc --host-uds=all),
 * and the parent passes them on:
 *   - its RPC and metrics: it listens on rpc.sock and metrics.sock; the parent listens on the TCP
 *     address it was given (RPC_HOST:RPC_PORT, METRICS_HOST:METRICS_PORT) and passes each
 *     connection on (one made while the runtime starts waits until it serves);
 *   - the api-servers it calls (API_SERVER_URL): api-<n>.sock, passed on to each;
 *   - an OTLP collector over http (OTEL_EXPORTER_OTLP_*ENDPOINT): otlp.sock, reached inside
 *     through the same port on the sandbox's own loopback;
 *   - everything else graph code asks for: the egress proxy on egress.sock (egress-proxy.ts).
 */

/** What the runtime inside is told (LANGOPEN_SANDBOX_NETWORK, JSON): its sockets. */
export interface SandboxNetworkSockets {
  /** Where it serves its RPC. */
  rpc: string;
  /** Where it serves its metrics, if it serves them. */
  metrics?: string;
  /** The socket reaching each API_SERVER_URL, in order. */
  apiServers: string[];
  /** The egress proxy. */
  egress: string;
  /** Ports of the sandbox's own loopback to pass on to a socket of the parent (the OTLP collector's). */
  forwards: Array<{ port: number; socket: string }>;
}

export interface SandboxNetworkOptions {
  /** The folder shared with the sandbox (mounted read-write at the same path). */
  dir: string;
  /** The runtime's environment as its parent made it (RPC_HOST, RPC_PORT, API_SERVER_URL and the rest). */
  env: Record<string, string>;
  /** `egress` of the project's langgraph.json. */
  egress: readonly EgressEntry[];
  /** The installation's own destinations (host:port) graph code must not reach, besides those in `env`. */
  denied?: readonly string[];
  /** The sandbox user, who must reach the sockets this process serves. */
  uid?: number;
  gid?: number;
  logger?: Logger;
}

export interface SandboxNetwork {
  /** The runtime's environment, changed for the inside (LANGOPEN_SANDBOX_NETWORK added, the OTLP endpoint moved to loopback). */
  readonly env: Record<string, string>;
  close(): Promise<void>;
}

/** How long a connection to a starting runtime waits for it to serve. */
const SERVED_WAIT_MS = 120_000;

/**
 * A connection to the socket a runtime serves on, once it does (retried every 50 ms while it
 * starts; undefined past SERVED_WAIT_MS or once `gone`). The runtime makes it in a folder it may
 * write: only a socket is connected to, never what a link there leads to (this process is root).
 */
async function untilServed(file: string, gone: () => boolean): Promise<net.Socket | undefined> {
  const deadline = Date.now() + SERVED_WAIT_MS;
  while (!gone() && Date.now() < deadline) {
    const st = lstatSync(file, { throwIfNoEntry: false });
    if (st && !st.isSocket()) return undefined;
    if (st) {
      const socket = await new Promise<net.Socket | undefined>((resolve) => {
        const s = net.connect(file);
        s.once("connect", () => resolve(s));
        s.once("error", () => resolve(undefined));
      });
      if (socket) return socket;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return undefined;
}

/** Longest path of a Unix socket (Linux's sun_path, without its final NUL). */
const MAX_SOCKET_PATH = 107;

/** host:port of a URL (its scheme's port when it names none). */
function destinationOf(url: string): Destination | undefined {
  try {
    const u = new URL(url);
    const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
    return { host: u.hostname.replace(/^\[|\]$/g, ""), port };
  } catch {
    return undefined;
  }
}

/** "host:port" (or "[v6]:port") as a destination. */
export function parseHostPort(text: string): Destination | undefined {
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(text.trim());
  return match ? { host: match[1] as string, port: Number(match[2]) } : undefined;
}

/**
 * Sets up a runtime's network for gVisor (see the comment at the top): its relays and its egress
 * proxy, before it starts.
 */
export async function startSandboxNetwork(options: SandboxNetworkOptions): Promise<SandboxNetwork> {
  const { dir, env } = options;
  const socket = (name: string) => {
    const file = path.join(dir, name);
    if (Buffer.byteLength(file) > MAX_SOCKET_PATH) {
      throw new Error(`${file} is too long a path for a Unix socket (set TMPDIR to a shorter folder)`);
    }
    return file;
  };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (options.uid !== undefined && options.gid !== undefined) await chown(dir, options.uid, options.gid);
  const servers: net.Server[] = [];
  const connections = new Set<net.Socket>();
  let proxy: EgressProxy | undefined;
  let closed = false;
  const close = async () => {
    closed = true;
    // First no new connection (a restarted runtime's network may listen on the same port next).
    const stopped = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    servers.length = 0;
    await proxy?.close();
    for (const c of connections) c.destroy();
    await Promise.all(stopped);
  };
  /** Listens on `where` (a socket path, or host and port) and passes each connection to what `to` opens. */
  const relay = async (
    where: string | { host: string; port: number },
    to: () => net.Socket | undefined | Promise<net.Socket | undefined>,
  ): Promise<void> => {
    const server = net.createServer((client) => {
      connections.add(client);
      client.once("close", () => connections.delete(client));
      client.on("error", () => {});
      if (client.remotePort !== undefined) client.setNoDelay(true);
      // What it sends meanwhile waits in its buffers.
      client.pause();
      void Promise.resolve(to()).then((upstream) => {
        if (!upstream || client.destroyed || closed) {
          upstream?.destroy();
          client.destroy();
          return;
        }
        connections.add(upstream);
        upstream.once("close", () => connections.delete(upstream));
        upstream.on("error", () => client.destroy());
        splice(client, upstream);
      });
    });
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      if (typeof where === "string") server.listen(where, () => resolve());
      else server.listen(where.port, where.host, () => resolve());
    });
    // The sandbox user connects to the sockets this process made (the folder keeps others out).
    if (typeof where === "string") await chmod(where, 0o666);
  };
  const toTcp = (d: Destination) => () => {
    const upstream = net.connect({ host: d.host, port: d.port });
    upstream.setNoDelay(true);
    return upstream;
  };
  try {
    const sockets: SandboxNetworkSockets = {
      rpc: socket("rpc.sock"),
      apiServers: [],
      egress: socket("egress.sock"),
      forwards: [],
    };
    const inside: Record<string, string> = { ...env };
    const denied: Destination[] = [];
    for (const [i, url] of urlList(env.API_SERVER_URL ?? "").entries()) {
      const target = destinationOf(url);
      if (!target) continue;
      denied.push(target);
      const file = socket(`api-${i}.sock`);
      await relay(file, toTcp(target));
      sockets.apiServers.push(file);
    }
    const rpcPort = Number(env.RPC_PORT);
    const rpcHost = env.RPC_HOST || "127.0.0.1";
    if (rpcPort > 0) denied.push({ host: rpcHost, port: rpcPort });
    const metricsPort = env.METRICS_PORT ? Number(env.METRICS_PORT) : undefined;
    const metricsHost = env.METRICS_HOST || "127.0.0.1";
    if (metricsPort !== undefined) {
      sockets.metrics = socket("metrics.sock");
      if (metricsPort > 0) denied.push({ host: metricsHost, port: metricsPort });
    }
    for (const text of options.denied ?? []) {
      const d = parseHostPort(text);
      if (d) denied.push(d);
    }
    // Traces of the runtime itself: to the collector over http, through the same port on the sandbox's loopback.
    for (const name of ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"]) {
      const value = env[name];
      if (!value) continue;
      const url = new URL(value);
      const target = destinationOf(value);
      if (url.protocol !== "http:" || !target) continue;
      const file = socket(`otlp-${sockets.forwards.length}.sock`);
      await relay(file, toTcp(target));
      sockets.forwards.push({ port: target.port, socket: file });
      url.hostname = "127.0.0.1";
      inside[name] = url.toString().replace(/\/$/, value.endsWith("/") ? "/" : "");
      break;
    }
    const gateway = env.LANGOPEN_GATEWAY_URL ? destinationOf(env.LANGOPEN_GATEWAY_URL) : undefined;
    proxy = await startEgressProxy({
      socketPath: sockets.egress,
      policy: new EgressPolicy({ entries: options.egress, platformAllowed: gateway ? [gateway] : [], platformDenied: denied }),
      logger: options.logger,
    });
    await chmod(sockets.egress, 0o666);
    inside.LANGOPEN_SANDBOX_NETWORK = JSON.stringify(sockets);
    // The runtime's own address, held from the start (as a runtime listening on it would): a
    // connection made while it starts waits until it serves.
    await relay({ host: rpcHost, port: rpcPort }, () => untilServed(sockets.rpc, () => closed));
    if (metricsPort !== undefined && sockets.metrics) {
      const file = sockets.metrics;
      await relay({ host: metricsHost, port: metricsPort }, () => untilServed(file, () => closed));
    }
    return { env: inside, close };
  } catch (err) {
    await close();
    throw err;
  }
}
