import http from "node:http";
import type { AddressInfo } from "node:net";
import { createRouterTransport } from "@connectrpc/connect";
import { createLogger } from "@langopen/common";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../app.js";
import { parseApiKeys, staticApiKeys } from "./api-keys.js";
import { createOidcVerifier } from "./oidc.js";

// The gateway's OIDC bearer tokens, against an issuer of our own making (discovery document and
// signing keys over HTTP, tokens signed with jose): what it accepts and what it refuses. The
// portal's sign-in against a real provider is tested in the browser (portal/e2e).

const logger = createLogger({ service: "oidc-test", level: "silent" });
let issuer: string;
let server: http.Server;
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
let signingKey: PrivateKey;
let otherKey: PrivateKey;
let jwk: JWK;

beforeAll(async () => {
  const pair = await generateKeyPair("RS256", { extractable: true });
  signingKey = pair.privateKey;
  otherKey = (await generateKeyPair("RS256")).privateKey;
  jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  server = http.createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    if (req.url === "/.well-known/openid-configuration") {
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    } else if (req.url === "/jwks") {
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.statusCode = 404;
      res.end("{}");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function token(
  claims: Record<string, unknown>,
  options: { key?: PrivateKey; expiresIn?: string; iss?: string; aud?: string } = {},
) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "RS256", kid: "k1" })
    .setIssuer(options.iss ?? issuer)
    .setAudience(options.aud ?? "portal")
    .setSubject("alice-sub")
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? "5m")
    .sign(options.key ?? signingKey);
}

describe("OIDC tokens", () => {
  it("accepts a token of the issuer for the client: its subject is the user, its claim the permissions", async () => {
    const verifier = createOidcVerifier({ issuer, clientId: "portal", permissionsClaim: "perms" });
    const user = await verifier.verify(await token({ name: "Alice", perms: ["threads:write", 7] }));
    expect(user?.identity).toBe("alice-sub");
    expect(user?.permissions).toEqual(["threads:write"]);
    expect(JSON.parse(new TextDecoder().decode(user?.userJson))).toMatchObject({ display_name: "Alice" });
  });

  it("refuses an expired token, another audience, another issuer, another key, and what is not a JWT", async () => {
    const verifier = createOidcVerifier({ issuer, clientId: "portal" });
    for (const [what, bad] of [
      ["expired", await token({}, { expiresIn: "-10m" })],
      ["audience", await token({}, { aud: "someone-else" })],
      ["issuer", await token({}, { iss: "http://127.0.0.1:1" })],
      ["key", await token({}, { key: otherKey })],
      ["garbage", "not.a.jwt"],
    ] as const) {
      expect(await verifier.verify(bad), what).toBeUndefined();
    }
  });

  it("answers an issuer that cannot be reached as an outage naming it", async () => {
    const verifier = createOidcVerifier({ issuer: "http://127.0.0.1:9", clientId: "portal" });
    await expect(verifier.verify("x.y.z")).rejects.toThrow(/OIDC issuer http:\/\/127\.0\.0\.1:9 did not answer/);
  });
});

describe("the gateway with OIDC and API keys", () => {
  const start = (oidcIssuer = issuer) =>
    buildApp({
      logger,
      transport: createRouterTransport((router) => router.service(ThreadService, { getThread: () => ({}) })),
      auth: {
        apiKeys: staticApiKeys(parseApiKeys("ops=sk-ops")),
        oidc: createOidcVerifier({ issuer: oidcIssuer, clientId: "portal" }),
      },
    });

  it("lets in a valid bearer token or a valid key, and refuses anything else with both challenges", async () => {
    const app = await start();
    try {
      const get = (headers: Record<string, string>) =>
        app.inject({ url: "/threads/0190b3c2-8c4f-7000-8000-0000000000f1", headers });
      expect((await get({ authorization: `Bearer ${await token({})}` })).statusCode).not.toBe(401);
      expect((await get({ "x-api-key": "sk-ops" })).statusCode).not.toBe(401);
      const refused = await get({ authorization: `Bearer ${await token({}, { aud: "other" })}` });
      expect(refused.statusCode).toBe(401);
      expect(refused.json().detail).toMatch(/API key \(x-api-key\) or an OIDC token/);
      expect(refused.headers["www-authenticate"]).toContain("Bearer");
      expect((await get({})).statusCode).toBe(401);
    } finally {
      await app.close();
    }
  });

  it("answers 503 naming the issuer when it is down, and still takes keys", async () => {
    const app = await start("http://127.0.0.1:9");
    try {
      const down = await app.inject({
        url: "/threads/0190b3c2-8c4f-7000-8000-0000000000f1",
        headers: { authorization: "Bearer a.b.c" },
      });
      expect(down.statusCode).toBe(503);
      expect(down.json().detail).toMatch(/OIDC issuer/);
      const keyed = await app.inject({
        url: "/threads/0190b3c2-8c4f-7000-8000-0000000000f1",
        headers: { "x-api-key": "sk-ops" },
      });
      expect(keyed.statusCode).not.toBe(401);
    } finally {
      await app.close();
    }
  });

  it("tells the portal where to sign in, and lets it reach the issuer", async () => {
    const app = await buildApp({
      logger,
      transport: createRouterTransport(() => {}),
      auth: { oidc: createOidcVerifier({ issuer, clientId: "portal" }) },
      portalDir: undefined,
    });
    try {
      const config = await app.inject({ url: "/portal/config.json" });
      expect(config.json()).toEqual({ mode: "deployment", oidc: { issuer, clientId: "portal" } });
    } finally {
      await app.close();
    }
  });
});
