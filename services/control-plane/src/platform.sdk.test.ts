import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFile, cp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import http2 from "node:http2";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Client } from "@langchain/langgraph-sdk";
import { createLogger, createMetricsRegistry } from "@langopen/common";
import { BuilderService } from "@langopen/gen/langopen/builder/v1/builder_service_pb";
import { Role } from "@langopen/gen/langopen/control/v1/api_key_pb";
import { ApiKeyService } from "@langopen/gen/langopen/control/v1/api_key_service_pb";
import { AuditService } from "@langopen/gen/langopen/control/v1/audit_service_pb";
import { DeploymentStatus } from "@langopen/gen/langopen/control/v1/deployment_pb";
import { DeploymentService } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { SecretService } from "@langopen/gen/langopen/control/v1/secret_service_pb";
import { createTestDatabase, makeTempDir, type TestDatabase, unendedCall, until } from "@langopen/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Platform, startPlatform } from "./compose.js";
import { dropDeploymentDatabases } from "./test-fixtures/databases.js";
import { git, graphSource, makeProjectRepo, pushVersion } from "./test-fixtures/project.js";

/*
 * The platform as its users meet it: a real git repository (file:// URL) with two graphs and a
 * locked dependency, built by the real builder (git, npm), bundled, signed, run by the local
 * driver as a real data plane process on its own database, reached with the official SDK using a
 * key the CLI issued; then a push, a secret, a rollback under load, a tampered bundle, the audit.
 */

const exec = promisify(execFile);
/** The launchers serving a deployment: processes whose environment names it (Linux /proc). */
async function launcherPids(deploymentId: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = await readFile(`/proc/${entry}/environ`, "utf8").catch(() => "");
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (environ.split("\0").includes(`LANGOPEN_DEPLOYMENT_ID=${deploymentId}`) && cmdline.includes("launcher"))
      pids.push(Number(entry));
  }
  return pids;
}

/** Messages carry bigint fields, which JSON.stringify refuses. */
const plain = (value: unknown) => JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? String(v) : v));
const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const CLI = path.join(ROOT, "services/cli/dist/main.js");
const ADMIN_KEY = `admin-${randomBytes(24).toString("hex")}`;
const logger = createLogger({ service: "test", level: "silent" });

let platform: Platform;
/** The control plane's metrics (what its METRICS_PORT serves). */
const metrics = createMetricsRegistry();
let database: TestDatabase;
let repoDir: string;
let repoUrl: string;
let platformDir: string;

const withKey =
  (key: string): Interceptor =>
  (next) =>
  (req) => {
    req.header.set("authorization", `Bearer ${key}`);
    return next(req);
  };

async function portalStandIn(): Promise<string> {
  const dir = await makeTempDir("portal");
  await writeFile(path.join(dir, "index.html"), "<!doctype html><title>LangOpen</title>");
  return dir;
}

/** The platform's services as the portal calls them: Connect over HTTP/1.1 at /portal/rpc, with `x-api-key`. */
function portalClients(key?: string) {
  const transport = createConnectTransport({
    baseUrl: new URL("rpc", platform.portalUrl).toString(),
    httpVersion: "1.1",
    interceptors: key
      ? [
          (next) => (req) => {
            req.header.set("x-api-key", key);
            return next(req);
          },
        ]
      : [],
  });
  return {
    deployments: createClient(DeploymentService, transport),
    keys: createClient(ApiKeyService, transport),
    secrets: createClient(SecretService, transport),
    audit: createClient(AuditService, transport),
    builder: createClient(BuilderService, transport),
  };
}

function clients(key?: string) {
  const transport = createGrpcTransport({ baseUrl: platform.url, interceptors: key ? [withKey(key)] : [] });
  return {
    deployments: createClient(DeploymentService, transport),
    keys: createClient(ApiKeyService, transport),
    secrets: createClient(SecretService, transport),
    audit: createClient(AuditService, transport),
  };
}

/** The CLI as a user runs it: exit code, stdout, stderr. */
async function cli(args: string[], key = ADMIN_KEY): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, LANGOPEN_CONTROL_URL: platform.url, LANGOPEN_API_KEY: key },
      timeout: 240_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1) as string) as Record<string, string>;

async function lastValues(client: Client, graph: string, input: Record<string, unknown>) {
  let values: Record<string, unknown> = {};
  for await (const chunk of client.runs.stream(null, graph, { input, streamMode: "values" })) {
    if (chunk.event === "values") values = chunk.data as Record<string, unknown>;
  }
  return values;
}

beforeAll(async () => {
  repoDir = await makeTempDir("repo");
  repoUrl = await makeProjectRepo(repoDir);
  database = await createTestDatabase(inject("databaseUrl"));
  // Inside the repository: the graphs find @langchain/langgraph in its node_modules, as projects served from it do.
  platformDir = path.join(ROOT, "node_modules/.cache/langopen-test", `platform-${randomBytes(4).toString("hex")}`);
  platform = await startPlatform(
    {
      host: "127.0.0.1",
      port: 0,
      dataDir: platformDir,
      databaseUrl: database.url,
      adminKey: ADMIN_KEY,
      buildTimeoutSeconds: 180,
      buildConcurrency: 2,
      defaultSandbox: "NODE",
      drainMs: 5_000,
      keyCacheSeconds: 1,
      loopMs: 200,
      metrics,
      // The portal's port, with a stand-in for the built app (the browser tests use the real one).
      portal: { port: 0, dir: await portalStandIn() },
    },
    logger,
  );
}, 120_000);

afterAll(async () => {
  await platform?.stop();
  // What a failed test may have left: the databases of this platform's deployments (only its own).
  if (database) await dropDeploymentDatabases(database.url, inject("databaseUrl"));
  await database?.drop();
  await rm(platformDir, { recursive: true, force: true });
  await rm(repoDir, { recursive: true, force: true });
}, 120_000);

describe("platform", () => {
  it("counts the control plane's RPCs for Prometheus (what METRICS_PORT serves)", async () => {
    const client = createClient(DeploymentService, createGrpcTransport({ baseUrl: platform.url }));
    await expect(client.listDeployments({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(await metrics.metrics()).toMatch(
      /^langopen_rpc_server_requests_total\{service="langopen\.control\.v1\.DeploymentService",method="ListDeployments",code="unauthenticated"\} [1-9]/m,
    );
  });

  it("answers a call without a known key from its headers, before reading the upload it sends", async () => {
    // CreateDeployment and CreateRevision carry tarballs: no caller the platform does not know may make it hold one.
    const session = http2.connect(platform.url);
    try {
      const call = "/langopen.control.v1.DeploymentService/CreateDeployment";
      const none = await unendedCall(session, call, { "content-type": "application/proto" });
      expect(none.headers[":status"]).toBe(401);
      expect(JSON.parse(none.body.toString())).toMatchObject({ code: "unauthenticated" });
      const wrong = await unendedCall(session, call, { "content-type": "application/grpc", authorization: "Bearer lok_wrong" });
      expect(wrong.headers["grpc-status"]).toBe(String(Code.Unauthenticated));
      expect(decodeURIComponent(String(wrong.headers["grpc-message"]))).toBe("The API key is not valid (unknown or revoked)");
    } finally {
      session.close();
    }
  });

  let deployed: Record<string, string>;
  let devKey: string;
  let firstRevision: string;

  it("deploys a git repository with two graphs; the SDK streams a run with a key the CLI issued", async () => {
    const out = await cli(["deploy", "--name", "support-bot", "--git", repoUrl, "--ref", "main", "--json"]);
    expect(out.code, out.stderr).toBe(0);
    deployed = lastJson(out.stdout);
    expect(deployed).toMatchObject({ status: "DEPLOYED" });
    expect(deployed.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(deployed.bundle_digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(deployed.commit_sha).toBe(await git(repoDir, "rev-parse", "HEAD"));
    expect(out.stderr).toMatch(/install/i); // the build log streamed as it ran
    firstRevision = deployed.revision_id as string;

    // Its SBOM, read from the signed bundle: the packages the project installed, for anyone who may read it.
    const { sbomJson } = await clients(ADMIN_KEY).deployments.getRevisionSbom({ revisionId: firstRevision });
    const sbom = JSON.parse(new TextDecoder().decode(sbomJson)) as {
      bomFormat: string;
      components: { group?: string; name: string }[];
    };
    expect(sbom.bomFormat).toBe("CycloneDX");
    expect(sbom.components.map((c) => (c.group ? `${c.group}/${c.name}` : c.name))).toContain("greeting");
    const viaPortal = await portalClients(ADMIN_KEY).deployments.getRevisionSbom({ revisionId: firstRevision });
    expect(viaPortal.sbomJson).toEqual(sbomJson);

    // The local driver reports conditions as the operator does: what `deployments get` shows.
    const shown = await until(
      async () => {
        const got = await cli(["deployments", "get", "support-bot", "--json"]);
        const conditions = (JSON.parse(got.stdout) as { conditions: Record<string, string>[] }).conditions;
        return conditions.some((c) => c.type === "Ready" && c.status === "True") && conditions;
      },
      "the deployment's Ready condition",
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    expect(shown.map((c) => `${c.type}=${c.status}/${c.reason}`)).toEqual([
      "Ready=True/Available",
      "Progressing=False/Complete",
      "Degraded=False/AsExpected",
    ]);
    const table = await cli(["deployments", "get", "support-bot"]);
    expect(table.stdout).toMatch(/^TYPE +STATUS +REASON +MESSAGE +AGE$/m);
    expect(table.stdout).toMatch(/^Ready +True +Available +the data plane serves +\d+s$/m);

    const keyOut = await cli([
      "keys",
      "create",
      "--name",
      "bot-dev",
      "--role",
      "developer",
      "--deployment",
      "support-bot",
      "--json",
    ]);
    expect(keyOut.code, keyOut.stderr).toBe(0);
    devKey = lastJson(keyOut.stdout).key as string;
    expect(devKey).toMatch(/^lok_/);

    const client = new Client({ apiUrl: deployed.url, apiKey: devKey });
    const assistants = await client.assistants.search({ limit: 10 });
    expect(assistants.map((a) => a.graph_id).sort()).toEqual(["echo", "shout"]);
    expect(await lastValues(client, "shout", { text: "world" })).toMatchObject({
      reply: "hello world from shout",
      version: "v1",
    });

    // The data plane asks the control plane about keys: none, a wrong one, a revoked one are refused.
    expect((await fetch(`${deployed.url}/assistants/search`, { method: "POST", body: "{}" })).status).toBe(401);
    const wrong = await fetch(`${deployed.url}/assistants/search`, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json", "x-api-key": "lok_nope" },
    });
    expect(wrong.status).toBe(401);
    const admin = clients(ADMIN_KEY);
    const temp = await admin.keys.createApiKey({ name: "temp", role: Role.VIEWER, deployment: "support-bot" });
    const ok = await fetch(`${deployed.url}/assistants/search`, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json", "x-api-key": temp.key },
    });
    expect(ok.status).toBe(200);
    await admin.keys.revokeApiKey({ keyId: temp.apiKey?.keyId ?? "" });
    await until(
      async () =>
        (await fetch(`${deployed.url}/assistants/search`, { method: "POST", body: "{}", headers: { "x-api-key": temp.key } }))
          .status === 401,
      "the revoked key to be refused (cache of 1 s)",
      { timeoutMs: 10_000, intervalMs: 200 },
    );
  }, 300_000);

  it("deploys a push as a new revision, redeploys on a secret, rolls back under load without losing a run", async () => {
    await pushVersion(repoDir, "v2");
    const second = await cli(["deploy", "--name", "support-bot", "--git", repoUrl, "--json"]);
    expect(second.code, second.stderr).toBe(0);
    const rev2 = lastJson(second.stdout);
    expect(rev2).toMatchObject({ status: "DEPLOYED", url: deployed.url, deployment_id: deployed.deployment_id });
    expect(rev2.revision_id).not.toBe(firstRevision);
    const client = new Client({ apiUrl: deployed.url, apiKey: devKey });
    expect(await lastValues(client, "echo", { text: "a" })).toMatchObject({ version: "v2", secret: "" });

    const set = await cli(["secrets", "set", "support-bot", "SECRET_TOKEN=s3cr3t-value"], devKey);
    expect(set.code, set.stderr).toBe(0);
    const admin = clients(ADMIN_KEY);
    const afterSecret = await until(
      async () => {
        const { deployment } = await admin.deployments.getDeployment({ deployment: "support-bot" });
        return deployment && deployment.currentRevisionId !== rev2.revision_id && deployment.status === DeploymentStatus.READY
          ? deployment
          : undefined;
      },
      "the secret's redeploy",
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    expect(await lastValues(client, "echo", { text: "a" })).toMatchObject({ version: "v2", secret: "s3cr3t-value" });
    const listed = await admin.secrets.listSecrets({ deployment: "support-bot" });
    expect(listed.secrets.map((s) => [s.name, s.maskedValue])).toEqual([["SECRET_TOKEN", "****ue"]]);
    const shown = await admin.deployments.getDeployment({ deployment: "support-bot" });
    expect(plain(shown)).not.toContain("s3cr3t");

    // Rollback while runs are being created and run: every accepted run ends, none is lost.
    const accepted: Array<{ thread: string; run: string }> = [];
    let creating = true;
    const load = (async () => {
      while (creating) {
        try {
          const thread = await client.threads.create();
          const run = await client.runs.create(thread.thread_id, "echo", { input: { text: "load", sleep_ms: 200 } });
          accepted.push({ thread: thread.thread_id, run: run.run_id });
        } catch {
          // Refused while the data plane switches: not accepted, nothing to lose.
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    })();
    await until(async () => accepted.length >= 5, "some runs accepted before the rollback", { timeoutMs: 30_000 });
    const back = await cli(["rollback", "support-bot", "--revision", firstRevision, "--json"]);
    expect(back.code, back.stderr).toBe(0);
    expect(lastJson(back.stdout)).toMatchObject({ status: "DEPLOYED" });
    await until(async () => accepted.length >= 10, "runs accepted after the rollback", { timeoutMs: 60_000 });
    creating = false;
    await load;
    for (const { thread, run } of accepted) {
      const ended = await until(
        async () => {
          const r = await client.runs.get(thread, run);
          return r.status === "pending" || r.status === "running" ? undefined : r;
        },
        `run ${run} to end`,
        { timeoutMs: 120_000, intervalMs: 200, retryErrors: true },
      );
      expect(ended.status).toBe("success");
    }
    expect(accepted.length).toBeGreaterThanOrEqual(10);
    expect(await lastValues(client, "echo", { text: "b" })).toMatchObject({ version: "v1", secret: "s3cr3t-value" });
    void afterSecret;
  }, 400_000);

  it("refuses a tampered bundle and keeps the serving revision; the audit log lists every change", async () => {
    const admin = clients(ADMIN_KEY);
    const { revisions } = await admin.deployments.listRevisions({ deployment: "support-bot" });
    const v2 = revisions.find((r) => r.redeployOf === "" && r.revisionId !== firstRevision);
    expect(v2).toBeDefined();
    const bundles = await readdir(path.join(platformDir, "bundles"));
    const file = bundles.find((f) => f === `${v2?.bundleDigest.replace(":", "-")}.tgz`);
    expect(file).toBeDefined();
    await appendFile(path.join(platformDir, "bundles", file as string), "tampered");
    const out = await cli(["rollback", "support-bot", "--revision", v2?.revisionId ?? "", "--json"]);
    expect(out.code).toBe(1);
    const result = lastJson(out.stdout);
    expect(result.status).toBe("DEPLOY_FAILED");
    const { revision } = await admin.deployments.getRevision({ revisionId: result.revision_id as string });
    expect(revision?.statusMessage).toMatch(/altered/);
    const client = new Client({ apiUrl: deployed.url, apiKey: devKey });
    await until(
      async () =>
        (await admin.deployments.getDeployment({ deployment: "support-bot" })).deployment?.status === DeploymentStatus.READY,
      "the previous revision to serve again",
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    expect(await lastValues(client, "echo", { text: "c" })).toMatchObject({ version: "v1" });

    const audit = await cli(["audit", "--deployment", "support-bot", "--json"]);
    expect(audit.code, audit.stderr).toBe(0);
    const text = audit.stdout;
    for (const action of [
      "deployment.create",
      "revision.create",
      "api_key.create",
      "api_key.revoke",
      "secret.set",
      "revision.rollback",
    ])
      expect(text).toContain(action);
    const events = (await admin.audit.listAuditEvents({ deployment: "support-bot" })).events;
    expect(events.every((e) => e.actorName !== "" && e.time !== undefined)).toBe(true);
    expect(plain(events)).not.toContain("s3cr3t");
  }, 300_000);

  it("hands a revision's bundle to a key of its deployment, verified before it is extracted", async () => {
    const admin = clients(ADMIN_KEY);
    const reader = await admin.keys.createApiKey({ name: "bundle-reader", role: Role.VIEWER, deployment: "support-bot" });
    const publicKey = path.join(platformDir, "signing-key.pub.pem");
    const out = await makeTempDir("bundle-out");
    try {
      const { revision } = await admin.deployments.getRevision({ revisionId: firstRevision });
      const fetched = await cli(
        ["bundle", "fetch", firstRevision, "--public-key", publicKey, "--to", path.join(out, "v1"), "--json"],
        reader.key,
      );
      expect(fetched.code, fetched.stderr).toBe(0);
      expect(lastJson(fetched.stdout)).toMatchObject({ digest: revision?.bundleDigest, dir: path.join(out, "v1") });
      expect(await readFile(path.join(out, "v1", "src", "echo.mjs"), "utf8")).toContain('"v1"');
      expect(await readdir(path.join(out, "v1", "node_modules"))).toContain("greeting");

      // The tampered bundle of v2 (previous test) is refused, and nothing is extracted.
      const { revisions } = await admin.deployments.listRevisions({ deployment: "support-bot" });
      const v2 = revisions.find((r) => r.redeployOf === "" && r.revisionId !== firstRevision && r.bundleDigest !== "");
      const altered = await cli(
        ["bundle", "fetch", v2?.revisionId ?? "", "--public-key", publicKey, "--to", path.join(out, "v2")],
        reader.key,
      );
      expect(altered.code).toBe(1);
      expect(altered.stderr).toMatch(/refused the bundle .* altered/);
      expect(await readdir(path.join(out, "v2")).catch(() => [])).toEqual([]);

      // Another platform's key does not vouch for this one's bundles.
      const { generateKeyPairSync } = await import("node:crypto");
      const otherKey = path.join(out, "other.pub.pem");
      await writeFile(otherKey, generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }).toString());
      const foreign = await cli(
        ["bundle", "fetch", firstRevision, "--public-key", otherKey, "--to", path.join(out, "v1b")],
        reader.key,
      );
      expect(foreign.code).toBe(1);
      expect(foreign.stderr).toMatch(/refused the bundle/);
      expect(await readdir(path.join(out, "v1b")).catch(() => [])).toEqual([]);

      // Unknown revisions and strangers get nothing.
      const unknown = await cli(
        ["bundle", "fetch", "00000000-0000-0000-0000-000000000000", "--public-key", publicKey, "--to", path.join(out, "x")],
        reader.key,
      );
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/not found/i);
      const stranger = await cli(
        ["bundle", "fetch", firstRevision, "--public-key", publicKey, "--to", path.join(out, "y")],
        "lok_nope",
      );
      expect(stranger.code).toBe(1);
      expect(stranger.stderr).toMatch(/not valid/);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 120_000);

  it("starts a deployment's data plane again when it dies, on the same URL", async () => {
    const admin = clients(ADMIN_KEY);
    const pids = await launcherPids(deployed.deployment_id as string);
    expect(pids).toHaveLength(1);
    process.kill(pids[0] as number, "SIGKILL");
    await until(
      async () => (await launcherPids(deployed.deployment_id as string)).some((pid) => pid !== pids[0]),
      "a new data plane",
      {
        timeoutMs: 60_000,
        intervalMs: 200,
      },
    );
    await until(
      async () =>
        (await admin.deployments.getDeployment({ deployment: "support-bot" })).deployment?.status === DeploymentStatus.READY &&
        (await fetch(`${deployed.url}/ok`).then(
          (r) => r.ok,
          () => false,
        )),
      "the deployment to serve again",
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    const client = new Client({ apiUrl: deployed.url, apiKey: devKey });
    expect(await lastValues(client, "echo", { text: "again" })).toMatchObject({ reply: "hello again from echo", version: "v1" });
  }, 200_000);

  it("deploys an uploaded folder, and a new upload as a new revision", async () => {
    const admin = clients(ADMIN_KEY);
    const folder = await makeTempDir("upload");
    try {
      // The project's files as a user has them: node_modules and .git are there and are left out.
      await cp(repoDir, folder, { recursive: true });
      const first = await cli(["deploy", "--name", "uploaded", "--dir", folder, "--json"]);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stderr).toMatch(/packed .* files/);
      const one = lastJson(first.stdout);
      expect(one.status).toBe("DEPLOYED");
      const key = await admin.keys.createApiKey({ name: "uploaded", role: Role.DEVELOPER, deployment: "uploaded" });
      const client = new Client({ apiUrl: one.url, apiKey: key.key });
      expect(await lastValues(client, "shout", { text: "up" })).toMatchObject({ reply: "hello up from shout" });

      await writeFile(path.join(folder, "src", "shout.mjs"), graphSource("v9", "shout"));
      const second = await cli(["deploy", "--name", "uploaded", "--dir", folder, "--json"]);
      expect(second.code, second.stderr).toBe(0);
      const two = lastJson(second.stdout);
      expect(two.revision_id).not.toBe(one.revision_id);
      expect(two.bundle_digest).not.toBe(one.bundle_digest);
      expect(await lastValues(client, "shout", { text: "up" })).toMatchObject({ version: "v9" });

      // A folder deployment takes uploads only; a git source for it is refused and changes nothing.
      const mixed = await cli(["deploy", "--name", "uploaded", "--git", repoUrl, "--json"]);
      expect(mixed.code).toBe(1);
      expect(mixed.stderr).toMatch(/already exists with source/);
      expect((await admin.deployments.listRevisions({ deployment: "uploaded" })).revisions).toHaveLength(2);
    } finally {
      await cli(["deployments", "delete", "uploaded"]);
      await rm(folder, { recursive: true, force: true });
    }
    await until(
      async () => (await admin.deployments.listDeployments({})).deployments.every((d) => d.name !== "uploaded"),
      "the upload's deletion",
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  }, 300_000);

  it("lists the control plane's and the builder's services through reflection, as buf curl sees them", async () => {
    const { stdout } = await exec(path.join(ROOT, "node_modules/.bin/buf"), [
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "--list-services",
      platform.url,
    ]);
    const services = stdout.split("\n").filter(Boolean).sort();
    expect(services).toEqual(
      expect.arrayContaining([
        "grpc.health.v1.Health",
        "langopen.builder.v1.BuilderService",
        "langopen.control.v1.ApiKeyService",
        "langopen.control.v1.AuditService",
        "langopen.control.v1.DeploymentService",
        "langopen.control.v1.SecretService",
      ]),
    );
  });

  it("answers bad input with the right code and creates nothing half-way", async () => {
    const admin = clients(ADMIN_KEY);
    const code = async (p: Promise<unknown>) => {
      try {
        await p;
        return Code[0];
      } catch (err) {
        return Code[ConnectError.from(err).code];
      }
    };
    const source = (url: string, ref = "") => ({ configPath: "", kind: { case: "git" as const, value: { url, ref } } });
    expect(await code(admin.deployments.createDeployment({ name: "support-bot", source: source(repoUrl) }))).toBe(
      "AlreadyExists",
    );
    expect(await code(admin.deployments.createDeployment({ name: "Bad Name", source: source(repoUrl) }))).toBe("InvalidArgument");
    expect(await code(admin.deployments.createDeployment({ name: "no-source" }))).toBe("InvalidArgument");
    expect(
      await code(admin.deployments.createDeployment({ name: "bad-env", source: source(repoUrl), env: { DATABASE_URL: "x" } })),
    ).toBe("InvalidArgument");
    expect(
      await code(admin.deployments.rollback({ deployment: "support-bot", revisionId: "00000000-0000-0000-0000-000000000000" })),
    ).toBe("NotFound");
    expect(await code(admin.deployments.getDeployment({ deployment: "nope" }))).toBe("NotFound");
    expect(await code(clients().deployments.listDeployments({}))).toBe("Unauthenticated");
    expect(await code(clients("lok_wrong").deployments.listDeployments({}))).toBe("Unauthenticated");
    const viewer = await admin.keys.createApiKey({ name: "viewer", role: Role.VIEWER });
    expect(await code(clients(viewer.key).deployments.createDeployment({ name: "by-viewer", source: source(repoUrl) }))).toBe(
      "PermissionDenied",
    );
    expect(await code(clients(viewer.key).keys.createApiKey({ name: "x", role: Role.ADMIN }))).toBe("PermissionDenied");
    const names = (await admin.deployments.listDeployments({})).deployments.map((d) => d.name);
    expect(names).toEqual(["support-bot"]);
    const refused = (await admin.audit.listAuditEvents({ action: "deployment.create" })).events.filter((e) => !e.allowed);
    expect(refused.map((e) => e.actorName)).toContain("viewer");

    // Defects found by the build: each fails its revision with where the defect is.
    const empty = await makeTempDir("empty-repo");
    try {
      await git(empty, "init", "-q", "-b", "main");
      await exec("sh", ["-c", "echo '{}' > package.json"], { cwd: empty });
      await git(empty, "add", "-A");
      await git(empty, "commit", "-q", "-m", "no langgraph.json");
      const noConfig = await cli(["deploy", "--name", "no-config", "--git", `file://${empty}`, "--json"]);
      expect(noConfig.code).toBe(1);
      expect(lastJson(noConfig.stdout).status).toBe("BUILD_FAILED");
      expect(noConfig.stderr).toMatch(/langgraph\.json/);
      const badRef = await cli(["deploy", "--name", "bad-ref", "--git", repoUrl, "--ref", "no-such-branch", "--json"]);
      expect(badRef.code).toBe(1);
      expect(lastJson(badRef.stdout).status).toBe("BUILD_FAILED");
      expect(badRef.stderr).toMatch(/no-such-branch/);
      const { deployment } = await admin.deployments.getDeployment({ deployment: "bad-ref" });
      expect(deployment?.status).toBe(DeploymentStatus.FAILED);
      expect(deployment?.url).toBe("");
    } finally {
      await rm(empty, { recursive: true, force: true });
    }

    // Deleting stops the data plane and drops its database.
    await admin.deployments.deleteDeployment({ deployment: "bad-ref" });
    await admin.deployments.deleteDeployment({ deployment: "support-bot" });
    await until(
      async () => (await admin.deployments.listDeployments({})).deployments.every((d) => d.name === "no-config"),
      "the deletions",
    );
    await until(
      async () => {
        try {
          await fetch(`${deployed.url}/ok`);
          return false;
        } catch {
          return true;
        }
      },
      "the deleted deployment's data plane to stop",
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const client = new pg.Client({ connectionString: inject("databaseUrl") });
    await client.connect();
    try {
      const name = `lo_${deployed.deployment_id?.replace(/-/g, "")}`;
      await until(
        async () => (await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])).rowCount === 0,
        "its database to be dropped",
        { timeoutMs: 30_000, intervalMs: 200 },
      );
    } finally {
      await client.end();
    }
  }, 400_000);
});

describe("the platform's portal", () => {
  const codeOf = (call: Promise<unknown>) =>
    call.then(
      () => "ok",
      (err) => Code[ConnectError.from(err).code],
    );

  it("serves the app at /portal/ over HTTP/1.1, and sends / there", async () => {
    const origin = new URL(platform.portalUrl ?? "").origin;
    const page = await fetch(`${origin}/portal/deployments`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(await (await fetch(`${origin}/portal/config.json`)).json()).toEqual({ mode: "platform" });
    const root = await fetch(`${origin}/`, { redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/portal/");
  });

  it("checks the key of every call as the RPC port does: none, a bad one, a viewer's", async () => {
    expect(await codeOf(portalClients().deployments.listDeployments({}))).toBe("Unauthenticated");
    expect(await codeOf(portalClients("not-a-key").deployments.listDeployments({}))).toBe("Unauthenticated");
    const admin = portalClients(ADMIN_KEY);
    expect(await codeOf(admin.deployments.listDeployments({}))).toBe("ok");
    const viewer = await admin.keys.createApiKey({ name: "portal-viewer", role: Role.VIEWER });
    expect(viewer.key).not.toBe("");
    const asViewer = portalClients(viewer.key);
    expect(await codeOf(asViewer.deployments.listDeployments({}))).toBe("ok");
    expect(
      await codeOf(
        asViewer.deployments.createDeployment({ name: "nope", source: { kind: { case: "git", value: { url: repoUrl } } } }),
      ),
    ).toBe("PermissionDenied");
    expect(await codeOf(asViewer.keys.createApiKey({ name: "escalate", role: Role.ADMIN }))).toBe("PermissionDenied");
    const audit = await admin.audit.listAuditEvents({});
    expect(audit.events.map((e) => e.action)).toContain("api_key.create");
    // A revision that does not exist has no SBOM (one that does: the first test reads it through the portal).
    expect(await codeOf(asViewer.deployments.getRevisionSbom({ revisionId: "0190b3c2-8c4f-7000-8000-0000000000f1" }))).toBe(
      "NotFound",
    );
  });

  it("does not serve the calls of data planes and of the builder, whatever the key", async () => {
    const admin = portalClients(ADMIN_KEY);
    expect(await codeOf(admin.keys.verifyApiKey({ key: ADMIN_KEY }))).toBe("Unimplemented");
    expect(await codeOf(admin.builder.getBuild({ buildId: "x" }))).toBe("Unimplemented");
    const bundle = (async () => {
      for await (const _ of admin.deployments.getBundle({ revisionId: "x" })) {
      }
    })();
    expect(await codeOf(bundle)).toBe("Unimplemented");
  });
});
