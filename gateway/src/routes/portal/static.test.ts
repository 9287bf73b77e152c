import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createRouterTransport } from "@connectrpc/connect";
import { createLogger } from "@langopen/common";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../app.js";
import { parseApiKeys, staticApiKeys } from "../../auth/api-keys.js";

const logger = createLogger({ service: "portal-static-test", level: "silent" });
let dir: string;
let app: FastifyInstance;

beforeAll(async () => {
  // A built app as vite leaves it: the page, and content-named assets.
  dir = mkdtempSync(path.join(tmpdir(), "portal-"));
  mkdirSync(path.join(dir, "assets"));
  writeFileSync(path.join(dir, "index.html"), '<!doctype html><script type="module" src="/portal/assets/app-1a2b.js"></script>');
  writeFileSync(path.join(dir, "assets", "app-1a2b.js"), "console.log('portal')");
  // With API keys: the app's files are open (they hold no data), its RPCs are not.
  app = await buildApp({
    logger,
    transport: createRouterTransport(() => {}),
    auth: { apiKeys: staticApiKeys(parseApiKeys("alice=sk-alice")) },
    portalDir: dir,
  });
});
afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the portal's files", () => {
  it("serves the page at /portal/ with a strict content security policy, no-cache, and no credentials", async () => {
    for (const url of ["/portal/", "/portal"]) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers["content-type"]).toMatch(/^text\/html/);
      expect(res.headers["content-security-policy"]).toContain("default-src 'self'");
      expect(res.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
      expect(res.headers["content-security-policy"]).not.toContain("unsafe-inline");
      expect(res.headers["cache-control"]).toBe("no-cache");
      expect(res.body).toContain("/portal/assets/app-1a2b.js");
    }
  });

  it("answers the page for any view's URL, so that shared and reloaded links open the view", async () => {
    const res = await app.inject({ url: "/portal/threads/0190b3c2-8c4f-7000-8000-0000000000f1?tab=history" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain("<!doctype html>");
    expect(res.headers["content-security-policy"]).toContain("script-src 'self'");
  });

  it("serves content-named assets as immutable, and a missing asset as 404 rather than the page", async () => {
    const asset = await app.inject({ url: "/portal/assets/app-1a2b.js" });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers["content-type"]).toMatch(/javascript/);
    expect(asset.headers["cache-control"]).toContain("immutable");
    expect((await app.inject({ url: "/portal/assets/gone-0000.js" })).statusCode).toBe(404);
  });

  it("serves what a rebuild adds without a restart", async () => {
    writeFileSync(path.join(dir, "assets", "app-3c4d.js"), "console.log('rebuilt')");
    const res = await app.inject({ url: "/portal/assets/app-3c4d.js" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain("rebuilt");
  });

  it("tells the app it serves one deployment's agents", async () => {
    const res = await app.inject({ url: "/portal/config.json" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ mode: "deployment" });
  });

  it("does not serve files outside its folder", async () => {
    for (const url of ["/portal/../package.json", "/portal/%2e%2e/%2e%2e/etc/passwd", "/portal/assets/..%2f..%2findex.html"]) {
      const res = await app.inject({ url });
      expect(res.body, url).not.toMatch(/"name"|root:/);
    }
  });

  it("asks for credentials on its RPCs, in Connect's error shape", async () => {
    const res = await app.inject({
      method: "POST",
      url: "/portal/rpc/langopen.data.v1.ThreadService/SearchThreads",
      headers: { "content-type": "application/json" },
      payload: "{}",
    });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ code: "unauthenticated", message: "Missing or invalid API key" });
  });
});

describe("without a built portal", () => {
  it("says how to build it", async () => {
    const bare = await buildApp({ logger, transport: createRouterTransport(() => {}) });
    try {
      const res = await bare.inject({ url: "/portal/" });
      expect(res.statusCode).toBe(404);
      expect(res.json().detail).toMatch(/npm run build/);
    } finally {
      await bare.close();
    }
  });
});
