import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { EgressEntry, Logger } from "@langopen/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EgressPolicy,
  type EgressProxy,
  hostMatches,
  isSpecialPurpose,
  parseAuthority,
  startEgressProxy,
} from "./egress-proxy.js";
import { type EgressRoute, openTunnel, routeEgress } from "./egress-route.js";

/**
 * The egress proxy a runtime in gVisor reaches the outside through, without gVisor: its policy
 * (what `egress` of langgraph.json opens), the proxy on its Unix socket (CONNECT and absolute
 * URIs, refusals that name the destination, its bounds), and the routing the runtime installs
 * before graph code loads (fetch, the http and https modules, HTTP_PROXY).
 */

const entries = (...texts: string[]): EgressEntry[] =>
  texts.map((text) => {
    const colon = text.lastIndexOf(":");
    const target = text.slice(0, colon);
    const ports = text
      .slice(colon + 1)
      .split(",")
      .map(Number);
    return target.includes("/") ? { cidr: target, ports } : { host: target, ports };
  });

/** A resolver answering from a table (no DNS in unit tests). */
const table =
  (answers: Record<string, string[]>) =>
  async (host: string): Promise<Array<{ address: string; family: number }>> => {
    const found = answers[host];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    return found.map((address) => ({ address, family: net.isIP(address) }));
  };

describe("the egress policy", () => {
  const resolve = table({
    "api.openai.com": ["104.18.7.192"],
    "eu.api.anthropic.com": ["160.79.104.10"],
    "anthropic.com": ["160.79.104.11"],
    "internal.example.com": ["10.1.2.3"],
    "mixed.example.com": ["10.1.2.4", "198.51.100.7"],
    localhost: ["127.0.0.1", "::1"],
  });
  const policy = new EgressPolicy(
    {
      entries: entries(
        "api.openai.com:443",
        "*.anthropic.com:443",
        "*.example.com:443",
        "203.0.113.0/24:443,8443",
        "127.0.0.1/32:8080",
        "0.0.0.0/0:9443",
        "localhost:7000",
      ),
      platformAllowed: [{ host: "127.0.0.1", port: 8123 }],
      platformDenied: [
        { host: "127.0.0.1", port: 5432 },
        { host: "0.0.0.0", port: 8125 },
      ],
    },
    resolve,
  );
  const verdict = async (host: string, port: number) => {
    const d = await policy.decide(host, port);
    return d.allowed ? `allowed ${d.address}` : `${d.status} ${d.reason}`;
  };

  it("opens a declared name on its declared ports, in any case and with a final dot", async () => {
    expect(await verdict("api.openai.com", 443)).toBe("allowed 104.18.7.192");
    expect(await verdict("API.OpenAI.com.", 443)).toBe("allowed 104.18.7.192");
    expect(await verdict("api.openai.com", 80)).toBe(
      `403 LangOpen's egress proxy refused api.openai.com:80: it is not in "egress" of langgraph.json`,
    );
    expect(await verdict("api.openai.com.evil.test", 443)).toMatch(/^403 .*not in "egress"/);
  });

  it("opens the subdomains of a wildcard, not the domain itself", async () => {
    expect(hostMatches("*.anthropic.com", "eu.api.anthropic.com")).toBe(true);
    expect(hostMatches("*.anthropic.com", "anthropic.com")).toBe(false);
    expect(hostMatches("*.anthropic.com", "evilanthropic.com")).toBe(false);
    expect(await verdict("eu.api.anthropic.com", 443)).toBe("allowed 160.79.104.10");
    expect(await verdict("anthropic.com", 443)).toMatch(/^403 .*anthropic\.com:443: it is not in "egress"/);
  });

  it("does not look up a name nobody declared", async () => {
    let looked = 0;
    const counting = new EgressPolicy({ entries: entries("203.0.113.0/24:443") }, async (host) => {
      looked++;
      return resolve(host);
    });
    expect((await counting.decide("data-to-smuggle.attacker.test", 443)).allowed).toBe(false);
    expect(looked).toBe(0);
  });

  it("opens an address of a declared block on its ports", async () => {
    expect(await verdict("203.0.113.9", 8443)).toBe("allowed 203.0.113.9");
    expect(await verdict("203.0.113.9", 22)).toMatch(/^403 .*203\.0\.113\.9:22: it is not in "egress"/);
    expect(await verdict("198.51.100.1", 443)).toMatch(/^403 /);
  });

  it("opens an internal address only through a block naming it, never through a name or a wide block", async () => {
    expect(await verdict("127.0.0.1", 8080)).toBe("allowed 127.0.0.1");
    expect(await verdict("::ffff:127.0.0.1", 8080)).toBe("allowed 127.0.0.1");
    expect(await verdict("[::ffff:7f00:1]", 8080)).toBe("allowed 127.0.0.1");
    // A declared name resolving to loopback, or inside a private range.
    expect(await verdict("localhost", 7000)).toMatch(
      /^403 .*localhost:7000: localhost resolves to 127\.0\.0\.1, an internal address .*"127\.0\.0\.1\/32:7000"/,
    );
    expect(await verdict("internal.example.com", 443)).toMatch(/^403 .*resolves to 10\.1\.2\.3, an internal address/);
    // The first address the rules allow is the one connected to.
    expect(await verdict("mixed.example.com", 443)).toBe("allowed 198.51.100.7");
    // 0.0.0.0/0 opens the public space, not the internal one.
    expect(await verdict("198.51.100.1", 9443)).toBe("allowed 198.51.100.1");
    expect(await verdict("127.0.0.1", 9443)).toMatch(/^403 .*an internal address/);
    expect(await verdict("169.254.169.254", 9443)).toMatch(/^403 .*an internal address/);
    expect(await verdict("10.0.0.1", 9443)).toMatch(/^403 .*an internal address/);
    expect(await verdict("[fd00::1]", 9443)).toMatch(/^403 .*\[fd00::1\]:9443: an internal address/);
    expect(isSpecialPurpose("::ffff:10.0.0.1")).toBe(true);
    expect(isSpecialPurpose("8.8.8.8")).toBe(false);
  });

  it("never opens the installation's own services, and always its gateway", async () => {
    const declared = new EgressPolicy(
      {
        entries: entries("127.0.0.0/8:5432,8125"),
        platformDenied: [
          { host: "127.0.0.1", port: 5432 },
          { host: "0.0.0.0", port: 8125 },
        ],
      },
      resolve,
    );
    expect((await declared.decide("127.0.0.1", 5432)).allowed).toBe(false);
    expect((await declared.decide("127.0.0.2", 5432)).allowed).toBe(false);
    expect((await declared.decide("127.0.0.1", 8125)).allowed).toBe(false);
    expect(JSON.stringify(await declared.decide("127.0.0.1", 5432))).toContain("the installation's own services");
    expect(await verdict("127.0.0.1", 8123)).toBe("allowed 127.0.0.1");
    expect(await verdict("localhost", 8123)).toBe("allowed 127.0.0.1");
  });

  it("refuses what is not a host and port", async () => {
    expect(await verdict("a b", 443)).toMatch(/^400 /);
    expect(await verdict("api.openai.com", 0)).toMatch(/^400 /);
    expect(await verdict("api.openai.com", 70_000)).toMatch(/^400 /);
    expect(parseAuthority("api.openai.com:443")).toEqual({ host: "api.openai.com", port: 443 });
    expect(parseAuthority("[2001:db8::1]:443")).toEqual({ host: "2001:db8::1", port: 443 });
    expect(parseAuthority("2001:db8::1:443")).toBeUndefined();
    expect(parseAuthority("api.openai.com")).toBeUndefined();
    expect(parseAuthority("api.openai.com:443/x")).toBeUndefined();
  });
});

/** A logger that keeps its warnings. */
function recordingLogger(): { logger: Logger; warnings: Array<Record<string, unknown>> } {
  const warnings: Array<Record<string, unknown>> = [];
  const logger = {
    child: () => logger,
    warn: (fields: Record<string, unknown>) => warnings.push(fields),
    info: () => {},
    error: () => {},
    debug: () => {},
  } as unknown as Logger;
  return { logger, warnings };
}

/** A loopback HTTP server answering `name: METHOD url`. */
async function target(name: string): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => res.end(`${name}: ${req.method} ${req.url}${body ? ` ${body}` : ""}`));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** A raw HTTP exchange on the proxy's socket: the whole answer as text. */
function raw(socketPath: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let answer = "";
    socket.on("data", (chunk) => {
      answer += chunk;
    });
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
    socket.write(request);
  });
}

describe("the egress proxy on its Unix socket", () => {
  let dir: string;
  let socketPath: string;
  let proxy: EgressProxy;
  let declared: Awaited<ReturnType<typeof target>>;
  let undeclared: Awaited<ReturnType<typeof target>>;
  const log = recordingLogger();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "langopen-egress-"));
    socketPath = path.join(dir, "egress.sock");
    declared = await target("declared");
    undeclared = await target("undeclared");
    proxy = await startEgressProxy({
      socketPath,
      policy: new EgressPolicy({ entries: entries(`127.0.0.1/32:${declared.port}`) }),
      logger: log.logger,
      maxConnections: 3,
      idleTimeoutMs: 1_000,
    });
  });

  afterAll(async () => {
    await proxy?.close();
    declared?.server.close();
    undeclared?.server.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("tunnels a CONNECT to a declared destination", async () => {
    const socket = await openTunnel(socketPath, "127.0.0.1", declared.port);
    const answer = await new Promise<string>((resolve) => {
      let text = "";
      socket.on("data", (chunk) => {
        text += chunk;
      });
      socket.on("end", () => resolve(text));
      socket.write("GET /through HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(answer).toContain("declared: GET /through");
  });

  it("refuses a CONNECT elsewhere with 403 naming the destination, and logs it once a minute", async () => {
    const refusal = `LangOpen's egress proxy refused 127.0.0.1:${undeclared.port}: an internal address`;
    const answer = await raw(socketPath, `CONNECT 127.0.0.1:${undeclared.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(answer).toContain(refusal);
    const err = await openTunnel(socketPath, "127.0.0.1", undeclared.port).catch((e: unknown) => e as Error);
    expect((err as Error).message).toContain(refusal);
    expect(log.warnings.filter((w) => w.destination === `127.0.0.1:${undeclared.port}`)).toHaveLength(1);
  });

  it("passes on a request with an absolute URI to a declared destination, and refuses one elsewhere", async () => {
    const ok = await raw(
      socketPath,
      `POST http://127.0.0.1:${declared.port}/absolute?q=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nProxy-Authorization: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody`,
    );
    expect(ok).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(ok).toContain("declared: POST /absolute?q=1 body");
    const refused = await raw(
      socketPath,
      `GET http://127.0.0.1:${undeclared.port}/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    );
    expect(refused).toMatch(/^HTTP\/1\.1 403 Forbidden/);
    expect(refused).toContain(`refused 127.0.0.1:${undeclared.port}`);
  });

  it("answers anything else with 400: a relative URI, a CONNECT without a port, an unknown scheme", async () => {
    expect(await raw(socketPath, "GET /relative HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw(socketPath, "CONNECT 127.0.0.1 HTTP/1.1\r\nHost: x\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw(socketPath, "GET ftp://127.0.0.1/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).toMatch(
      /^HTTP\/1\.1 400 /,
    );
  });

  it("holds at most maxConnections open at once (503 past them), and closes idle tunnels", async () => {
    const tunnels = await Promise.all([1, 2, 3].map(() => openTunnel(socketPath, "127.0.0.1", declared.port)));
    expect(proxy.open).toBe(3);
    const err = await openTunnel(socketPath, "127.0.0.1", declared.port).catch((e: unknown) => e as Error);
    expect((err as Error).message).toContain("has 3 connections of this runtime open already");
    // Nothing either way for idleTimeoutMs (1 s here): closed.
    await Promise.all(tunnels.map((t) => new Promise((resolve) => t.once("close", resolve))));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(proxy.open).toBe(0);
  });
});

describe("the runtime's routes out, through the egress proxy", () => {
  let dir: string;
  let proxy: EgressProxy;
  let route: EgressRoute;
  let declared: Awaited<ReturnType<typeof target>>;
  let undeclared: Awaited<ReturnType<typeof target>>;
  let tlsServer: https.Server | undefined;
  let tlsPort = 0;
  let ca = "";

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "langopen-egress-route-"));
    declared = await target("declared");
    undeclared = await target("undeclared");
    // A TLS destination with a certificate of its own, when openssl is there to make one.
    const made = spawnSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        path.join(dir, "key.pem"),
        "-out",
        path.join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    if (made.status === 0) {
      ca = await readFile(path.join(dir, "cert.pem"), "utf8");
      tlsServer = https.createServer({ key: await readFile(path.join(dir, "key.pem")), cert: ca }, (req, res) =>
        res.end(`tls: ${req.url}`),
      );
      await new Promise<void>((resolve) => tlsServer?.listen(0, "127.0.0.1", () => resolve()));
      tlsPort = (tlsServer.address() as net.AddressInfo).port;
    }
    const socketPath = path.join(dir, "egress.sock");
    proxy = await startEgressProxy({
      socketPath,
      policy: new EgressPolicy({
        entries: entries(`127.0.0.1/32:${declared.port}${tlsPort ? `,${tlsPort}` : ""}`),
      }),
    });
    route = await routeEgress(socketPath);
  });

  afterAll(async () => {
    await route?.close();
    await proxy?.close();
    declared?.server.close();
    undeclared?.server.close();
    tlsServer?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("sends fetch through the proxy: a declared destination answers, another fails with the proxy's sentence", async () => {
    const res = await fetch(`http://127.0.0.1:${declared.port}/fetched`);
    expect(await res.text()).toBe("declared: GET /fetched");
    const err = (await fetch(`http://127.0.0.1:${undeclared.port}/`).catch((e: unknown) => e)) as Error & { cause?: Error };
    expect(err.message).toBe("fetch failed");
    expect(err.cause?.message).toContain(`LangOpen's egress proxy refused 127.0.0.1:${undeclared.port}`);
  });

  it("sends the http module's default agent (and agent: false) through the proxy", async () => {
    const get = (port: number, agent?: false) =>
      new Promise<string>((resolve, reject) => {
        http
          .get({ host: "127.0.0.1", port, path: "/module", agent }, (res) => {
            let text = "";
            res.on("data", (chunk) => {
              text += chunk;
            });
            res.on("end", () => resolve(text));
          })
          .on("error", reject);
      });
    expect(await get(declared.port)).toBe("declared: GET /module");
    expect(await get(declared.port, false)).toBe("declared: GET /module");
    await expect(get(undeclared.port)).rejects.toThrow(`refused 127.0.0.1:${undeclared.port}`);
  });

  it("sends https through a tunnel, TLS inside it and the certificate checked", async ({ skip }) => {
    if (!tlsServer) skip();
    const get = (options: https.RequestOptions) =>
      new Promise<string>((resolve, reject) => {
        https
          .get({ host: "127.0.0.1", port: tlsPort, path: "/secure", ...options }, (res) => {
            let text = "";
            res.on("data", (chunk) => {
              text += chunk;
            });
            res.on("end", () => resolve(text));
          })
          .on("error", reject);
      });
    expect(await get({ ca })).toBe("tls: /secure");
    await expect(get({})).rejects.toThrow(/self-signed certificate/);
  });

  it("names the proxy in HTTP_PROXY and HTTPS_PROXY, for clients that read them", async () => {
    expect(process.env.HTTP_PROXY).toBe(`http://127.0.0.1:${route.envProxyPort}`);
    expect(process.env.HTTPS_PROXY).toBe(process.env.HTTP_PROXY);
    // A client that proxies by absolute URI, as some do for http://.
    const text = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port: route.envProxyPort, path: `http://127.0.0.1:${declared.port}/env` }, (res) => {
          let body = "";
          res.on("data", (chunk) => {
            body += chunk;
          });
          res.on("end", () => resolve(body));
        })
        .on("error", reject);
    });
    expect(text).toBe("declared: GET /env");
  });
});
