import { lookup } from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import net, { BlockList } from "node:net";
import type { Duplex } from "node:stream";
import { type EgressEntry, type Logger, SPECIAL_PURPOSE_CIDRS } from "@langopen/common";

/*
 * The egress proxy a runtime in gVisor reaches the outside through: the sandbox has no network
 * (runsc --network=none), only Unix sockets its parent serves, this proxy's among them. It opens
 * what the project's `egress` (langgraph.json) declares and nothing else: an HTTP CONNECT tunnel,
 * or a request with an absolute URI (http:// or https://, for clients that proxy that way). It
 * runs in the parent (the launcher, or split mode's supervisor), one per runtime process.
 *
 * What is matched: a host name as asked, in lower case without a final dot, against the declared
 * names (`*.example.com` covers the subdomains, not example.com itself) and the port against
 * theirs: a name not declared is refused without being looked up (a lookup could carry data
 * out). An address, asked as such, is matched against the declared blocks. A declared name is
 * looked up here, outside the sandbox, and connected to at the first address it resolves to that
 * the rules allow. An address in the special-purpose space (loopback, private, link-local, the metadata
 * endpoint: SPECIAL_PURPOSE_CIDRS) is opened only by a declared block inside that space (such as
 * 127.0.0.1/32:8080): a declared name that resolves there, or a wide block such as 0.0.0.0/0, does
 * not open it. The installation's own services (its Postgres, Redis, api-server, the runtimes'
 * ports) are never opened, declared or not; the installation's API (its gateway, which the SDK's
 * Client() in graph code calls) always is.
 */

/** A destination as host (a name or an address) and port. */
export interface Destination {
  host: string;
  port: number;
}

export interface EgressPolicyOptions {
  /** `egress` of the project's langgraph.json. */
  entries: readonly EgressEntry[];
  /** The installation's own destinations graph code reaches on purpose (the gateway, for the SDK's Client()). */
  platformAllowed?: readonly Destination[];
  /** The installation's own destinations graph code never reaches this way, even when declared. */
  platformDenied?: readonly Destination[];
}

/** What the policy says of one destination: the address to connect to, or why not (and the HTTP status saying so). */
export type EgressDecision =
  | { allowed: true; address: string; family: 4 | 6 }
  | { allowed: false; status: number; reason: string };

/** How long a host name may take to resolve. */
const LOOKUP_TIMEOUT_MS = 5_000;

const familyName = (family: 4 | 6) => (family === 4 ? "ipv4" : "ipv6");

/** An address in canonical form: IPv4 for an IPv4-mapped IPv6 one, IPv6 in lower case, no brackets. */
function canonicalAddress(address: string): { address: string; family: 4 | 6 } | undefined {
  const bare = address.replace(/^\[|\]$/g, "").toLowerCase();
  const family = net.isIP(bare);
  if (family === 4) return { address: bare, family: 4 };
  if (family !== 6) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare)?.[1];
  if (mapped && net.isIPv4(mapped)) return { address: mapped, family: 4 };
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(bare);
  if (hex) {
    const high = Number.parseInt(hex[1] as string, 16);
    const low = Number.parseInt(hex[2] as string, 16);
    return { address: `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`, family: 4 };
  }
  return { address: bare, family: 6 };
}

interface Block {
  family: 4 | 6;
  network: string;
  prefix: number;
  list: BlockList;
}

function blockOf(cidr: string): Block {
  const slash = cidr.lastIndexOf("/");
  const network = cidr.slice(0, slash).replace(/^\[|\]$/g, "");
  const prefix = Number(cidr.slice(slash + 1));
  const family = net.isIP(network) as 4 | 6;
  const list = new BlockList();
  list.addSubnet(network, prefix, familyName(family));
  return { family, network, prefix, list };
}

const contains = (block: Block, address: string, family: 4 | 6) =>
  block.family === family && block.list.check(address, familyName(family));

/** The special-purpose blocks; the IPv4-mapped one is left out: such addresses are judged as the IPv4 ones they carry. */
const SPECIAL: Block[] = SPECIAL_PURPOSE_CIDRS.filter((c) => c !== "::ffff:0:0/96").map(blockOf);

/** Whether an address lies in the special-purpose space (loopback, private, link-local and the rest). */
export function isSpecialPurpose(address: string): boolean {
  const canonical = canonicalAddress(address);
  return canonical !== undefined && SPECIAL.some((b) => contains(b, canonical.address, canonical.family));
}

/** Whether `host` (lower case) is covered by the declared name `pattern`: equal, or `*.example.com` and a subdomain of it. */
export function hostMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith("*.")) return pattern === host;
  const suffix = pattern.slice(1);
  return host.length > suffix.length && host.endsWith(suffix);
}

const isLoopback = (address: string) => address === "::1" || address.startsWith("127.");
const isUnspecified = (address: string) => address === "0.0.0.0" || address === "::";

/** The egress policy of one project: see the comment at the top of this file. */
export class EgressPolicy {
  private readonly names: Array<{ host: string; ports: number[] }>;
  private readonly blocks: Array<Block & { ports: number[]; special: boolean }>;
  private readonly allowed: Destination[];
  private readonly denied: Destination[];

  constructor(
    options: EgressPolicyOptions,
    private readonly resolve: (host: string) => Promise<Array<{ address: string; family: number }>> = (host) =>
      lookup(host, { all: true, verbatim: true }),
  ) {
    this.names = options.entries.flatMap((e) => (e.host !== undefined ? [{ host: e.host, ports: e.ports }] : []));
    this.blocks = options.entries.flatMap((e) => {
      if (e.cidr === undefined) return [];
      const block = blockOf(e.cidr);
      // Inside a special-purpose block (as long or longer a prefix, its network inside): it names that space on purpose.
      const special = SPECIAL.some((s) => s.prefix <= block.prefix && contains(s, block.network, block.family));
      return [{ ...block, ports: e.ports, special }];
    });
    const normalize = (d: Destination) => ({ host: normalizeHost(d.host), port: d.port });
    this.allowed = (options.platformAllowed ?? []).map(normalize);
    this.denied = (options.platformDenied ?? []).map(normalize);
  }

  /** Where a connection to host:port goes, or why it is refused. */
  async decide(rawHost: string, port: number): Promise<EgressDecision> {
    const host = normalizeHost(rawHost);
    const shown = formatDestination(host, port);
    if (!validHost(host) || !Number.isInteger(port) || port < 1 || port > 65_535) {
      return { allowed: false, status: 400, reason: `${JSON.stringify(`${rawHost}:${port}`)} is not a host and port` };
    }
    const literal = canonicalAddress(host);
    const platform = this.allowed.some((d) => d.port === port && sameHost(d.host, host, literal?.address));
    const named = literal === undefined && this.names.some((n) => n.ports.includes(port) && hostMatches(n.host, host));
    // A name nobody declared is not even looked up (a lookup of it could carry data out).
    if (literal === undefined && !platform && !named) return this.refused(shown, 'it is not in "egress" of langgraph.json');
    let addresses: Array<{ address: string; family: 4 | 6 }>;
    if (literal) {
      addresses = [literal];
    } else {
      let found: Array<{ address: string; family: number }>;
      try {
        found = await withTimeout(this.resolve(host), LOOKUP_TIMEOUT_MS, `resolving ${host} took longer than 5 s`);
      } catch (err) {
        return {
          allowed: false,
          status: 502,
          reason: `${host} did not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        };
      }
      addresses = found.flatMap((a) => canonicalAddress(a.address) ?? []);
      if (addresses.length === 0) return { allowed: false, status: 502, reason: `${host} resolved to no address` };
    }
    let firstReason: string | undefined;
    for (const { address, family } of addresses) {
      const reason = this.refusal(host, address, family, port, { platform, named });
      if (reason === undefined) return { allowed: true, address, family };
      firstReason ??= reason;
    }
    return this.refused(shown, firstReason as string);
  }

  /** Why this address may not be connected to (undefined: it may). */
  private refusal(
    host: string,
    address: string,
    family: 4 | 6,
    port: number,
    asked: { platform: boolean; named: boolean },
  ): string | undefined {
    if (this.denied.some((d) => d.port === port && (sameHost(d.host, address, address) || isUnspecified(d.host)))) {
      return "it is one of the installation's own services, which graph code does not reach through the egress proxy";
    }
    if (asked.platform) return undefined;
    const blocks = this.blocks.filter((b) => b.ports.includes(port) && contains(b, address, family));
    const via = address === host ? "" : `${host} resolves to ${address}, `;
    if (isSpecialPurpose(address)) {
      if (blocks.some((b) => b.special)) return undefined;
      const written = family === 4 ? `${address}/32:${port}` : `[${address}]/128:${port}`;
      return `${via}an internal address (loopback, private or link-local), which only an entry naming its block opens (such as "${written}" in "egress" of langgraph.json)`;
    }
    if (asked.named || blocks.length > 0) return undefined;
    return via === "" ? 'it is not in "egress" of langgraph.json' : `${via}which is not in "egress" of langgraph.json`;
  }

  private refused(shown: string, reason: string): EgressDecision {
    return { allowed: false, status: 403, reason: `LangOpen's egress proxy refused ${shown}: ${reason}` };
  }
}

/** A host in lower case, without brackets or a final dot; an IPv4-mapped IPv6 address as its IPv4 one. */
function normalizeHost(host: string): string {
  const lower = host.trim().toLowerCase().replace(/\.$/, "");
  return canonicalAddress(lower)?.address ?? lower;
}

function validHost(host: string): boolean {
  if (net.isIP(host)) return true;
  return (
    host.length > 0 &&
    host.length <= 253 &&
    /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$/.test(host)
  );
}

/** Whether two hosts are the same (any loopback name or address for a loopback one). */
function sameHost(a: string, b: string, bAddress?: string): boolean {
  if (a === b) return true;
  const loop = (h: string, address?: string) => h === "localhost" || isLoopback(address ?? h);
  return loop(a) && loop(b, bAddress);
}

function formatDestination(host: string, port: number): string {
  return `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}

/** `host:port` of a CONNECT request (`[v6]:port` for IPv6), or undefined. */
export function parseAuthority(authority: string): Destination | undefined {
  const match = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(authority);
  if (!match) return undefined;
  return { host: (match[1] as string).replace(/^\[|\]$/g, ""), port: Number(match[2]) };
}

export interface EgressProxyOptions {
  /** The Unix socket to serve on (in the folder the sandbox shares). */
  socketPath: string;
  policy: EgressPolicy;
  logger?: Logger;
  /** Connections open through it at once (tunnels and forwarded requests); past it: 503. */
  maxConnections?: number;
  /** A connection through it that carries nothing either way for this long is closed. */
  idleTimeoutMs?: number;
  /** How long connecting to a destination may take. */
  connectTimeoutMs?: number;
}

export interface EgressProxy {
  /** Connections open through it now. */
  readonly open: number;
  close(): Promise<void>;
}

/** Headers that concern one hop only: never passed on. */
const HOP_BY_HOP = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);
/** How often a refused destination is logged at most (once per this many ms), and how many are remembered. */
const WARN_EVERY_MS = 60_000;
const WARNED_KEPT = 1_024;
/** When each refused destination was last logged: shared by the proxies of this process (one per runtime process). */
const warned = new Map<string, number>();

/**
 * Serves the egress proxy on a Unix socket: CONNECT to a destination the policy opens (200, then
 * the bytes both ways), or a request with an absolute URI (passed on, TLS included for https://).
 * Anything else is answered with its status and a sentence saying why (403: not declared), which
 * graph code gets as its error; each refused destination is logged once a minute at most (by
 * this process, whichever of its runtime processes asked).
 */
export async function startEgressProxy(options: EgressProxyOptions): Promise<EgressProxy> {
  const maxConnections = options.maxConnections ?? 128;
  const idleTimeoutMs = options.idleTimeoutMs ?? 5 * 60_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const log = options.logger?.child({ component: "egress" });
  const sockets = new Set<Duplex>();
  let open = 0;

  const refusedOnce = (destination: string, reason: string) => {
    const now = Date.now();
    if ((warned.get(destination) ?? 0) > now - WARN_EVERY_MS) return;
    if (warned.size >= WARNED_KEPT) warned.clear();
    warned.set(destination, now);
    log?.warn({ destination, reason }, "Refused a connection of graph code outside the project's egress");
  };
  /** A response written on the raw socket (after CONNECT, or where the HTTP response object is gone). */
  const answer = (socket: Duplex, status: number, text: string) => {
    const body = `${text}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ""}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };
  const track = (socket: Duplex) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };
  const decide = async (host: string, port: number): Promise<EgressDecision> => {
    const decision = await options.policy.decide(host, port);
    if (!decision.allowed && decision.status === 403) refusedOnce(formatDestination(host.toLowerCase(), port), decision.reason);
    return decision;
  };

  const server = http.createServer({ headersTimeout: 10_000, requestTimeout: 0, maxHeaderSize: 16 * 1024 });
  server.on("connection", track);
  server.on("clientError", (_err, socket) => socket.destroy());
  server.on("connect", (req: http.IncomingMessage, client: Duplex, head: Buffer) => {
    client.on("error", () => {});
    const target = parseAuthority(req.url ?? "");
    if (!target) return answer(client, 400, `CONNECT wants host:port, got ${JSON.stringify((req.url ?? "").slice(0, 100))}`);
    if (open >= maxConnections) {
      return answer(client, 503, `LangOpen's egress proxy has ${maxConnections} connections of this runtime open already`);
    }
    open++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      open--;
    };
    client.once("close", release);
    void decide(target.host, target.port).then((decision) => {
      if (!decision.allowed) return answer(client, decision.status, decision.reason);
      if (client.destroyed) return;
      const upstream = net.connect({ host: decision.address, port: target.port, family: decision.family });
      track(upstream);
      let connected = false;
      const where = formatDestination(target.host, target.port);
      upstream.setTimeout(connectTimeoutMs, () => {
        upstream.destroy();
        answer(client, 504, `connecting to ${where} took longer than ${connectTimeoutMs / 1000} s`);
      });
      upstream.once("error", (err: NodeJS.ErrnoException) => {
        if (!connected) answer(client, 502, `connecting to ${where} failed: ${err.code ?? err.message}`);
      });
      upstream.once("connect", () => {
        connected = true;
        upstream.setTimeout(0);
        upstream.setNoDelay(true);
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        if (head.length > 0) upstream.write(head);
        splice(client, upstream, idleTimeoutMs);
      });
      client.once("close", () => {
        if (!connected) upstream.destroy();
      });
    });
  });
  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    let url: URL | undefined;
    try {
      url = new URL(req.url ?? "");
    } catch {}
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
      res.writeHead(400, { "content-type": "text/plain; charset=utf-8", connection: "close" });
      res.end("LangOpen's egress proxy takes CONNECT host:port, or a request with an absolute http:// or https:// URI\n");
      return;
    }
    if (open >= maxConnections) {
      res.writeHead(503, { "content-type": "text/plain; charset=utf-8", connection: "close" });
      res.end(`LangOpen's egress proxy has ${maxConnections} connections of this runtime open already\n`);
      return;
    }
    open++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      open--;
    };
    res.once("close", release);
    const target = url;
    const port = Number(target.port || (target.protocol === "https:" ? 443 : 80));
    const host = target.hostname.replace(/^\[|\]$/g, "");
    void decide(host, port).then((decision) => {
      if (!decision.allowed) {
        res.writeHead(decision.status, { "content-type": "text/plain; charset=utf-8", connection: "close" });
        res.end(`${decision.reason}\n`);
        return;
      }
      const headers: http.OutgoingHttpHeaders = {};
      const listed = new Set(
        String(req.headers.connection ?? "")
          .split(",")
          .map((h) => h.trim().toLowerCase()),
      );
      for (const [name, value] of Object.entries(req.headers)) {
        if (!HOP_BY_HOP.has(name) && !listed.has(name) && value !== undefined) headers[name] = value;
      }
      const request = (target.protocol === "https:" ? https : http).request({
        protocol: target.protocol,
        hostname: host,
        port,
        method: req.method,
        path: `${target.pathname}${target.search}`,
        headers,
        agent: false,
        // The address the policy checked, not another lookup's.
        lookup: (_name, opts, cb) => {
          const all = (opts as { all?: boolean }).all;
          if (all) (cb as (err: null, addresses: Array<{ address: string; family: number }>) => void)(null, [decision]);
          else (cb as (err: null, address: string, family: number) => void)(null, decision.address, decision.family);
        },
      });
      request.once("socket", (socket) => {
        track(socket);
        socket.setTimeout(connectTimeoutMs);
        socket.once(target.protocol === "https:" ? "secureConnect" : "connect", () => socket.setTimeout(idleTimeoutMs));
      });
      request.once("timeout", () => request.destroy(new Error("the destination did not answer in time")));
      request.once("response", (upstream) => {
        const back: http.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(upstream.headers)) {
          if (!HOP_BY_HOP.has(name) && value !== undefined) back[name] = value;
        }
        res.writeHead(upstream.statusCode ?? 502, back);
        upstream.pipe(res);
      });
      request.once("error", (err: NodeJS.ErrnoException) => {
        if (!res.headersSent) {
          res.writeHead(502, { "content-type": "text/plain; charset=utf-8", connection: "close" });
          res.end(`${url?.origin} failed: ${err.code ?? err.message}\n`);
        } else {
          res.destroy();
        }
      });
      res.once("close", () => request.destroy());
      req.pipe(request);
    });
  });
  // A protocol upgrade (WebSocket) with an absolute URI: clients tunnel those with CONNECT.
  server.on("upgrade", (_req, socket: Duplex) => {
    socket.on("error", () => {});
    answer(socket, 501, "LangOpen's egress proxy upgrades no connection: tunnel it with CONNECT");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    get open() {
      return open;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/**
 * Bytes both ways between two sockets. An error on either destroys both; a side that closes
 * cleanly ends the other (what was written still goes out), which is destroyed 10 s later at the
 * latest; nothing either way for idleMs ends both.
 */
export function splice(a: Duplex, b: Duplex, idleMs?: number): void {
  const destroy = () => {
    a.destroy();
    b.destroy();
  };
  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    from.on("error", destroy);
    from.once("close", () => {
      if (to.destroyed) return;
      to.end();
      setTimeout(() => to.destroy(), 10_000).unref();
    });
    from.pipe(to);
  }
  if (idleMs !== undefined) {
    let last = Date.now();
    const touch = () => {
      last = Date.now();
    };
    a.on("data", touch);
    b.on("data", touch);
    const timer = setInterval(
      () => {
        if (Date.now() - last >= idleMs) destroy();
      },
      Math.min(idleMs, 30_000),
    );
    timer.unref();
    const stop = () => clearInterval(timer);
    a.once("close", stop);
    b.once("close", stop);
  }
}
