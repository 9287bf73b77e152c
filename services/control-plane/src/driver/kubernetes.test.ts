import { execFile } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { CustomObjectsApi } from "@kubernetes/client-node";
import {
  createLogger,
  type Logger,
  migrate,
  type Pool,
  runtimeCallerTokenOf,
  runtimeTokenOf,
  tokenSha256,
} from "@langopen/common";
import { createPool } from "@langopen/data-plane";
import { DeploymentStatus } from "@langopen/gen/langopen/control/v1/deployment_pb";
import { DeploymentService } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { agentDeploymentIssues, startOperator } from "@langopen/operator";
import {
  createTestDatabase,
  type FakeKube,
  type FakeObject,
  makeTempDir,
  startFakeKube,
  type TestDatabase,
  until,
} from "@langopen/testkit";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { BUNDLE_KEY_NAME, createBundleKeyIssuer } from "../bundle-keys.js";
import { MIGRATIONS_DIR, startPlatform } from "../compose.js";
import { DeploymentDatabases, databaseNameOf } from "../database-store.js";
import { hashApiKey, newApiKey } from "../keys.js";
import { pipelinePass } from "../pipeline.js";
import { SecretBox } from "../secrets.js";
import { registerControlServices, revisionMessage } from "../service.js";
import { ControlStore, type DeploymentRow, type RevisionRow } from "../store.js";
import type { DesiredDataPlane, ObservedDataPlane } from "./contract.js";
import { agentDeploymentSpec, KubernetesDriver } from "./kubernetes.js";

/*
 * The Kubernetes driver against the fake API server (real HTTP, the real @kubernetes/client-node)
 * and a real Postgres: what it writes, that it writes nothing when nothing changed, how the
 * operator's status becomes the deployment's, deletion behind the operator's finalizer, and
 * failures of the API server. "The operator" is played by the test, writing status into the fake.
 */

const exec = promisify(execFile);
const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));
const NS = "langopen";
const AGENTS = "platform.langopen.dev/v1alpha1";
const BUNDLE_URL = "http://control-plane.langopen.svc:8130";
const PUBLIC_KEY = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAtest\n-----END PUBLIC KEY-----\n";
const DIGEST_1 = `sha256:${"1".repeat(64)}`;
const DIGEST_2 = `sha256:${"2".repeat(64)}`;
const logger = createLogger({ service: "test", level: "silent" });
const secretBox = SecretBox.fromText("ab".repeat(32));
const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

let database: TestDatabase;
let pool: Pool;
let store: ControlStore;
let databases: DeploymentDatabases;
let fake: FakeKube;
let driver: KubernetesDriver;
/** Deployments whose database a test may have made: dropped after it. */
const made: string[] = [];

function newDriver(kubeConfig = fake.kubeConfig(NS)): KubernetesDriver {
  return new KubernetesDriver({
    kubeConfig,
    namespace: NS,
    databases,
    bundleKeys: createBundleKeyIssuer(store),
    publicKeyPem: PUBLIC_KEY,
    publicKeyConfigMap: "langopen-signing-key",
    bundleUrl: BUNDLE_URL,
    redisSecret: { secretName: "langopen-redis", key: "url" },
    logger,
    requestTimeoutMs: 5_000,
  });
}

beforeEach(async () => {
  database = await createTestDatabase(inject("databaseUrl"));
  await migrate(database.url, MIGRATIONS_DIR, logger);
  pool = createPool({ connectionString: database.url, applicationName: "kubernetes-driver-test" }, logger);
  store = new ControlStore(pool);
  databases = new DeploymentDatabases({ adminDatabaseUrl: inject("databaseUrl"), secretBox });
  fake = await startFakeKube();
  driver = newDriver();
});

afterEach(async () => {
  await driver?.stop();
  await fake?.close();
  await pool?.end();
  for (const id of made.splice(0)) await databases.drop(id);
  await database?.drop();
});

/** A deployment with a built revision (what the pipeline hands the driver), and one secret. */
async function newDeployment(name: string, egress: string[] = []): Promise<{ row: DeploymentRow; rev: RevisionRow }> {
  const source = { git: { url: "https://example.com/agent.git", ref: "main" }, config_path: "graphs/langgraph.json" };
  const { deploymentId, revisionId } = await store.transaction(async (client) => {
    const row = await store.createDeployment(
      { name, source, env: { MODE: "prod", API_BASE: "https://api.example" }, resources: {}, replicas: 2, sandbox: "GVISOR" },
      client,
    );
    if (!row) throw new Error("name taken");
    await store.putSecret(
      row.deployment_id,
      "OPENAI_API_KEY",
      secretBox.seal("sk-1", row.deployment_id, "OPENAI_API_KEY"),
      "****",
      client,
    );
    const rev = await store.createRevision(row.deployment_id, { status: "AWAITING_BUILD", source }, client);
    return { deploymentId: row.deployment_id, revisionId: rev.revision_id };
  });
  made.push(deploymentId);
  await store.recordBuilt(revisionId, { commitSha: "c1", bundleDigest: DIGEST_1, graphIds: ["agent"], egress });
  return {
    row: (await store.getDeployment(deploymentId)) as DeploymentRow,
    rev: (await store.getRevision(revisionId)) as RevisionRow,
  };
}

/** A newer built revision of a deployment (a push), which becomes its desired one. */
async function newRevision(row: DeploymentRow, digest: string): Promise<RevisionRow> {
  const rev = await store.transaction((client) =>
    store.createRevision(row.deployment_id, { status: "AWAITING_BUILD", source: row.source }, client),
  );
  await store.recordBuilt(rev.revision_id, { commitSha: "c2", bundleDigest: digest, graphIds: ["agent"], egress: [] });
  return (await store.getRevision(rev.revision_id)) as RevisionRow;
}

function desiredOf(row: DeploymentRow, rev: RevisionRow, secrets: Record<string, string> = { OPENAI_API_KEY: "sk-1" }) {
  return {
    deploymentId: row.deployment_id,
    name: row.name,
    revisionId: rev.revision_id,
    revisionNumber: rev.number,
    bundleDigest: rev.bundle_digest,
    configPath: rev.source.config_path,
    egress: rev.egress,
    env: row.env,
    secrets,
    resources: row.resources,
    sandbox: row.sandbox,
    replicas: row.replicas,
    previousUrl: "",
  } satisfies DesiredDataPlane;
}

/** Reports what the last pass saw, and runs one more pass to its end. */
async function step(desired: DesiredDataPlane[]): Promise<ObservedDataPlane[]> {
  const seen = driver.reconcile(desired);
  await driver.settled();
  return seen;
}

/** A pass to its end, then what it saw (reconcile starts one more, also run to its end). */
async function pass(desired: DesiredDataPlane[]): Promise<ObservedDataPlane[]> {
  await step(desired);
  return step(desired);
}

/** The pipeline as the platform runs it (no build to follow), with the driver's pass finished between. */
async function pipeline(): Promise<void> {
  const options = { store, builder: {} as never, driver, secrets: secretBox, logger };
  await pipelinePass(options);
  await driver.settled();
  await pipelinePass(options);
  await driver.settled();
}

const secretData = (name: string) =>
  Object.fromEntries(
    Object.entries((fake.get("v1", "Secret", NS, name)?.data ?? {}) as Record<string, string>).map(([k, v]) => [
      k,
      Buffer.from(v, "base64").toString("utf8"),
    ]),
  );
const agent = (name: string) => fake.get(AGENTS, "AgentDeployment", NS, name);
const writes = () => fake.requests.filter((r) => WRITES.has(r.method));

/** Writes the status as the operator would (through the fake's back door, as a controller's own write). */
function operatorWrites(name: string, status: (cr: FakeObject) => Record<string, unknown>): void {
  const cr = agent(name) as FakeObject;
  fake.put({ ...cr, status: status(cr) });
}

const condition = (type: string, status: string, reason: string, message: string, observedGeneration?: number) => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: "2025-03-01T10:00:00Z",
  ...(observedGeneration !== undefined ? { observedGeneration } : {}),
});

async function databaseExists(id: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: inject("databaseUrl") });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [databaseNameOf(id)]);
    return rowCount === 1;
  } finally {
    await client.end();
  }
}

describe("Kubernetes driver", () => {
  it("creates the three Secrets, the public key's ConfigMap and the AgentDeployment with the expected spec", async () => {
    const { row, rev } = await newDeployment("agent-one");
    const first = driver.reconcile([desiredOf(row, rev)]);
    // At once, from what is known: nothing yet.
    expect(first).toEqual([expect.objectContaining({ phase: "starting", revisionId: rev.revision_id })]);
    await driver.settled();

    expect(secretData("agent-one-database")).toEqual({ url: databases.urlOf(row.deployment_id) });
    expect(await databaseExists(row.deployment_id)).toBe(true);
    // The URL is the deployment's own role on its own database, and it works.
    const own = new pg.Client({ connectionString: secretData("agent-one-database").url });
    await own.connect();
    expect((await own.query<{ db: string; me: string }>("SELECT current_database() AS db, current_user AS me")).rows[0]).toEqual({
      db: databaseNameOf(row.deployment_id),
      me: databaseNameOf(row.deployment_id),
    });
    await own.end();

    expect(secretData("agent-one-secrets")).toEqual({ OPENAI_API_KEY: "sk-1" });

    const credentials = secretData("agent-one-credentials");
    expect(Object.keys(credentials).sort()).toEqual(["bundle-key", "caller-token-sha256", "internal-secret", "runtime-token"]);
    expect(credentials["internal-secret"]).toMatch(/^[0-9a-f]{64}$/);
    expect(credentials["runtime-token"]).toBe(runtimeTokenOf(credentials["internal-secret"] as string));
    expect(credentials["caller-token-sha256"]).toBe(tokenSha256(runtimeCallerTokenOf(credentials["internal-secret"] as string)));
    const key = await store.findApiKey(hashApiKey(credentials["bundle-key"] as string));
    expect(key).toMatchObject({ role: "VIEWER", deployment_id: row.deployment_id, name: BUNDLE_KEY_NAME, revoke_time: null });

    for (const name of ["agent-one-database", "agent-one-secrets", "agent-one-credentials"])
      expect(fake.get("v1", "Secret", NS, name)?.metadata.labels).toEqual({
        "app.kubernetes.io/managed-by": "langopen-control-plane",
        "platform.langopen.dev/deployment-id": row.deployment_id,
      });

    expect(fake.get("v1", "ConfigMap", NS, "langopen-signing-key")?.data).toEqual({ "signing-key.pub.pem": PUBLIC_KEY });

    const cr = agent("agent-one") as FakeObject;
    expect(cr.metadata.labels).toEqual({
      "app.kubernetes.io/managed-by": "langopen-control-plane",
      "platform.langopen.dev/deployment-id": row.deployment_id,
    });
    expect(cr.spec).toEqual({
      deploymentId: row.deployment_id,
      revision: {
        id: rev.revision_id,
        number: 1,
        bundleDigest: DIGEST_1,
        bundleUrl: BUNDLE_URL,
        configPath: "graphs/langgraph.json",
      },
      sandbox: "gvisor",
      env: [
        { name: "API_BASE", value: "https://api.example" },
        { name: "MODE", value: "prod" },
      ],
      secretRefs: ["agent-one-secrets"],
      database: { secretName: "agent-one-database", key: "url" },
      redis: { secretName: "langopen-redis", key: "url" },
      components: { workers: { minReplicas: 2 } },
    });
    expect(cr.status).toBeUndefined();
  });

  it("writes the revision's egress as the AgentDeployment's spec.egress, which the CRD's schema accepts; a redeploy keeps it", async () => {
    const egress = ["api.openai.com:443", "203.0.113.0/24:443,8443"];
    const { row, rev } = await newDeployment("agent-egress", egress);
    expect(rev.egress).toEqual(egress);
    await pipeline();
    const cr = agent("agent-egress") as FakeObject;
    const spec = cr.spec as Record<string, unknown>;
    expect(spec.egress).toEqual([
      { host: "api.openai.com", ports: [443] },
      { cidr: "203.0.113.0/24", ports: [443, 8443] },
    ]);
    expect(agentDeploymentIssues({ apiVersion: cr.apiVersion, kind: cr.kind, metadata: cr.metadata, spec })).toEqual([]);

    // A redeploy (rollback, secret change) runs the same bundle: the same egress, shown in the Revision.
    const redeployed = await store.transaction((client) =>
      store.createRevision(row.deployment_id, { status: "AWAITING_DEPLOY", source: row.source, redeployOf: rev }, client),
    );
    expect(redeployed.egress).toEqual(egress);
    expect(revisionMessage(redeployed).egress).toEqual(egress);
    await pipeline();
    expect(agent("agent-egress")?.spec).toMatchObject({ revision: { id: redeployed.revision_id }, egress: spec.egress });
  });

  it("leaves out of spec.egress an entry that does not parse, and says so", () => {
    const warn = vi.fn();
    const d: DesiredDataPlane = {
      deploymentId: "00000000-0000-4000-8000-000000000001",
      name: "agent-odd",
      revisionId: "00000000-0000-4000-8000-000000000002",
      revisionNumber: 1,
      bundleDigest: DIGEST_1,
      configPath: "langgraph.json",
      egress: ["[2001:db8::]/32:443", "not a host:443"],
      env: {},
      secrets: {},
      resources: {},
      sandbox: "GVISOR",
      replicas: 1,
      previousUrl: "",
    };
    const spec = agentDeploymentSpec(d, { bundleUrl: BUNDLE_URL, logger: { warn } as unknown as Logger });
    expect(spec.egress).toEqual([{ cidr: "2001:db8::/32", ports: [443] }]);
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ deployment: "agent-odd", why: expect.stringContaining('"not a host:443"') }),
      "Left out egress entry of revision",
    );
    expect(agentDeploymentSpec({ ...d, egress: [] }, { bundleUrl: BUNDLE_URL })).not.toHaveProperty("egress");
  });

  it("writes nothing on a second pass over the same deployments, and keeps the credentials", async () => {
    const { row, rev } = await newDeployment("agent-two");
    await pass([desiredOf(row, rev)]);
    const before = secretData("agent-two-credentials");
    fake.requests.length = 0;

    await pass([desiredOf(row, rev)]);
    expect(fake.requests.length).toBeGreaterThan(0); // it did look
    expect(writes()).toEqual([]);

    // A new driver (the control plane restarted) keeps them too, and issues no new key.
    await driver.stop();
    driver = newDriver();
    fake.requests.length = 0;
    await pass([desiredOf(row, rev)]);
    expect(writes()).toEqual([]);
    expect(secretData("agent-two-credentials")).toEqual(before);
    expect((await store.listApiKeys(true, row.deployment_id)).map((k) => k.name)).toEqual([BUNDLE_KEY_NAME]);
  });

  it("replaces only the AgentDeployment's spec when the revision changes, and the secrets' Secret when they change", async () => {
    const { row, rev } = await newDeployment("agent-three");
    await pass([desiredOf(row, rev)]);
    // The operator has acted on it and added its finalizer; the new spec must keep both.
    operatorWrites("agent-three", (cr) => ({
      observedGeneration: cr.metadata.generation,
      currentRevision: rev.revision_id,
      conditions: [condition("Ready", "True", "Available", "serving")],
    }));
    const cr = agent("agent-three") as FakeObject;
    fake.put({ ...cr, metadata: { ...cr.metadata, finalizers: ["platform.langopen.dev/drain"] } });
    const secretsVersion = fake.get("v1", "Secret", NS, "agent-three-database")?.metadata.resourceVersion;
    fake.requests.length = 0;

    const rev2 = await newRevision(row, DIGEST_2);
    await pass([desiredOf(row, rev2)]);
    expect(writes().map((r) => `${r.method} ${r.path}`)).toEqual([
      `PUT /apis/platform.langopen.dev/v1alpha1/namespaces/${NS}/agentdeployments/agent-three`,
    ]);
    const after = agent("agent-three") as FakeObject;
    expect(after.metadata.generation).toBe(2);
    expect(after.metadata.finalizers).toEqual(["platform.langopen.dev/drain"]);
    expect(after.spec).toMatchObject({ revision: { id: rev2.revision_id, number: 2, bundleDigest: DIGEST_2 } });
    expect(after.status).toMatchObject({ currentRevision: rev.revision_id });
    expect(fake.get("v1", "Secret", NS, "agent-three-database")?.metadata.resourceVersion).toBe(secretsVersion);

    fake.requests.length = 0;
    await pass([desiredOf(row, rev2, { OPENAI_API_KEY: "sk-2", OTHER: "x" })]);
    expect(writes().map((r) => `${r.method} ${r.path}`)).toEqual([`PUT /api/v1/namespaces/${NS}/secrets/agent-three-secrets`]);
    expect(secretData("agent-three-secrets")).toEqual({ OPENAI_API_KEY: "sk-2", OTHER: "x" });
  });

  it("maps the operator's status to phases: starting, ready, restarting, failed; a stale status is starting", async () => {
    const { row, rev } = await newDeployment("agent-four");
    const desired = [desiredOf(row, rev)];
    await pass(desired);
    const observe = async (status: (cr: FakeObject) => Record<string, unknown>) => {
      operatorWrites("agent-four", status);
      const [seen] = await pass(desired);
      return seen as ObservedDataPlane;
    };

    const rollingOut = await observe((cr) => ({
      observedGeneration: cr.metadata.generation,
      conditions: [
        condition("Ready", "False", "RollingOut", "waiting for the workers", 1),
        condition("Progressing", "True", "RollingOut", "1 of 2 workers ready", 1),
        condition("Degraded", "False", "AsExpected", "", 1),
      ],
    }));
    expect(rollingOut).toMatchObject({ phase: "starting", revisionId: rev.revision_id, message: "1 of 2 workers ready" });

    const ready = await observe((cr) => ({
      observedGeneration: cr.metadata.generation,
      currentRevision: rev.revision_id,
      url: "http://agent-four.langopen.svc:8123",
      backlog: 3,
      components: { workers: { replicas: 2, readyReplicas: 2 } },
      conditions: [
        condition("Ready", "True", "Available", "the data plane serves", 1),
        condition("Progressing", "False", "Complete", "", 1),
        condition("Degraded", "False", "AsExpected", "", 1),
      ],
    }));
    expect(ready).toMatchObject({
      phase: "ready",
      revisionId: rev.revision_id,
      url: "http://agent-four.langopen.svc:8123",
      backlog: 3,
      components: { workers: { replicas: 2, readyReplicas: 2 } },
    });
    expect(ready.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}`)).toEqual([
      "Ready=True/Available",
      "Progressing=False/Complete",
      "Degraded=False/AsExpected",
    ]);

    const restarting = await observe((cr) => ({
      observedGeneration: cr.metadata.generation,
      currentRevision: rev.revision_id,
      conditions: [
        condition("Ready", "False", "Unavailable", "0 of 2 workers ready", 1),
        condition("Degraded", "True", "Unavailable", "workers crash: OOMKilled", 1),
      ],
    }));
    expect(restarting).toMatchObject({ phase: "restarting", message: "workers crash: OOMKilled" });

    const failed = await observe((cr) => ({
      observedGeneration: cr.metadata.generation,
      currentRevision: "an-older-revision",
      conditions: [
        condition("Progressing", "False", "RevisionFailed", "the revision failed", 1),
        condition("Degraded", "True", "RevisionFailed", "runtime pods not ready in 300s: bundle signature invalid", 1),
      ],
    }));
    expect(failed).toMatchObject({ phase: "failed", message: "runtime pods not ready in 300s: bundle signature invalid" });

    // The failure was of an earlier generation of the spec: not this one's.
    const earlierFailure = await observe((cr) => ({
      observedGeneration: cr.metadata.generation,
      currentRevision: "an-older-revision",
      conditions: [condition("Degraded", "True", "RevisionFailed", "an older failure", 0)],
    }));
    expect(earlierFailure.phase).toBe("starting");

    // The operator has not seen the spec's generation yet: whatever its status says is about an older one.
    const stale = await observe((cr) => ({
      observedGeneration: (cr.metadata.generation as number) - 1,
      currentRevision: rev.revision_id,
      conditions: [condition("Ready", "True", "Available", "serving", 0)],
    }));
    expect(stale).toMatchObject({ phase: "starting", revisionId: rev.revision_id });
    expect(stale.message).toContain("generation 1");
  });

  it("carries the conditions to the deployment's row and the Deployment RPC; a failed revision gives the deployment back to the previous one", async () => {
    const { row, rev } = await newDeployment("agent-five");
    await pipeline();
    expect(agent("agent-five")?.spec).toMatchObject({ revision: { id: rev.revision_id } });
    operatorWrites("agent-five", (cr) => ({
      observedGeneration: cr.metadata.generation,
      currentRevision: rev.revision_id,
      url: "http://agent-five.langopen.svc:8123",
      conditions: [
        condition("Ready", "True", "Available", "the data plane serves", 1),
        condition("Progressing", "False", "Complete", "", 1),
        condition("Degraded", "False", "AsExpected", "", 1),
      ],
    }));
    await pipeline();
    const served = (await store.getDeployment(row.deployment_id)) as DeploymentRow;
    expect(served).toMatchObject({
      status: "READY",
      current_revision_id: rev.revision_id,
      url: "http://agent-five.langopen.svc:8123",
    });
    expect(served.conditions).toEqual([
      {
        type: "Ready",
        status: "True",
        reason: "Available",
        message: "the data plane serves",
        last_transition_time: "2025-03-01T10:00:00Z",
      },
      { type: "Progressing", status: "False", reason: "Complete", message: "", last_transition_time: "2025-03-01T10:00:00Z" },
      { type: "Degraded", status: "False", reason: "AsExpected", message: "", last_transition_time: "2025-03-01T10:00:00Z" },
    ]);
    expect((await store.getRevision(rev.revision_id))?.status).toBe("DEPLOYED");

    // The Deployment RPC returns them.
    const admin = newApiKey();
    await store.insertApiKey({
      name: "admin",
      role: "ADMIN",
      deploymentId: null,
      prefix: admin.prefix,
      sha256: admin.sha256,
      createdBy: "",
    });
    const transport = createRouterTransport((router) =>
      registerControlServices(router, {
        store,
        secrets: secretBox,
        logs: {} as never,
        logger,
        wake: () => {},
        defaultSandbox: "GVISOR",
        verifyCacheSeconds: 1,
        bundleDir: "/nonexistent",
      }),
    );
    const client = createClient(DeploymentService, transport);
    const { deployment } = await client.getDeployment(
      { deployment: "agent-five" },
      { headers: { authorization: `Bearer ${admin.key}` } },
    );
    expect(deployment?.status).toBe(DeploymentStatus.READY);
    expect(deployment?.conditions.map((c) => [c.type, c.status, c.reason, c.message])).toEqual([
      ["Ready", "True", "Available", "the data plane serves"],
      ["Progressing", "False", "Complete", ""],
      ["Degraded", "False", "AsExpected", ""],
    ]);
    expect(deployment?.conditions[0]?.lastTransitionTime?.seconds).toBe(BigInt(Date.parse("2025-03-01T10:00:00Z") / 1000));

    // Revision 2 fails on the cluster: the deployment goes back to revision 1, whose spec returns.
    const rev2 = await newRevision(row, DIGEST_2);
    await pipeline();
    expect(agent("agent-five")?.spec).toMatchObject({ revision: { id: rev2.revision_id } });
    operatorWrites("agent-five", (cr) => ({
      observedGeneration: cr.metadata.generation,
      currentRevision: rev.revision_id,
      url: "http://agent-five.langopen.svc:8123",
      conditions: [
        condition("Ready", "True", "Available", "revision 1 serves", 2),
        condition("Progressing", "False", "RevisionFailed", "revision 2 failed", 2),
        condition(
          "Degraded",
          "True",
          "RevisionFailed",
          "runtime pods of revision 2 were not ready within 300s: CrashLoopBackOff",
          2,
        ),
      ],
    }));
    await pipeline();
    expect(await store.getRevision(rev2.revision_id)).toMatchObject({
      status: "DEPLOY_FAILED",
      status_message: "runtime pods of revision 2 were not ready within 300s: CrashLoopBackOff",
    });
    const after = (await store.getDeployment(row.deployment_id)) as DeploymentRow;
    expect(after).toMatchObject({
      status: "DEGRADED",
      desired_revision_id: rev.revision_id,
      current_revision_id: rev.revision_id,
    });
    expect(after.conditions.map((c) => c.reason)).toEqual(["Available", "RevisionFailed", "RevisionFailed"]);
    await pipeline();
    expect(agent("agent-five")?.spec).toMatchObject({ revision: { id: rev.revision_id, number: 1 } });
  });

  it("deletes the AgentDeployment of a deleted deployment, waits for the operator's finalizer, then drops its database and Secrets", async () => {
    const { row } = await newDeployment("agent-six");
    await pipeline();
    const cr = agent("agent-six") as FakeObject;
    expect(cr).toBeDefined();
    fake.put({ ...cr, metadata: { ...cr.metadata, finalizers: ["platform.langopen.dev/drain"] } });
    expect(await databaseExists(row.deployment_id)).toBe(true);

    await store.transaction((client) => store.markDeleted(row.deployment_id, client));
    fake.requests.length = 0;
    await pipeline();
    expect(writes().map((r) => `${r.method} ${r.path}`)).toEqual([
      `DELETE /apis/platform.langopen.dev/v1alpha1/namespaces/${NS}/agentdeployments/agent-six`,
    ]);
    // The operator holds it while the workers drain: the data plane still uses its database.
    expect(agent("agent-six")?.metadata.deletionTimestamp).toBeDefined();
    await pipeline();
    expect(driver.isStopped(row.deployment_id)).toBe(false);
    expect(await databaseExists(row.deployment_id)).toBe(true);
    expect(fake.get("v1", "Secret", NS, "agent-six-database")).toBeDefined();
    expect(await store.listForDriver()).toHaveLength(1);

    // Drained: the operator lets go of it (as a controller does, through the API).
    const api = fake.kubeConfig(NS).makeApiClient(CustomObjectsApi);
    const held = agent("agent-six") as FakeObject;
    await api.replaceNamespacedCustomObject({
      group: "platform.langopen.dev",
      version: "v1alpha1",
      namespace: NS,
      plural: "agentdeployments",
      name: "agent-six",
      body: { ...held, metadata: { ...held.metadata, finalizers: [] } },
    });
    expect(agent("agent-six")).toBeUndefined();

    await pipeline();
    expect(driver.isStopped(row.deployment_id)).toBe(true);
    expect(await databaseExists(row.deployment_id)).toBe(false);
    for (const name of ["agent-six-database", "agent-six-secrets", "agent-six-credentials"])
      expect(fake.get("v1", "Secret", NS, name)).toBeUndefined();
    // The ConfigMap is the platform's: it stays.
    expect(fake.get("v1", "ConfigMap", NS, "langopen-signing-key")).toBeDefined();
    expect(await store.listForDriver()).toEqual([]);
  });

  it("works with the real operator on the same API server: READY with its conditions, a drained switch, a drained delete", async () => {
    fake.setKubelet(true);
    const operator = await startOperator({
      kubeConfig: fake.kubeConfig(NS),
      settings: {
        image: "ghcr.io/langopen/langopen:0.1.0",
        controlPlaneUrl: BUNDLE_URL,
        controlPlane: {
          to: [{ podSelector: { matchLabels: { "app.kubernetes.io/component": "control-plane" } } }],
          ports: [{ port: 8130 }],
        },
        dependencies: [{ to: [{ ipBlock: { cidr: "10.20.0.0/16" } }], ports: [{ port: 5432 }] }],
        publicKeyConfigMap: "langopen-signing-key",
        credentialsSecret: "{name}-credentials",
        prometheusUrl: "http://prometheus:9090",
        urlTemplate: "https://{name}.agents.example.com",
        leaseName: "langopen-operator",
        watchNamespace: NS,
      },
      identity: "operator-0",
      leaseNamespace: NS,
      leaderElection: false,
      host: "127.0.0.1",
      port: 0,
      logger,
      backlog: async () => 0,
    });
    try {
      const settle = (what: string, done: (row: DeploymentRow) => boolean) =>
        until(
          async () => {
            await pipeline();
            const row = (await store.getDeployment(what)) as DeploymentRow | undefined;
            return row && done(row) && row;
          },
          what,
          { timeoutMs: 20_000, intervalMs: 100 },
        );
      const { row, rev } = await newDeployment("together");
      const ready = await settle(row.deployment_id, (r) => r.status === "READY");
      expect(ready).toMatchObject({ current_revision_id: rev.revision_id, url: "https://together.agents.example.com" });
      expect(ready.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`)).toEqual([
        "Ready=True/Available",
        "Progressing=False/Complete",
        "Degraded=False/AsExpected",
      ]);
      expect((await store.getRevision(rev.revision_id))?.status).toBe("DEPLOYED");
      // The operator rendered the data plane from the control plane's spec and Secrets.
      const gateway = fake.get("apps/v1", "Deployment", NS, "together-gateway") as FakeObject & {
        spec: { template: { spec: { containers: Array<{ env: Array<{ name: string; valueFrom?: unknown }> }> } } };
      };
      expect(gateway.spec.template.spec.containers[0]?.env.find((e) => e.name === "LANGOPEN_INTERNAL_SECRET")?.valueFrom).toEqual(
        {
          secretKeyRef: { name: "together-credentials", key: "internal-secret" },
        },
      );
      expect(fake.get("v1", "Secret", NS, "together-credentials")).toBeDefined();

      // A push: the operator drains, switches, and the control plane records the new revision serving.
      const rev2 = await newRevision(row, DIGEST_2);
      await settle(row.deployment_id, (r) => r.current_revision_id === rev2.revision_id && r.status === "READY");
      expect((await store.getRevision(rev2.revision_id))?.status).toBe("DEPLOYED");
      expect(agent("together")?.status).toMatchObject({ currentRevision: rev2.revision_id, previousRevision: rev.revision_id });

      // Deleted: the operator drains under its finalizer, then the control plane drops the database.
      await store.transaction((client) => store.markDeleted(row.deployment_id, client));
      await until(
        async () => {
          await pipeline();
          return (await store.listForDriver()).length === 0;
        },
        "the deployment to be purged",
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      expect(agent("together")).toBeUndefined();
      expect(fake.list("apps/v1", "Deployment", NS)).toEqual([]);
      expect(await databaseExists(row.deployment_id)).toBe(false);
    } finally {
      await operator.stop();
    }
  });

  it("deletes AgentDeployments of deployments no longer desired, and only its own", async () => {
    const { row, rev } = await newDeployment("agent-seven");
    await pass([desiredOf(row, rev)]);
    fake.put({
      apiVersion: AGENTS,
      kind: "AgentDeployment",
      metadata: { name: "someone-elses", namespace: NS, labels: { team: "x" } },
      spec: { deploymentId: "00000000-0000-4000-8000-000000000000" },
    });
    expect(driver.isStopped(row.deployment_id)).toBe(false);
    await pass([]);
    expect(agent("agent-seven")).toBeUndefined();
    expect(agent("someone-elses")).toBeDefined();
    await pass([]);
    expect(driver.isStopped(row.deployment_id)).toBe(true);
  });

  it("never throws when the API server fails; says so in the observation and retries on the next pass", async () => {
    const { row, rev } = await newDeployment("agent-eight");
    const desired = [desiredOf(row, rev)];

    // Pass 1 cannot read; pass 2 cannot create the AgentDeployment; pass 3 can.
    fake.failNext((r) => r.method === "GET" && r.path.endsWith("/agentdeployments"), 500, "etcd is down");
    expect(() => driver.reconcile(desired)).not.toThrow();
    await driver.settled();
    expect(fake.requests.filter((r) => WRITES.has(r.method))).toEqual([]);
    fake.failNext((r) => r.method === "POST" && r.path.endsWith("/agentdeployments"), 403, "agentdeployments is forbidden");
    const [unread] = await step(desired);
    expect(unread).toMatchObject({ phase: "starting", revisionId: rev.revision_id });
    expect(unread?.message).toContain("500");
    expect(unread?.message).toContain("etcd is down");
    expect(fake.get("v1", "Secret", NS, "agent-eight-database")).toBeDefined();
    expect(agent("agent-eight")).toBeUndefined();

    const [unwritten] = await step(desired);
    expect(unwritten).toMatchObject({ phase: "starting", revisionId: rev.revision_id });
    expect(unwritten?.message).toContain("AgentDeployment agent-eight");
    expect(unwritten?.message).toContain("403");
    expect(agent("agent-eight")).toBeDefined();
    const [written] = await step(desired);
    expect(written?.message).not.toContain("403");

    // A conflict on replace (the operator wrote in between) is no error: the next pass replaces it.
    const rev2 = await newRevision(row, DIGEST_2);
    fake.failNext((r) => r.method === "PUT" && r.path.endsWith("/agentdeployments/agent-eight"), 409);
    await step([desiredOf(row, rev2)]);
    expect(agent("agent-eight")?.spec).toMatchObject({ revision: { id: rev.revision_id } });
    const [conflicted] = await step([desiredOf(row, rev2)]);
    expect(conflicted?.message).not.toContain("409");
    expect(agent("agent-eight")?.spec).toMatchObject({ revision: { id: rev2.revision_id } });

    // A server error on replace is: it shows, and the next pass tries again.
    const rev3 = await newRevision(row, DIGEST_1);
    fake.failNext(
      (r) => r.method === "PUT" && r.path.endsWith("/agentdeployments/agent-eight"),
      503,
      "the server is shutting down",
    );
    await step([desiredOf(row, rev3)]);
    expect(agent("agent-eight")?.spec).toMatchObject({ revision: { id: rev2.revision_id } });
    const [refused] = await step([desiredOf(row, rev3)]);
    expect(refused).toMatchObject({ phase: "starting", revisionId: rev3.revision_id });
    expect(refused?.message).toContain("503");
    expect(agent("agent-eight")?.spec).toMatchObject({ revision: { id: rev3.revision_id } });

    // Nobody answers at all.
    await driver.stop();
    const gone = await startFakeKube();
    const unreachable = gone.kubeConfig(NS);
    await gone.close();
    driver = newDriver(unreachable);
    let observed: ObservedDataPlane[] = [];
    expect(() => {
      observed = driver.reconcile(desired);
    }).not.toThrow();
    expect(observed[0]?.phase).toBe("starting");
    await driver.settled();
    const [down] = driver.reconcile(desired);
    expect(down?.message).toMatch(/ECONNREFUSED|connect/i);
    expect(driver.isStopped(row.deployment_id)).toBe(false);
    await driver.settled();
  });

  it("says so when the deployment's database cannot be made, and writes nothing of it", async () => {
    const { row, rev } = await newDeployment("agent-ten");
    await driver.stop();
    driver = new KubernetesDriver({
      kubeConfig: fake.kubeConfig(NS),
      namespace: NS,
      databases: new DeploymentDatabases({ adminDatabaseUrl: "postgres://postgres@127.0.0.1:1/postgres", secretBox }),
      bundleKeys: createBundleKeyIssuer(store),
      publicKeyPem: PUBLIC_KEY,
      publicKeyConfigMap: "langopen-signing-key",
      bundleUrl: BUNDLE_URL,
      logger,
    });
    const [seen] = await pass([desiredOf(row, rev)]);
    expect(seen).toMatchObject({ phase: "starting", revisionId: rev.revision_id });
    expect(seen?.message).toMatch(/^could not provide its database: .*ECONNREFUSED.*; retrying$/);
    expect(fake.get("v1", "Secret", NS, "agent-ten-database")).toBeUndefined();
    expect(agent("agent-ten")).toBeUndefined();
  });

  it("runs one pass at a time: calls during a pass ask for one more, not one each", async () => {
    const { row, rev } = await newDeployment("agent-nine");
    const desired = [desiredOf(row, rev)];
    for (let i = 0; i < 20; i++) driver.reconcile(desired);
    await driver.settled();
    const lists = fake.requests.filter((r) => r.method === "GET" && r.path.endsWith("/agentdeployments"));
    expect(lists.length).toBeLessThanOrEqual(2);
    expect(agent("agent-nine")).toBeDefined();
  });
});

describe("composition", () => {
  const platformOptions = (dataDir: string, databaseUrl: string | undefined) => ({
    host: "127.0.0.1",
    port: 0,
    dataDir,
    databaseUrl,
    buildTimeoutSeconds: 60,
    buildConcurrency: 1,
    defaultSandbox: "KATA" as const,
    drainMs: 1_000,
    keyCacheSeconds: 1,
    loopMs: 100,
  });

  it("LANGOPEN_DRIVER=kubernetes runs the Kubernetes driver in the given namespace, with the platform's public key", async () => {
    const dataDir = await makeTempDir("platform");
    const platform = await startPlatform(
      {
        ...platformOptions(dataDir, database.url),
        driver: "kubernetes",
        publicControlUrl: BUNDLE_URL,
        kubernetes: { kubeConfig: fake.kubeConfig(), namespace: "tenants", publicKeyConfigMap: "platform-key" },
      },
      logger,
    );
    try {
      const configMap = await until(async () => fake.get("v1", "ConfigMap", "tenants", "platform-key"), "the ConfigMap", {
        timeoutMs: 10_000,
      });
      expect(configMap.data).toEqual({
        "signing-key.pub.pem": await readFile(path.join(dataDir, "signing-key.pub.pem"), "utf8"),
      });
    } finally {
      await platform.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it("refuses the kata sandbox without Kubernetes, and Kubernetes without DATABASE_URL", async () => {
    const dataDir = await makeTempDir("platform");
    try {
      await expect(startPlatform(platformOptions(dataDir, database.url), logger)).rejects.toThrow(
        /kata sandbox runs only on Kubernetes/,
      );
      await expect(startPlatform({ ...platformOptions(dataDir, undefined), driver: "kubernetes" }, logger)).rejects.toThrow(
        /needs DATABASE_URL/,
      );
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("migrate subcommand", () => {
  it("applies the control plane's migrations to DATABASE_URL and exits 0", async () => {
    const fresh = await createTestDatabase(inject("databaseUrl"));
    try {
      const { stdout } = await exec(process.execPath, [MAIN, "migrate"], {
        env: { PATH: process.env.PATH, DATABASE_URL: fresh.url, LOG_LEVEL: "info" },
        timeout: 60_000,
      });
      expect(stdout).toContain("Migrated");
      const client = new pg.Client({ connectionString: fresh.url });
      await client.connect();
      try {
        const tables = await client.query<{ table_name: string }>(
          "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
        );
        expect(tables.rows.map((r) => r.table_name)).toEqual(
          expect.arrayContaining(["api_keys", "audit_events", "deployments", "revisions", "secrets"]),
        );
        const column = await client.query(
          "SELECT 1 FROM information_schema.columns WHERE table_name = 'deployments' AND column_name = 'conditions'",
        );
        expect(column.rowCount).toBe(1);
      } finally {
        await client.end();
      }
      // Again: nothing left to do, still 0.
      await exec(process.execPath, [MAIN, "migrate"], {
        env: { PATH: process.env.PATH, DATABASE_URL: fresh.url },
        timeout: 60_000,
      });
    } finally {
      await fresh.drop();
    }
  }, 120_000);

  it("exits non-zero with a clear message when the database cannot be reached or is not given", async () => {
    const failure = await exec(process.execPath, [MAIN, "migrate"], {
      env: { PATH: process.env.PATH, DATABASE_URL: "postgres://nobody@127.0.0.1:1/nothing" },
      timeout: 60_000,
    }).then(
      () => undefined,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain("Could not migrate the control plane's database");
    expect(failure?.stderr).toContain("ECONNREFUSED");

    const missing = await exec(process.execPath, [MAIN, "migrate"], { env: { PATH: process.env.PATH }, timeout: 60_000 }).then(
      () => undefined,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(missing?.code).toBe(1);
    expect(missing?.stderr).toContain("migrate needs DATABASE_URL");
  }, 120_000);
});
