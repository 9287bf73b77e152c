import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { rm, writeFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { MAX_TARBALL_BYTES } from "@langopen/builder";
import { createLogger } from "@langopen/common";
import { Role } from "@langopen/gen/langopen/control/v1/api_key_pb";
import { ApiKeyService } from "@langopen/gen/langopen/control/v1/api_key_service_pb";
import { AuditService } from "@langopen/gen/langopen/control/v1/audit_service_pb";
import { DeploymentService } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { createTestDatabase, makeTempDir, type TestDatabase } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { type OidcProvider, startOidcProvider } from "../../../portal/e2e/oidc.js";
import { type Platform, startPlatform } from "./compose.js";

/*
 * Operators signing in with an OpenID Connect provider: a real one (oidc-provider on loopback)
 * issues JWT access tokens for the platform's audience with the role claim, and the platform
 * (its portal's port, as the portal calls it, and its RPC port) lets them in by that role, audits
 * them by their subject, and refuses every other token with the reason.
 */

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const ADMIN_KEY = `admin-${randomBytes(24).toString("hex")}`;
const AUDIENCE = "https://platform.example.test";
const logger = createLogger({ service: "test", level: "silent" });

let idp: OidcProvider;
let platform: Platform;
let database: TestDatabase;
let platformDir: string;
let portalDir: string;

beforeAll(async () => {
  idp = await startOidcProvider({
    serviceClients: {
      "ops-admin": { langopen_role: "admin", name: "Ada Admin", email: "ada@example.test" },
      "ops-viewer": { langopen_role: "Viewer" },
      "ops-no-role": { name: "Nobody" },
      "ops-root": { langopen_role: "root" },
    },
  });
  database = await createTestDatabase(inject("databaseUrl"));
  platformDir = path.join(ROOT, "node_modules/.cache/langopen-test", `platform-oidc-${randomBytes(4).toString("hex")}`);
  // A stand-in for the built app: its page carries the portal's headers.
  portalDir = await makeTempDir("portal");
  await writeFile(path.join(portalDir, "index.html"), "<!doctype html><title>LangOpen</title>");
  platform = await startPlatform(
    {
      host: "127.0.0.1",
      port: 0,
      dataDir: platformDir,
      databaseUrl: database.url,
      adminKey: ADMIN_KEY,
      buildTimeoutSeconds: 60,
      buildConcurrency: 1,
      defaultSandbox: "NODE",
      drainMs: 1_000,
      keyCacheSeconds: 1,
      portal: { port: 0, dir: portalDir },
      oidc: { issuer: idp.issuer, clientId: idp.clientId, audience: AUDIENCE, roleClaim: "langopen_role" },
    },
    logger,
  );
}, 120_000);

afterAll(async () => {
  await platform?.stop();
  await idp?.close();
  await database?.drop();
  if (platformDir) await rm(platformDir, { recursive: true, force: true });
  if (portalDir) await rm(portalDir, { recursive: true, force: true });
}, 60_000);

/** The platform's services as the portal calls them (Connect over HTTP/1.1), with a bearer token or an API key. */
function portalClients(credential: string) {
  const transport: Transport = createConnectTransport({
    baseUrl: new URL("rpc", platform.portalUrl).toString(),
    httpVersion: "1.1",
    useBinaryFormat: true,
    interceptors: [
      (next) => (req) => {
        req.header.set("authorization", `Bearer ${credential}`);
        return next(req);
      },
    ],
  });
  return {
    deployments: createClient(DeploymentService, transport),
    keys: createClient(ApiKeyService, transport),
    audit: createClient(AuditService, transport),
  };
}

/** What a call was refused with. */
async function refusal(call: Promise<unknown>): Promise<{ code: Code; message: string }> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) throw new Error("The call was not refused");
  return { code: err.code, message: err.rawMessage };
}

describe("OIDC sign-in to the platform", () => {
  // First: before any token was checked, the platform has not read the issuer's keys yet.
  it("answers Unavailable naming the issuer while it does not answer, and lets the token in once it does", async () => {
    const token = await idp.accessToken("ops-admin", AUDIENCE);
    await idp.suspend();
    try {
      const refused = await refusal(portalClients(token).deployments.listDeployments({}));
      expect(refused.code).toBe(Code.Unavailable);
      expect(refused.message).toContain(`The OIDC issuer ${idp.issuer} did not answer`);
    } finally {
      await idp.resume();
    }
    expect((await portalClients(token).deployments.listDeployments({})).deployments).toEqual([]);
  });

  it("lets an admin's token list deployments and create a key, audited with its subject, name and e-mail", async () => {
    const admin = portalClients(await idp.accessToken("ops-admin", AUDIENCE));
    expect((await admin.deployments.listDeployments({})).deployments).toEqual([]);
    const created = await admin.keys.createApiKey({ name: "made-by-ada", role: Role.VIEWER });
    expect(created.apiKey?.createdBy).toBe("ops-admin");

    const { events } = await admin.audit.listAuditEvents({ action: "api_key.create", actor: "ops-admin" });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: "ops-admin",
      actorName: "Ada Admin <ada@example.test>",
      target: created.apiKey?.keyId,
      allowed: true,
      sourceAddress: "127.0.0.1",
    });

    // The key it made is an API key like any other, beside the tokens.
    const viaKey = portalClients(created.key);
    expect((await viaKey.deployments.listDeployments({})).deployments).toEqual([]);
  });

  it("lets a viewer's token read but not create keys (PermissionDenied, audited)", async () => {
    const viewer = portalClients(await idp.accessToken("ops-viewer", AUDIENCE));
    expect((await viewer.deployments.listDeployments({})).deployments).toEqual([]);
    expect(await refusal(viewer.keys.createApiKey({ name: "nope", role: Role.VIEWER }))).toEqual({
      code: Code.PermissionDenied,
      message: 'The user "ops-viewer" (viewer) may not do api_key.create',
    });
    const { events } = await portalClients(ADMIN_KEY).audit.listAuditEvents({ actor: "ops-viewer" });
    expect(events[0]).toMatchObject({ action: "api_key.create", actorName: "ops-viewer", allowed: false });
  });

  it("refuses a token for another audience, an expired one and a tampered one (Unauthenticated, saying why)", async () => {
    const other = await idp.accessToken("ops-admin", "https://elsewhere.example.test");
    expect(await refusal(portalClients(other).deployments.listDeployments({}))).toEqual({
      code: Code.Unauthenticated,
      message: `The OIDC token was refused: it is not meant for this server (its audience is not ${AUDIENCE})`,
    });

    // Issued an hour ago by the provider (its clock set back while it answers): expired 50 minutes ago.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() - 3_600_000 });
    let expired: string;
    try {
      expired = await idp.accessToken("ops-admin", AUDIENCE);
    } finally {
      vi.useRealTimers();
    }
    expect(await refusal(portalClients(expired).deployments.listDeployments({}))).toEqual({
      code: Code.Unauthenticated,
      message: "The OIDC token was refused: it has expired",
    });

    // A viewer's token whose claims were edited to say admin: its signature no longer verifies.
    const [header, payload, signature] = (await idp.accessToken("ops-viewer", AUDIENCE)).split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, langopen_role: "admin" })).toString("base64url");
    expect(await refusal(portalClients(`${header}.${forged}.${signature}`).keys.listApiKeys({}))).toEqual({
      code: Code.Unauthenticated,
      message: "The OIDC token was refused: its signature does not verify",
    });
  });

  it("refuses a valid token without a platform role (PermissionDenied naming the claim)", async () => {
    const noRole = await idp.accessToken("ops-no-role", AUDIENCE);
    expect(await refusal(portalClients(noRole).deployments.listDeployments({}))).toEqual({
      code: Code.PermissionDenied,
      message:
        'The OIDC token of Nobody has no platform role: its claim "langopen_role" is missing (it must be viewer, developer or admin)',
    });
    const root = await idp.accessToken("ops-root", AUDIENCE);
    expect(await refusal(portalClients(root).deployments.listDeployments({}))).toEqual({
      code: Code.PermissionDenied,
      message: 'The OIDC token of ops-root has no platform role: its claim "langopen_role" must be viewer, developer or admin',
    });
  });

  it("takes tokens on the RPC port too, and keys that are not JWTs go on being API keys", async () => {
    const withBearer = (credential: string) =>
      createClient(
        DeploymentService,
        createGrpcTransport({
          baseUrl: platform.url,
          interceptors: [
            (next) => (req) => {
              req.header.set("authorization", `Bearer ${credential}`);
              return next(req);
            },
          ],
        }),
      );
    const token = await idp.accessToken("ops-admin", AUDIENCE);
    expect((await withBearer(token).listDeployments({})).deployments).toEqual([]);
    expect((await withBearer(ADMIN_KEY).listDeployments({})).deployments).toEqual([]);
    expect(await refusal(withBearer("lok_not-a-key").listDeployments({}))).toEqual({
      code: Code.Unauthenticated,
      message: "The API key is not valid (unknown or revoked)",
    });
  });

  it("offers the provider in the portal's config.json and lets the page reach it (CSP connect-src)", async () => {
    const config = await fetch(new URL("config.json", platform.portalUrl));
    expect(await config.json()).toEqual({ mode: "platform", oidc: { issuer: idp.issuer, clientId: idp.clientId } });
    const page = await fetch(platform.portalUrl as string);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain(`connect-src 'self' ${idp.issuer};`);
  });

  it("takes an upload through the portal's port as large as the RPC port takes (the tarball's limit is the service's)", async () => {
    const admin = portalClients(ADMIN_KEY);
    const tooLarge = new Uint8Array(MAX_TARBALL_BYTES + 1);
    // Past the portal's old 1 MiB bound: the call reaches the service, which refuses by its own limit.
    expect(
      await refusal(
        admin.deployments.createDeployment({
          name: "too-large",
          source: { kind: { case: "tarball", value: {} } },
          tarball: tooLarge,
        }),
      ),
    ).toEqual({ code: Code.InvalidArgument, message: `the tarball is larger than ${MAX_TARBALL_BYTES} bytes` });
  });
});

/**
 * A call to the portal's port written by hand: its headers and the first `sent` bytes of a body of
 * `length` bytes, the rest never sent. Resolves with the answer's status line and headers once they
 * arrive, which for a call that waits on its body is never: resolves undefined after `waitMs`.
 */
async function partialCall(
  headers: Record<string, string>,
  length: number | "chunked",
  sent: number,
  waitMs = 2_000,
): Promise<{ socket: Socket; answer?: { status: number; head: string; body: string } }> {
  const url = new URL("rpc/langopen.control.v1.DeploymentService/CreateDeployment", platform.portalUrl);
  const socket = connect(Number(url.port), url.hostname);
  await once(socket, "connect");
  const lines = [
    `POST ${url.pathname} HTTP/1.1`,
    `host: ${url.host}`,
    "content-type: application/proto",
    length === "chunked" ? "transfer-encoding: chunked" : `content-length: ${length}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  if (length === "chunked") socket.write(`${sent.toString(16)}\r\n`);
  socket.write(Buffer.alloc(sent));
  if (length === "chunked") socket.write("\r\n");
  let received = "";
  socket.setEncoding("latin1");
  socket.on("data", (chunk: string) => {
    received += chunk;
  });
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline && !received.includes("\r\n\r\n")) await new Promise((r) => setTimeout(r, 20));
  if (!received.includes("\r\n\r\n")) return { socket };
  // The head has come: give the (small) body a moment.
  await new Promise((r) => setTimeout(r, 100));
  const [head = "", body = ""] = received.split("\r\n\r\n", 2);
  return { socket, answer: { status: Number(head.split(" ")[1]), head: head.toLowerCase(), body } };
}

describe("the portal's port knows the caller before it reads a body", () => {
  const MiB = 1024 * 1024;

  it("refuses a 60 MiB upload without a key, or with an unknown one, when only its headers have come", async () => {
    const credentials: Record<string, string>[] = [{}, { "x-api-key": "lok_not-a-key" }, { authorization: "Bearer not-a-key" }];
    for (const headers of credentials) {
      const { socket, answer } = await partialCall(headers, 60 * MiB, 1024);
      socket.destroy();
      expect(answer?.status, JSON.stringify(headers)).toBe(401);
      expect(answer?.head).toContain("connection: close");
      expect(JSON.parse(answer?.body ?? "{}").code).toBe("unauthenticated");
    }
    // The service's own answer (ADMIN_KEY lists): nothing was created by the refused calls.
    expect((await portalClients(ADMIN_KEY).deployments.listDeployments({})).deployments.map((d) => d.name)).not.toContain(
      "too-large",
    );
  });

  it("reads at most four large uploads at once: a fifth gets ResourceExhausted with Retry-After until one ends", async () => {
    const reading = [];
    for (let i = 0; i < 4; i++) {
      const call = await partialCall({ "x-api-key": ADMIN_KEY }, 2 * MiB, 64 * 1024, 300);
      // Known caller, body still coming: the port waits for it.
      expect(call.answer).toBeUndefined();
      reading.push(call.socket);
    }
    const fifth = await partialCall({ "x-api-key": ADMIN_KEY }, 2 * MiB, 64 * 1024);
    fifth.socket.destroy();
    expect(fifth.answer?.status).toBe(429);
    expect(fifth.answer?.head).toContain("retry-after: 5");
    expect(JSON.parse(fifth.answer?.body ?? "{}").code).toBe("resource_exhausted");
    // A body of unstated length may be as large: it counts as an upload too.
    const chunked = await partialCall({ "x-api-key": ADMIN_KEY }, "chunked", 64 * 1024);
    chunked.socket.destroy();
    expect(chunked.answer?.status).toBe(429);
    // A small call is not an upload: it is answered meanwhile.
    expect((await portalClients(ADMIN_KEY).deployments.listDeployments({})).deployments).toBeDefined();
    // One upload gone (its client went away): another is read.
    reading.shift()?.destroy();
    await vi.waitFor(
      async () => {
        const next = await partialCall({ "x-api-key": ADMIN_KEY }, 2 * MiB, 64 * 1024, 300);
        next.socket.destroy();
        expect(next.answer).toBeUndefined();
      },
      { timeout: 10_000, interval: 200 },
    );
    for (const socket of reading) socket.destroy();
  });
});
