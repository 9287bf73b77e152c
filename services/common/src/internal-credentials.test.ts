import { createHmac } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import http2 from "node:http2";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createContextValues } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ServerReflection, ServerReflectionRequestSchema } from "@langopen/gen/grpc/reflection/v1/reflection_pb";
import { Health, HealthCheckResponse_ServingStatus } from "@langopen/gen/health/v1/health_pb";
import { CheckpointService } from "@langopen/gen/langopen/data/v1/checkpoint_service_pb";
import { unendedCall } from "@langopen/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  callerRoleKey,
  type InternalRole,
  loadOrCreateInternalSecret,
  methodName,
  type RpcAuth,
  resolveInternalSecret,
  runtimeCallerTokenOf,
  runtimeCredentialsOf,
  runtimeTokenOf,
  signStateWriteGrant,
  tokenSha256,
  verifyStateWriteGrant,
} from "./internal-credentials.js";
import { createLogger } from "./logger.js";
import { createRpcTransport } from "./rpc-client.js";
import { callerRole, type RpcServer, startRpcServer } from "./rpc-server.js";

const logger = createLogger({ service: "test", level: "silent" });
const SECRET = "a".repeat(16) + "b".repeat(16) + "c".repeat(32);
const RUNTIME_TOKEN = runtimeTokenOf(SECRET);
const PROTO_ROOT = fileURLToPath(new URL("../../../proto", import.meta.url));

/** A server holding the digests only: the secret is `internal`, the runtime's token may call GetCheckpoint alone. */
const AUTH: RpcAuth = {
  accepted: [
    { sha256: tokenSha256(SECRET), role: "internal" },
    { sha256: tokenSha256(RUNTIME_TOKEN), role: "runtime" },
  ],
  permissions: { runtime: new Set([methodName(CheckpointService.method.getCheckpoint)]) },
};

let server: RpcServer;
/** The role each handler saw, in call order. */
const seen: Array<InternalRole | undefined> = [];

beforeAll(async () => {
  server = await startRpcServer({
    host: "127.0.0.1",
    port: 0,
    logger,
    services: [CheckpointService],
    auth: AUTH,
    inProcessToken: SECRET,
    routes: (router) =>
      router.service(CheckpointService, {
        async getCheckpoint(_req, ctx) {
          seen.push(callerRole(ctx.values));
          return {};
        },
        async deleteCheckpoints(_req, ctx) {
          seen.push(callerRole(ctx.values));
          return {};
        },
      }),
  });
});
afterAll(() => server?.close(100));
afterEach(() => {
  seen.length = 0;
});

const checkpoints = (token?: string) => createClient(CheckpointService, createRpcTransport(server.url, { token }));

async function codeOf(call: Promise<unknown>): Promise<{ code: Code; message: string }> {
  try {
    await call;
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: e.code, message: e.rawMessage };
  }
  throw new Error("the call succeeded");
}

async function* one<T>(value: T): AsyncIterable<T> {
  yield value;
}

describe("an internal RPC server with auth", () => {
  it("refuses a call without a token, with a wrong one or a malformed header (UNAUTHENTICATED), and says which", async () => {
    expect(await codeOf(checkpoints().getCheckpoint({}))).toEqual({
      code: Code.Unauthenticated,
      message: "This internal service needs a credential: the call carries no authorization header",
    });
    expect(await codeOf(checkpoints("f".repeat(64)).getCheckpoint({}))).toEqual({
      code: Code.Unauthenticated,
      message: "The credential is not accepted by this internal service",
    });
    // The secret's digest is what the server keeps: sending it instead of the secret gets nowhere.
    expect((await codeOf(checkpoints(tokenSha256(SECRET)).getCheckpoint({}))).code).toBe(Code.Unauthenticated);
    const basic = createClient(CheckpointService, createRpcTransport(server.url));
    expect(
      await codeOf(
        basic.getCheckpoint({}, { headers: { authorization: `Basic ${Buffer.from(`x:${SECRET}`).toString("base64")}` } }),
      ),
    ).toEqual({ code: Code.Unauthenticated, message: "The authorization header is not a Bearer token" });
    expect(seen).toEqual([]);
  });

  it("lets the secret call every method, as `internal`", async () => {
    await checkpoints(SECRET).getCheckpoint({});
    await checkpoints(SECRET).deleteCheckpoints({});
    expect(seen).toEqual(["internal", "internal"]);
  });

  it("lets the runtime's token call only what its role may (PERMISSION_DENIED naming the method), as `runtime`", async () => {
    await checkpoints(RUNTIME_TOKEN).getCheckpoint({});
    expect(await codeOf(checkpoints(RUNTIME_TOKEN).deleteCheckpoints({}))).toEqual({
      code: Code.PermissionDenied,
      message: "The runtime credential may not call langopen.data.v1.CheckpointService/DeleteCheckpoints",
    });
    expect(seen).toEqual(["runtime"]);
  });

  it("answers health without a token (probes send no headers), and reflection only with one", async () => {
    const transport = createGrpcTransport({ baseUrl: server.url });
    const health = createClient(Health, transport);
    expect((await health.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const list = create(ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } });
    const reflect = async (token?: string) => {
      const names: string[] = [];
      const reflection = createClient(ServerReflection, createRpcTransport(server.url, { token }));
      for await (const res of reflection.serverReflectionInfo(one(list))) {
        if (res.messageResponse.case === "listServicesResponse")
          names.push(...res.messageResponse.value.service.map((s) => s.name));
      }
      return names;
    };
    expect((await codeOf(reflect())).code).toBe(Code.Unauthenticated);
    expect((await codeOf(reflect(RUNTIME_TOKEN))).code).toBe(Code.PermissionDenied);
    expect(await reflect(SECRET)).toContain("langopen.data.v1.CheckpointService");
  });

  it("sets the role from the token, whatever the in-process caller's context values say", async () => {
    // A handler that calls on in process hands over its own context values (inCallOf), which hold
    // the role of its own caller: the role of the new call is its token's, in either direction.
    const inProcess = createClient(CheckpointService, server.inProcessTransport);
    await inProcess.deleteCheckpoints({}, { contextValues: createContextValues().set(callerRoleKey, "runtime") });
    const asRuntime = {
      contextValues: createContextValues().set(callerRoleKey, "internal"),
      headers: { authorization: `Bearer ${RUNTIME_TOKEN}` },
    };
    expect(await codeOf(inProcess.deleteCheckpoints({}, asRuntime))).toMatchObject({ code: Code.PermissionDenied });
    await inProcess.getCheckpoint({}, asRuntime);
    expect(seen).toEqual(["internal", "runtime"]);
  });

  it("sends the in-process token on the in-process transport; a header the caller set wins", async () => {
    const inProcess = createClient(CheckpointService, server.inProcessTransport);
    await inProcess.deleteCheckpoints({});
    expect(
      await codeOf(inProcess.deleteCheckpoints({}, { headers: { authorization: `Bearer ${RUNTIME_TOKEN}` } })),
    ).toMatchObject({
      code: Code.PermissionDenied,
    });
    expect(seen).toEqual(["internal"]);
  });

  it("answers a stock @grpc/grpc-js client that sends the token as metadata, and refuses one that does not", async () => {
    const definition = protoLoader.loadSync("langopen/data/v1/checkpoint_service.proto", {
      includeDirs: [PROTO_ROOT],
      keepCase: true,
    });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      langopen: { data: { v1: { CheckpointService: grpc.ServiceClientConstructor } } };
    };
    const client = new pkg.langopen.data.v1.CheckpointService(
      server.url.replace("http://", ""),
      grpc.credentials.createInsecure(),
    );
    const call = (metadata: grpc.Metadata) =>
      new Promise<void>((resolve, reject) =>
        (client.GetCheckpoint as grpc.requestCallback<unknown> & ((...args: unknown[]) => void)).call(
          client,
          {},
          metadata,
          (err: grpc.ServiceError | null) => (err ? reject(err) : resolve()),
        ),
      );
    try {
      const authorized = new grpc.Metadata();
      authorized.set("authorization", `Bearer ${SECRET}`);
      await call(authorized);
      await expect(call(new grpc.Metadata())).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    } finally {
      client.close();
    }
  });
});

describe("a call without an accepted credential", () => {
  const PATH = "/langopen.data.v1.CheckpointService/GetCheckpoint";

  it("is answered from its headers, its body unread, in the caller's protocol", async () => {
    const session = http2.connect(server.url);
    try {
      const grpcAnswer = await unendedCall(session, PATH, { "content-type": "application/grpc" });
      expect(grpcAnswer.headers[":status"]).toBe(200);
      expect(grpcAnswer.headers["grpc-status"]).toBe(String(Code.Unauthenticated));
      expect(decodeURIComponent(String(grpcAnswer.headers["grpc-message"]))).toBe(
        "This internal service needs a credential: the call carries no authorization header",
      );
      const connectAnswer = await unendedCall(session, PATH, {
        "content-type": "application/proto",
        authorization: "Bearer not-a-token-it-knows",
      });
      expect(connectAnswer.headers[":status"]).toBe(401);
      expect(JSON.parse(connectAnswer.body.toString())).toEqual({
        code: "unauthenticated",
        message: "The credential is not accepted by this internal service",
      });
      // A streaming call of the Connect protocol: the error is its end-of-stream message (flag 2, length, JSON).
      const streamAnswer = await unendedCall(session, PATH, { "content-type": "application/connect+proto" });
      expect(streamAnswer.headers[":status"]).toBe(200);
      expect(streamAnswer.body[0]).toBe(2);
      expect(streamAnswer.body.readUInt32BE(1)).toBe(streamAnswer.body.length - 5);
      expect(JSON.parse(streamAnswer.body.subarray(5).toString())).toEqual({
        error: {
          code: "unauthenticated",
          message: "This internal service needs a credential: the call carries no authorization header",
        },
      });
      // Health needs no credential: of such a call the server reads 64 KiB at most.
      const health = await unendedCall(session, "/grpc.health.v1.Health/Check", { "content-type": "application/proto" });
      expect(health.headers[":status"]).toBe(429);
      expect(JSON.parse(health.body.toString())).toMatchObject({ code: "resource_exhausted" });
      // A path the server does not serve is not found, credential or not (as before the body is read).
      const unknown = await unendedCall(session, "/langopen.runtime.v1.RuntimeService/ListGraphs", {
        "content-type": "application/proto",
      });
      expect(unknown.headers[":status"]).toBe(404);
      // The session is still good for calls that hold a credential.
      await checkpoints(SECRET).getCheckpoint({});
      expect(seen).toEqual(["internal"]);
    } finally {
      session.close();
    }
  });
});

describe("a server without auth", () => {
  it("trusts every caller as `internal` (only for servers nothing untrusted reaches, and tests)", async () => {
    const open = await startRpcServer({
      host: "127.0.0.1",
      port: 0,
      logger,
      services: [CheckpointService],
      routes: (router) =>
        router.service(CheckpointService, {
          async getCheckpoint(_req, ctx) {
            seen.push(callerRole(ctx.values));
            return {};
          },
        }),
    });
    try {
      await createClient(CheckpointService, createRpcTransport(open.url)).getCheckpoint({});
      expect(seen).toEqual(["internal"]);
    } finally {
      await open.close(100);
    }
  });
});

describe("derived credentials", () => {
  it("derives the runtime's token as HMAC-SHA256(secret, 'langopen runtime v1'), and gives the runtime no secret", () => {
    // What `printf %s "langopen runtime v1" | openssl dgst -sha256 -hmac "$SECRET"` prints.
    expect(RUNTIME_TOKEN).toBe(createHmac("sha256", SECRET).update("langopen runtime v1").digest("hex"));
    const credentials = runtimeCredentialsOf(SECRET);
    // Its callers send HMAC-SHA256(secret, 'langopen runtime caller v1'), never the secret (graph code could read it there).
    const callerToken = createHmac("sha256", SECRET).update("langopen runtime caller v1").digest("hex");
    expect(runtimeCallerTokenOf(SECRET)).toBe(callerToken);
    expect(credentials).toEqual({ token: RUNTIME_TOKEN, callerTokenSha256: tokenSha256(callerToken) });
    expect(JSON.stringify(credentials)).not.toContain(SECRET);
    expect(new Set([SECRET, RUNTIME_TOKEN, callerToken]).size).toBe(3);
  });

  it("accepts a state-write grant of the secret for its thread until it expires, and nothing else", () => {
    const thread = "0190b3c2-8c4f-7000-8000-000000000001";
    const now = 1_700_000_000_000;
    const grant = signStateWriteGrant(SECRET, thread, now, 60_000);
    expect(verifyStateWriteGrant(SECRET, grant, thread, now + 59_999)).toBe(true);
    expect(verifyStateWriteGrant(SECRET, grant, thread, now + 60_000)).toBe(false);
    expect(verifyStateWriteGrant(SECRET, grant, "0190b3c2-8c4f-7000-8000-000000000002", now)).toBe(false);
    expect(verifyStateWriteGrant(`${SECRET}x`, grant, thread, now)).toBe(false);
    // A later expiry under the same signature, or another signature, is forged.
    expect(verifyStateWriteGrant(SECRET, { ...grant, expiresAtMs: grant.expiresAtMs + 1n }, thread, now)).toBe(false);
    expect(verifyStateWriteGrant(SECRET, { ...grant, signature: new Uint8Array(32) }, thread, now)).toBe(false);
    expect(verifyStateWriteGrant(SECRET, { ...grant, signature: new Uint8Array() }, thread, now)).toBe(false);
    // The runtime's token is no grant signature, nor the other way round.
    expect(Buffer.from(grant.signature).toString("hex")).not.toBe(RUNTIME_TOKEN);
  });
});

describe("the launcher's secret file", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "langopen-secret-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("is made at the first start (32 random bytes, hex, mode 0600) and reused after", async () => {
    const dataDir = path.join(dir, "data");
    const first = await loadOrCreateInternalSecret(dataDir, logger);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    const file = path.join(dataDir, "internal-secret");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await loadOrCreateInternalSecret(dataDir, logger)).toBe(first);
    expect(await loadOrCreateInternalSecret(path.join(dir, "other"), logger)).not.toBe(first);
  });

  it("is made readable by its owner only when found otherwise", async () => {
    const dataDir = path.join(dir, "loose");
    const secret = await loadOrCreateInternalSecret(dataDir, logger);
    const file = path.join(dataDir, "internal-secret");
    await chmod(file, 0o644);
    expect(await loadOrCreateInternalSecret(dataDir, logger)).toBe(secret);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it("comes from LANGOPEN_INTERNAL_SECRET or a file in split mode; both, or a short one, fail the start", async () => {
    const file = path.join(dir, "mounted-secret");
    await writeFile(file, `${SECRET}\n`);
    expect(await resolveInternalSecret({})).toBeUndefined();
    expect(await resolveInternalSecret({ LANGOPEN_INTERNAL_SECRET: SECRET })).toBe(SECRET);
    expect(await resolveInternalSecret({ LANGOPEN_INTERNAL_SECRET_FILE: file })).toBe(SECRET);
    await expect(
      resolveInternalSecret({ LANGOPEN_INTERNAL_SECRET: SECRET, LANGOPEN_INTERNAL_SECRET_FILE: file }),
    ).rejects.toThrow(/not both/);
    await writeFile(file, "short\n");
    await expect(resolveInternalSecret({ LANGOPEN_INTERNAL_SECRET_FILE: file })).rejects.toThrow(/shorter than 32 characters/);
    await expect(resolveInternalSecret({ LANGOPEN_INTERNAL_SECRET_FILE: path.join(dir, "absent") })).rejects.toThrow(
      /Cannot read LANGOPEN_INTERNAL_SECRET_FILE/,
    );
    expect(await readFile(file, "utf8")).toBe("short\n");
  });
});
