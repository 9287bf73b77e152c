import http from "node:http";
import type { AddressInfo } from "node:net";
import { createRouterTransport } from "@connectrpc/connect";
import { createLogger, type LanggraphCorsConfig } from "@langopen/common";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { buildApp, EXPOSED_HEADERS } from "../app.js";
import { DEFAULT_CORS_METHODS, exposedHeadersOf, originPolicy } from "./cors.js";

describe("the origin policy", () => {
  it("allows only loopback pages when nothing is configured", () => {
    const allowed = originPolicy(undefined);
    for (const origin of [
      "http://localhost",
      "http://localhost:3000",
      "https://localhost:8443",
      "http://127.0.0.1:5173",
      "https://127.0.0.1",
      "http://[::1]:8123",
      "https://[::1]",
    ]) {
      expect(allowed(origin), origin).toBe(true);
    }
    for (const origin of [
      "https://evil.example",
      "http://localhost.evil.example",
      "http://127.0.0.1.nip.io",
      "http://localhost:3000.evil.example",
      "null",
      "file://",
      "ftp://localhost",
      "http://[::1].evil.example",
    ]) {
      expect(allowed(origin), origin).toBe(false);
    }
  });

  it("allows exactly the configured origins, or any with *", () => {
    const allowed = originPolicy({ allow_origins: ["https://app.example.com", "http://localhost:3000/"] });
    expect(allowed("https://app.example.com")).toBe(true);
    expect(allowed("HTTPS://APP.EXAMPLE.COM")).toBe(true);
    expect(allowed("http://localhost:3000")).toBe(true);
    expect(allowed("https://app.example.com:444")).toBe(false);
    expect(allowed("http://localhost:3001")).toBe(false);
    expect(originPolicy({ allow_origins: [] })("http://localhost:3000")).toBe(false);
    expect(originPolicy({ allow_origins: ["*"] })("https://anything.example")).toBe(true);
  });

  it("lets the regex win over the list, matching whole origins only", () => {
    const allowed = originPolicy({
      allow_origins: ["https://listed.example"],
      allow_origin_regex: "https://[a-z]+\\.example\\.com",
    });
    expect(allowed("https://app.example.com")).toBe(true);
    expect(allowed("https://listed.example")).toBe(false);
    expect(allowed("https://app.example.com.evil.example")).toBe(false);
    expect(allowed("xhttps://app.example.com")).toBe(false);
  });

  it("refuses a configuration it cannot apply, naming the key", () => {
    expect(() => originPolicy({ allow_origin_regex: "(" })).toThrow(/http\.cors\.allow_origin_regex/);
    expect(() => originPolicy({ allow_origins: "https://a.example" as unknown as string[] })).toThrow(
      /http\.cors\.allow_origins/,
    );
  });

  it("exposes the configured headers, then ours that they do not name", () => {
    expect(exposedHeadersOf({ expose_headers: ["X-Custom", "content-location"] }, EXPOSED_HEADERS)).toEqual([
      "X-Custom",
      "content-location",
      "X-Pagination-Total",
      "X-Pagination-Next",
      "Location",
      "X-Request-Id",
    ]);
    expect(exposedHeadersOf(undefined, EXPOSED_HEADERS)).toEqual(EXPOSED_HEADERS);
  });
});

const logger = createLogger({ service: "cors-test", level: "silent" });
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** The gateway on a loopback port; only routes that call nothing (/ok, unknown paths) are used here. */
async function serve(cors?: LanggraphCorsConfig, allowedHosts?: string[]): Promise<string> {
  app = await buildApp({ logger, transport: createRouterTransport(() => {}), http: cors ? { cors } : {}, allowedHosts });
  await app.listen({ host: "127.0.0.1", port: 0 });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

const preflight = (url: string, origin: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: "OPTIONS", headers: { origin, "access-control-request-method": "DELETE", ...headers } });

describe("CORS over HTTP", () => {
  it("answers a loopback page's preflight with every method and the headers it asks for", async () => {
    const base = await serve();
    const res = await preflight(`${base}/threads/x`, "http://localhost:3000", {
      "access-control-request-headers": "content-type,x-api-key",
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
    expect(res.headers.get("access-control-allow-methods")).toBe(DEFAULT_CORS_METHODS.join(", "));
    expect(res.headers.get("access-control-allow-headers")).toBe("content-type,x-api-key");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    expect(res.headers.get("vary")).toContain("Origin");
  });

  it("refuses another page, preflight or not, with 403 and no CORS headers", async () => {
    const base = await serve();
    for (const res of [
      await preflight(`${base}/ok`, "https://evil.example"),
      await fetch(`${base}/ok`, { headers: { origin: "https://evil.example" } }),
      await fetch(`${base}/nowhere`, { method: "POST", headers: { origin: "null" } }),
    ]) {
      expect(res.status).toBe(403);
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
      expect(await res.json()).toEqual({
        detail: expect.stringMatching(/^Origin (https:\/\/evil\.example|null) is not allowed$/),
      });
    }
  });

  it("leaves requests without Origin alone, and answers a bare OPTIONS as a method the path lacks", async () => {
    const base = await serve();
    const ok = await fetch(`${base}/ok`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBeNull();
    const bare = await fetch(`${base}/ok`, { method: "OPTIONS" });
    expect(bare.status).toBe(405);
    expect(await bare.json()).toEqual({ detail: "Method Not Allowed" });
  });

  it("applies a configured cors section: its origins only, its methods, headers, credentials, max age and exposed headers", async () => {
    const base = await serve({
      allow_origins: ["https://app.example.com"],
      allow_methods: ["GET", "POST"],
      allow_headers: ["content-type", "authorization"],
      allow_credentials: true,
      expose_headers: ["X-Custom"],
      max_age: 600,
    });
    const res = await preflight(`${base}/ok`, "https://app.example.com");
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(res.headers.get("access-control-allow-methods")).toBe("GET, POST");
    expect(res.headers.get("access-control-allow-headers")).toBe("content-type, authorization");
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    expect(res.headers.get("access-control-max-age")).toBe("600");
    const get = await fetch(`${base}/ok`, { headers: { origin: "https://app.example.com" } });
    expect(get.headers.get("access-control-expose-headers")).toBe(`X-Custom, ${EXPOSED_HEADERS.join(", ")}`);
    // Loopback pages are no longer let in once origins are configured.
    expect((await preflight(`${base}/ok`, "http://localhost:3000")).status).toBe(403);
    expect((await fetch(`${base}/ok`, { headers: { origin: "https://other.example.com" } })).status).toBe(403);
  });

  it("lets a page served under the request's own allowed host in (same-origin), unless the Host check is off", async () => {
    const base = await serve(undefined, ["agents.example.com"]);
    const port = new URL(base).port;
    const sameOrigin = await rawGet(base, { host: `agents.example.com:${port}`, origin: `https://agents.example.com:${port}` });
    expect(sameOrigin.status).toBe(200);
    const otherPage = await rawGet(base, { host: `agents.example.com:${port}`, origin: "https://evil.example" });
    expect(otherPage.status).toBe(403);
    await app?.close();

    const open = await serve(undefined, ["*"]);
    const openPort = new URL(open).port;
    const rebound = await rawGet(open, { host: `evil.example:${openPort}`, origin: `http://evil.example:${openPort}` });
    expect(rebound.status).toBe(403);
  });
});

/** GET /ok with headers fetch may not set (Host). */
async function rawGet(base: string, headers: Record<string, string>): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/ok`, { headers, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on("error", reject);
    req.end();
  });
}
