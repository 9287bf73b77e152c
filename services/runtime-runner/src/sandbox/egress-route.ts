import http from "node:http";
import https from "node:https";
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { Agent, setGlobalDispatcher } from "undici";
import { splice } from "./egress-proxy.js";

/*
 * Inside gVisor (no network): the runtime's way out is its parent's egress proxy, on a Unix
 * socket (see egress-proxy.ts). Before any graph code loads, this routes there what graph code
 * and its libraries use to connect: fetch (Node's, through undici's global dispatcher), the http
 * and https modules' default agents, and, for libraries that read them, HTTP_PROXY and
 * HTTPS_PROXY (a port on the sandbox's own loopback passing connections to the proxy). A client
 * that opens sockets its own way finds no route: the sandbox has no network.
 */

/** How long opening a tunnel (the proxy's answer to CONNECT) may take. */
const TUNNEL_TIMEOUT_MS = 30_000;
/** The most a refusal's text may be (the proxy's sentences are short). */
const MAX_REFUSAL_BYTES = 4_096;

/** Why the egress proxy did not open a tunnel: its status and its sentence (which names the destination). */
export class EgressRefusedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "EgressRefusedError";
  }
}

/**
 * A connection to host:port through the egress proxy at `proxySocket`: a CONNECT tunnel, the raw
 * socket once the proxy answered 200; its refusal as an EgressRefusedError.
 */
export function openTunnel(proxySocket: string, host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(proxySocket);
    let head = Buffer.alloc(0);
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new Error(`the egress proxy did not answer within ${TUNNEL_TIMEOUT_MS / 1000} s`)),
      TUNNEL_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > MAX_REFUSAL_BYTES) fail(new Error("the egress proxy answered with an overlong head"));
        return;
      }
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, end).toString("latin1"))?.[1] ?? 0);
      if (status === 200) {
        socket.off("data", onData);
        clearTimeout(timer);
        settled = true;
        const rest = head.subarray(end + 4);
        if (rest.length > 0) socket.unshift(rest);
        resolve(socket);
        return;
      }
      // A refusal: its body is the sentence (the proxy closes the connection after it).
      const body = head.subarray(end + 4);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head.subarray(0, end).toString("latin1"))?.[1] ?? -1);
      if ((length >= 0 && body.length >= length) || body.length > MAX_REFUSAL_BYTES) refuse(status, body);
    };
    const refuse = (status: number, body: Buffer) => {
      clearTimeout(timer);
      const text = body.subarray(0, MAX_REFUSAL_BYTES).toString("utf8").trim();
      fail(new EgressRefusedError(status, text || `the egress proxy refused ${host}:${port} (HTTP ${status})`));
    };
    socket.on("data", onData);
    socket.once("end", () => {
      const end = head.indexOf("\r\n\r\n");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head.toString("latin1"))?.[1] ?? 0);
      if (end >= 0 && status !== 200) refuse(status, head.subarray(end + 4));
      else fail(new Error("the egress proxy closed the connection"));
    });
    socket.once("error", (err) => fail(new Error(`the egress proxy is unreachable: ${err.message}`)));
    const authority = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  });
}

/** A TLS connection inside `socket` to `host` (its certificate checked for that name), once its handshake is done. */
function secure(socket: net.Socket, host: string, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secured = tls.connect({
      ...options,
      socket,
      host,
      servername: options.servername || (net.isIP(host) ? undefined : host),
    });
    secured.once("secureConnect", () => resolve(secured));
    secured.once("error", reject);
  });
}

type ConnectCallback = (err: Error | null, socket: Duplex) => void;

/**
 * The http and https modules' agents, their connections tunnelled through the egress proxy (TLS
 * inside the tunnel for https). Classes made for one proxy: a request with `agent: false` makes
 * its own agent with the default agent's constructor, without arguments.
 */
function tunnelAgents(
  proxySocket: string,
  own: (host: string, port: number) => boolean,
): { http: http.Agent; https: https.Agent } {
  class TunnelHttpAgent extends http.Agent {
    override createConnection(options: http.ClientRequestArgs, callback?: ConnectCallback): Duplex | undefined {
      const host = options.host ?? "localhost";
      const port = Number(options.port ?? 80);
      // A Unix socket is no network; nor are the sandbox's own ports.
      if (options.socketPath) return net.connect(options.socketPath);
      if (own(host, port)) return net.connect({ host, port });
      openTunnel(proxySocket, host, port).then(
        (socket) => callback?.(null, socket),
        (err: Error) => callback?.(err, undefined as unknown as Duplex),
      );
      return undefined;
    }
  }
  class TunnelHttpsAgent extends https.Agent {
    override createConnection(options: https.RequestOptions, callback?: ConnectCallback): Duplex | undefined {
      const host = options.host ?? "localhost";
      if (options.socketPath) return tls.connect({ ...(options as tls.ConnectionOptions), path: options.socketPath });
      openTunnel(proxySocket, host, Number(options.port ?? 443))
        .then((socket) => secure(socket, host, options as tls.ConnectionOptions))
        .then(
          (socket) => callback?.(null, socket),
          (err: Error) => callback?.(err, undefined as unknown as Duplex),
        );
      return undefined;
    }
  }
  return { http: new TunnelHttpAgent({ keepAlive: true }), https: new TunnelHttpsAgent({ keepAlive: true }) };
}

export interface EgressRoute {
  /** The loopback port (the sandbox's own) that HTTP_PROXY and HTTPS_PROXY name. */
  readonly envProxyPort: number;
  close(): Promise<void>;
}

/**
 * Routes this process's outgoing HTTP through the egress proxy at `proxySocket` (see the comment
 * at the top), and serves each of `forwards` (a port of the sandbox's own loopback) by passing
 * its connections to a Unix socket of the parent (the OTLP collector's relay, for instance).
 */
export async function routeEgress(
  proxySocket: string,
  forwards: ReadonlyArray<{ port: number; socket: string }> = [],
): Promise<EgressRoute> {
  // The sandbox's own loopback ports (HTTP_PROXY's, the forwards'): reached directly, not through the proxy.
  const ownPorts = new Set<number>();
  const own = (host: string, port: number) =>
    ownPorts.has(port) && (host === "localhost" || host === "127.0.0.1" || host === "::1" || host === "[::1]");
  setGlobalDispatcher(
    new Agent({
      connect: (options, callback) => {
        const https = options.protocol === "https:";
        const port = Number(options.port || (https ? 443 : 80));
        const direct = (): Promise<net.Socket> =>
          new Promise((resolve, reject) => {
            const socket = net.connect({ host: options.hostname, port });
            socket.once("connect", () => resolve(socket));
            socket.once("error", reject);
          });
        (own(options.hostname, port) ? direct() : openTunnel(proxySocket, options.hostname, port))
          .then((socket): Promise<net.Socket> | net.Socket =>
            https ? secure(socket, options.hostname, { servername: options.servername ?? undefined }) : socket,
          )
          .then(
            (socket) => {
              socket.setNoDelay(true);
              callback(null, socket);
            },
            (err: Error) => callback(err, null),
          );
      },
    }),
  );
  const agents = tunnelAgents(proxySocket, own);
  http.globalAgent = agents.http;
  https.globalAgent = agents.https;
  const servers: net.Server[] = [];
  const serve = async (port: number, socket: string): Promise<number> => {
    const server = net.createServer((client) => {
      client.on("error", () => {});
      const upstream = net.connect(socket);
      upstream.on("error", () => client.destroy());
      splice(client, upstream);
    });
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    const bound = (server.address() as net.AddressInfo).port;
    ownPorts.add(bound);
    return bound;
  };
  const envProxyPort = await serve(0, proxySocket);
  for (const name of ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"]) {
    process.env[name] = `http://127.0.0.1:${envProxyPort}`;
  }
  for (const forward of forwards) await serve(forward.port, forward.socket);
  return {
    envProxyPort,
    close: async () => {
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
