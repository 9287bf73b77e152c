// The operator through the real @kubernetes/client-node against the in-process fake API server
// (no real API server runs in CI): reconcile, drain before a revision switch, deletion behind the
// drain finalizer, conflicts and outages, prune, leader election.
import { Writable } from "node:stream";
import { createLogger, type Logger } from "@langopen/common";
import { FAKE_KUBE_KINDS, type FakeKube, type FakeObject, startFakeKube, until } from "@langopen/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { type Operator, startOperator } from "./compose.js";
import type { OperatorSettingsFile } from "./config.js";
import type { AgentDeployment } from "./generated/agent-deployment.js";
import { Kube } from "./kube.js";
import { LeaderElection } from "./leader.js";
import { DRAIN_FINALIZER } from "./reconcile.js";

const logger = createLogger({ service: "test", level: "silent" });
const NS = "agents";
const AGD = "platform.langopen.dev/v1alpha1";
const SETTINGS: OperatorSettingsFile = {
  image: "ghcr.io/langopen/langopen:0.1.0",
  controlPlaneUrl: "http://langopen-control-plane.langopen.svc:8130",
  controlPlane: {
    to: [{ podSelector: { matchLabels: { "app.kubernetes.io/component": "control-plane" } } }],
    ports: [{ port: 8130 }],
  },
  dependencies: [{ to: [{ ipBlock: { cidr: "10.20.0.0/16" } }], ports: [{ port: 5432 }, { port: 6379 }] }],
  publicKeyConfigMap: "langopen-signing-key",
  credentialsSecret: "{name}-credentials",
  prometheusUrl: "http://prometheus.monitoring.svc:9090",
  urlTemplate: "https://{name}.{namespace}.agents.example.com",
  leaseName: "langopen-operator",
  watchNamespace: NS,
};
const REV = (n: number) => ({
  id: `rev-${n}`,
  number: n,
  bundleDigest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  bundleUrl: "http://langopen-control-plane.langopen.svc:8130",
});

function resource(name: string, spec: Partial<AgentDeployment["spec"]> = {}): AgentDeployment {
  return {
    apiVersion: AGD,
    kind: "AgentDeployment",
    metadata: { name, namespace: NS },
    spec: {
      deploymentId: "df6db9a1-0489-4e00-95f0-322a02251be9",
      revision: REV(1),
      database: { secretName: `${name}-database`, key: "url" },
      ...spec,
    },
  };
}

let fake: FakeKube | undefined;
const operators: Operator[] = [];
afterEach(async () => {
  for (const op of operators.splice(0)) await op.stop();
  await fake?.close();
  fake = undefined;
});

async function setup(options: { kubelet?: boolean; kinds?: typeof FAKE_KUBE_KINDS; backlog?: number } = {}) {
  fake = await startFakeKube({ kubelet: options.kubelet ?? true, kinds: options.kinds ? [...options.kinds] : undefined });
  const kube = new Kube(fake.kubeConfig(NS));
  return { fake, kube };
}

async function operator(
  extra: {
    identity?: string;
    leaderElection?: boolean;
    backlog?: number;
    resolve?: (host: string) => Promise<string[]>;
    logger?: Logger;
  } = {},
): Promise<Operator> {
  if (!fake) throw new Error("setup first");
  const op = await startOperator({
    kubeConfig: fake.kubeConfig(NS),
    settings: SETTINGS,
    identity: extra.identity ?? "operator-0",
    leaseNamespace: "langopen",
    leaderElection: extra.leaderElection ?? false,
    host: "127.0.0.1",
    port: 0,
    logger: extra.logger ?? logger,
    backlog: async () => extra.backlog ?? 3,
    resolve: extra.resolve ?? (async (host) => Promise.reject(new Error(`${host}: no DNS in this test`))),
    leaseSeconds: 2,
    retryMs: 150,
  });
  operators.push(op);
  return op;
}

const agdOf = (name: string) => fake?.get(AGD, "AgentDeployment", NS, name) as (FakeObject & AgentDeployment) | undefined;
const deploymentOf = (name: string) =>
  fake?.get("apps/v1", "Deployment", NS, name) as
    | (FakeObject & {
        spec: { replicas: number; template: { metadata: { labels: Record<string, string> } } };
        status?: Record<string, unknown>;
      })
    | undefined;
const revisionOf = (name: string) => deploymentOf(name)?.spec.template.metadata.labels["platform.langopen.dev/revision"];
const condition = (name: string, type: string) => agdOf(name)?.status?.conditions?.find((c) => c.type === type);
const isWrite = (method: string) => method !== "GET";

/** Plays the kubelet for one Deployment: `replicas` pods exist, all of the current template, all ready. */
function settle(name: string, replicas?: number) {
  const d = deploymentOf(name);
  if (!d || !fake) throw new Error(`no Deployment ${name}`);
  const n = replicas ?? d.spec.replicas;
  fake.put({
    ...d,
    status: {
      observedGeneration: d.metadata.generation,
      replicas: n,
      updatedReplicas: n,
      readyReplicas: n,
      availableReplicas: n,
    },
  });
}

describe("operator reconcile", () => {
  it("turns a new AgentDeployment into its data plane, holds the drain finalizer and reports the status contract", async () => {
    const { kube } = await setup();
    await operator();
    const created = await kube.create(resource("support-bot") as never);
    const ready = await until(async () => condition("support-bot", "Ready")?.status === "True" && agdOf("support-bot"), "Ready", {
      timeoutMs: 15_000,
    });
    expect(ready.metadata.finalizers).toContain(DRAIN_FINALIZER);
    expect(ready.status).toMatchObject({
      observedGeneration: ready.metadata.generation,
      currentRevision: "rev-1",
      url: "https://support-bot.agents.agents.example.com",
      backlog: 3,
      components: {
        gateway: { replicas: 2, readyReplicas: 2 },
        apiServer: { replicas: 2, readyReplicas: 2 },
        workers: { replicas: 1, readyReplicas: 1 },
        runtimes: { replicas: 1, readyReplicas: 1 },
      },
    });
    expect(ready.status?.previousRevision).toBeUndefined();
    expect(ready.status?.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ["Ready", "True", "Available"],
      ["Progressing", "False", "Complete"],
      ["Degraded", "False", "AsExpected"],
    ]);
    const kinds = (kind: string, apiVersion: string) =>
      fake
        ?.list(apiVersion, kind, NS)
        .map((o) => o.metadata.name)
        .sort();
    expect(kinds("Deployment", "apps/v1")).toEqual(["api-server", "gateway", "runtime", "worker"].map((c) => `support-bot-${c}`));
    expect(kinds("Service", "v1")).toEqual(["api-server", "gateway", "runtime"].map((c) => `support-bot-${c}`));
    expect(kinds("ScaledObject", "keda.sh/v1alpha1")).toEqual(["support-bot-runtime", "support-bot-worker"]);
    expect(kinds("NetworkPolicy", "networking.k8s.io/v1")).toHaveLength(4);
    expect(kinds("ServiceAccount", "v1")).toEqual(["support-bot-data-plane"]);
    // Every object is owned by the resource (garbage-collected with it).
    for (const kind of [
      ["apps/v1", "Deployment"],
      ["v1", "Service"],
      ["keda.sh/v1alpha1", "ScaledObject"],
      ["policy/v1", "PodDisruptionBudget"],
    ] as const) {
      for (const o of fake?.list(kind[0], kind[1], NS) ?? []) {
        expect(o.metadata.ownerReferences?.[0]).toMatchObject({
          uid: created.metadata.uid,
          controller: true,
          kind: "AgentDeployment",
        });
      }
    }
  });

  it("writes nothing when nothing changed, and puts back what someone deleted", async () => {
    const { fake } = await setup();
    const op = await operator();
    await new Kube(fake.kubeConfig(NS)).create(resource("quiet") as never);
    await until(async () => condition("quiet", "Ready")?.status === "True", "Ready", { timeoutMs: 15_000 });
    const writesBefore = fake.requests.filter((r) => isWrite(r.method)).length;
    for (let i = 0; i < 3; i++) {
      op.controller.enqueue(NS, "quiet");
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(fake.requests.filter((r) => isWrite(r.method)).length).toBe(writesBefore);
    fake.remove("v1", "Service", NS, "quiet-gateway");
    op.controller.enqueue(NS, "quiet");
    await until(async () => fake.get("v1", "Service", NS, "quiet-gateway"), "the Service to be put back", { timeoutMs: 10_000 });
  });

  it("drains the old revision's workers before it switches anything to the new revision", async () => {
    const { fake, kube } = await setup();
    await operator();
    await kube.create(resource("roll") as never);
    await until(async () => agdOf("roll")?.status?.currentRevision === "rev-1", "rev-1 serving", { timeoutMs: 15_000 });
    fake.setKubelet(false);
    const live = agdOf("roll") as FakeObject & AgentDeployment;
    await kube.replace({ ...live, spec: { ...live.spec, revision: REV(2) } } as never);

    await until(async () => deploymentOf("roll-worker")?.spec.replicas === 0, "the workers to be scaled to 0", {
      timeoutMs: 10_000,
    });
    expect(fake.get("keda.sh/v1alpha1", "ScaledObject", NS, "roll-worker")).toBeUndefined();
    await until(async () => condition("roll", "Progressing")?.reason === "Draining", "Draining", { timeoutMs: 10_000 });
    // The worker pods are still finishing: nothing switches meanwhile.
    await new Promise((r) => setTimeout(r, 1_000));
    for (const c of ["gateway", "api-server", "worker", "runtime"]) expect(revisionOf(`roll-${c}`)).toBe("rev-1");
    expect(agdOf("roll")?.status?.currentRevision).toBe("rev-1");

    settle("roll-worker", 0); // the last worker pod exited (its runs finished or handed back)
    await until(
      async () => ["gateway", "api-server", "worker", "runtime"].every((c) => revisionOf(`roll-${c}`) === "rev-2"),
      "the switch",
      { timeoutMs: 10_000 },
    );
    expect(deploymentOf("roll-worker")?.spec.replicas).toBe(1);
    await until(async () => fake.get("keda.sh/v1alpha1", "ScaledObject", NS, "roll-worker"), "the worker autoscaler back", {
      timeoutMs: 10_000,
    });
    await until(async () => condition("roll", "Ready")?.reason === "RollingOut", "Ready False, RollingOut", {
      timeoutMs: 10_000,
    });
    expect(condition("roll", "Ready")?.status).toBe("False");

    for (const c of ["gateway", "api-server", "worker", "runtime"]) settle(`roll-${c}`);
    await until(async () => condition("roll", "Ready")?.status === "True", "Ready on rev-2", { timeoutMs: 10_000 });
    expect(agdOf("roll")?.status).toMatchObject({ currentRevision: "rev-2", previousRevision: "rev-1" });
  });

  it("reports a revision whose pods never become ready as RevisionFailed, with Kubernetes' reason", async () => {
    const { fake, kube } = await setup();
    await operator();
    await kube.create(resource("broken") as never);
    await until(async () => condition("broken", "Ready")?.status === "True", "Ready", { timeoutMs: 15_000 });
    fake.setKubelet(false);
    const live = agdOf("broken") as FakeObject & AgentDeployment;
    await kube.replace({ ...live, spec: { ...live.spec, revision: REV(3) } } as never);
    await until(async () => deploymentOf("broken-worker")?.spec.replicas === 0, "drain", { timeoutMs: 10_000 });
    settle("broken-worker", 0);
    await until(async () => revisionOf("broken-runtime") === "rev-3", "the switch", { timeoutMs: 10_000 });
    const runtime = deploymentOf("broken-runtime") as NonNullable<ReturnType<typeof deploymentOf>>;
    fake.put({
      ...runtime,
      status: {
        observedGeneration: runtime.metadata.generation,
        replicas: 2,
        readyReplicas: 0,
        updatedReplicas: 1,
        conditions: [
          {
            type: "Progressing",
            status: "False",
            reason: "ProgressDeadlineExceeded",
            message: 'ReplicaSet "broken-runtime-7d9" has timed out progressing.',
          },
        ],
      },
    });
    await until(async () => condition("broken", "Degraded")?.reason === "RevisionFailed", "RevisionFailed", {
      timeoutMs: 10_000,
    });
    expect(condition("broken", "Degraded")?.message).toMatch(
      /revision rev-3: the runtime did not become ready: .*timed out progressing/,
    );
    expect(agdOf("broken")?.status?.currentRevision).toBe("rev-1");
  });

  it("deletes only after the workers drained: the finalizer holds the resource, then everything owned goes", async () => {
    const { fake, kube } = await setup();
    await operator();
    await kube.create(resource("gone") as never);
    await until(async () => condition("gone", "Ready")?.status === "True", "Ready", { timeoutMs: 15_000 });
    fake.setKubelet(false);
    await kube.delete({ apiVersion: AGD, kind: "AgentDeployment", namespace: NS, name: "gone" });
    await until(async () => deploymentOf("gone-worker")?.spec.replicas === 0, "the workers to be scaled to 0", {
      timeoutMs: 10_000,
    });
    expect(agdOf("gone")?.metadata.deletionTimestamp).toBeTruthy();
    await new Promise((r) => setTimeout(r, 500));
    expect(agdOf("gone")).toBeDefined();
    settle("gone-worker", 0);
    await until(async () => agdOf("gone") === undefined, "the resource to go", { timeoutMs: 10_000 });
    await until(async () => fake.list("apps/v1", "Deployment", NS).length === 0, "owned objects collected", {
      timeoutMs: 10_000,
    });
    expect(fake.list("v1", "Service", NS)).toEqual([]);
  });

  it("rides out conflicts and an API outage, and refuses to take over an object it does not own", async () => {
    const { fake, kube } = await setup();
    await operator();
    fake.failNext((r) => r.method === "POST" && r.path.endsWith("/deployments"), 500, "etcdserver: request timed out");
    fake.failNext((r) => r.method === "PUT" && r.path.endsWith("/agentdeployments/bumpy/status"), 409);
    await kube.create(resource("bumpy") as never);
    await until(async () => condition("bumpy", "Ready")?.status === "True", "Ready despite the failures", { timeoutMs: 20_000 });

    await kube.create({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "taken-gateway", namespace: NS, labels: {} },
      spec: { ports: [{ port: 80 }] },
    } as never);
    await kube.create(resource("taken") as never);
    await until(async () => condition("taken", "Degraded")?.reason === "ApplyFailed", "ApplyFailed", { timeoutMs: 10_000 });
    expect(condition("taken", "Degraded")?.message).toMatch(
      /Service taken-gateway exists and is not controlled by this AgentDeployment/,
    );
    expect(
      (fake.get("v1", "Service", NS, "taken-gateway") as { spec: { ports: Array<{ port: number }> } }).spec.ports[0]?.port,
    ).toBe(80);
  });

  it("refuses an invalid spec without touching anything, and says why", async () => {
    const { fake, kube } = await setup();
    await operator();
    await kube.create(resource("typo", { components: { workers: { minReplicas: 5, maxReplicas: 2 } } }) as never);
    await until(async () => condition("typo", "Degraded")?.reason === "InvalidSpec", "InvalidSpec", { timeoutMs: 10_000 });
    expect(condition("typo", "Degraded")?.message).toMatch(
      /\/spec\/components\/workers: minReplicas must not exceed maxReplicas/,
    );
    expect(fake.list("apps/v1", "Deployment", NS)).toEqual([]);
  });

  it("says KEDA is missing where it is, and with hpa replaces the scalers it made (prune)", async () => {
    const { fake, kube } = await setup({ kinds: FAKE_KUBE_KINDS.filter((k) => k.kind !== "ScaledObject") });
    await operator();
    await kube.create(resource("nokeda") as never);
    await until(async () => condition("nokeda", "Degraded")?.reason === "ApplyFailed", "ApplyFailed", {
      timeoutMs: 10_000,
    }).catch((err) => {
      throw new Error(`${err}: ${JSON.stringify(agdOf("nokeda")?.status)}`);
    });
    expect(condition("nokeda", "Degraded")?.message).toMatch(/KEDA is not installed/);
    const live = agdOf("nokeda") as FakeObject & AgentDeployment;
    await kube.replace({ ...live, spec: { ...live.spec, autoscaling: { mode: "hpa" } } } as never);
    await until(async () => condition("nokeda", "Ready")?.status === "True", "Ready with hpa", { timeoutMs: 10_000 });
    expect(
      fake
        .list("autoscaling/v2", "HorizontalPodAutoscaler", NS)
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(["nokeda-runtime", "nokeda-worker"]);
    await kube.replace({ ...(agdOf("nokeda") as object), spec: { ...live.spec, autoscaling: { mode: "none" } } } as never);
    await until(async () => fake.list("autoscaling/v2", "HorizontalPodAutoscaler", NS).length === 0, "the HPAs pruned", {
      timeoutMs: 10_000,
    });
  });
});

describe("egress", () => {
  it("opens the declared blocks and the addresses the declared hosts resolve to, and follows the addresses when they change", async () => {
    const { fake, kube } = await setup();
    let openai = ["198.51.100.7", "2001:db8::7"];
    const op = await operator({
      resolve: async (host) => {
        if (host === "api.openai.com") return openai;
        throw new Error(`getaddrinfo ENOTFOUND ${host}`);
      },
    });
    await kube.create(
      resource("egress", {
        egress: [
          { host: "api.openai.com", ports: [443] },
          { host: "*.anthropic.com", ports: [443] },
          { host: "gone.invalid", ports: [443] },
          { cidr: "203.0.113.0/24", ports: [443, 8443] },
        ],
      }) as never,
    );
    await until(async () => condition("egress", "Ready")?.status === "True", "Ready", { timeoutMs: 15_000 });
    type Policy = {
      metadata: { annotations?: Record<string, string> };
      spec: { egress: Array<{ to: unknown[]; ports?: unknown[] }> };
    };
    const policy = () => fake.get("networking.k8s.io/v1", "NetworkPolicy", NS, "egress-runtime") as unknown as Policy;
    const declared = (p: Policy) => p.spec.egress.filter((r) => r.to.some((t) => (t as { ipBlock?: unknown }).ipBlock));
    expect(declared(policy())).toEqual([
      {
        to: [{ ipBlock: { cidr: "198.51.100.7/32" } }, { ipBlock: { cidr: "2001:db8::7/128" } }],
        ports: [{ port: 443, protocol: "TCP" }],
      },
      {
        to: [{ ipBlock: { cidr: "203.0.113.0/24" } }],
        ports: [
          { port: 443, protocol: "TCP" },
          { port: 8443, protocol: "TCP" },
        ],
      },
    ]);
    expect(policy().metadata.annotations?.["platform.langopen.dev/egress-hosts"]).toBe(
      "api.openai.com:443 *.anthropic.com:443 gone.invalid:443",
    );
    openai = ["198.51.100.9"];
    op.controller.enqueue(NS, "egress");
    await until(async () => JSON.stringify(declared(policy())).includes("198.51.100.9/32"), "the new address", {
      timeoutMs: 10_000,
    });
    expect(JSON.stringify(declared(policy()))).not.toContain("198.51.100.7");
  });

  it("keeps the metadata endpoint and cluster addresses closed, says so in an EgressRestricted condition, and drops it once nothing is refused", async () => {
    const { fake, kube } = await setup();
    let internal = ["10.1.2.3"];
    const logs: Array<{ level: number; msg: string; agent_deployment?: string; refused?: unknown }> = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        logs.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const op = await operator({
      logger: createLogger({ service: "test", level: "warn", pretty: false, destination }),
      resolve: async (host) => {
        if (host === "internal.example.com") return internal;
        if (host === "api.openai.com") return ["198.51.100.7"];
        throw new Error(`getaddrinfo ENOTFOUND ${host}`);
      },
    });
    await kube.create(
      resource("private", {
        egress: [
          { cidr: "169.254.169.254/32", ports: [80] },
          { host: "internal.example.com", ports: [443] },
          { host: "api.openai.com", ports: [443] },
        ],
      }) as never,
    );
    // Still serves: only the refused destinations stay closed.
    await until(async () => condition("private", "Ready")?.status === "True", "Ready", { timeoutMs: 15_000 });
    const policy = () =>
      fake.get("networking.k8s.io/v1", "NetworkPolicy", NS, "private-runtime") as unknown as {
        spec: { egress: Array<{ to: Array<{ ipBlock?: unknown }>; ports?: unknown[] }> };
      };
    const declared = () => policy().spec.egress.filter((r) => r.to.some((t) => t.ipBlock));
    expect(declared()).toEqual([{ to: [{ ipBlock: { cidr: "198.51.100.7/32" } }], ports: [{ port: 443, protocol: "TCP" }] }]);
    expect(JSON.stringify(policy().spec)).not.toMatch(/169\.254\.169\.254|10\.1\.2\.3/);
    const restricted = condition("private", "EgressRestricted");
    expect(restricted).toMatchObject({ status: "True", reason: "PrivateAddressRefused" });
    expect(restricted?.message).toContain("169.254.169.254/32:80 (not opened)");
    expect(restricted?.message).toContain("internal.example.com:443 (resolved to 10.1.2.3, not opened)");
    expect(restricted?.message).not.toContain("api.openai.com");
    expect(agdOf("private")?.status?.conditions?.map((c) => c.type)).toEqual([
      "Ready",
      "Progressing",
      "Degraded",
      "EgressRestricted",
    ]);
    // A warning when the refusal appears (not at every pass).
    const warnings = () => logs.filter((l) => l.msg.startsWith("Kept private or special-purpose addresses"));
    expect(warnings()[0]).toMatchObject({
      level: 40,
      agent_deployment: "private",
      refused: [
        { entry: "169.254.169.254/32:80", refused: ["169.254.169.254/32"] },
        { entry: "internal.example.com:443", refused: ["10.1.2.3"] },
      ],
    });
    const warned = warnings().length;
    op.controller.enqueue(NS, "private");
    await new Promise((r) => setTimeout(r, 300));
    expect(warnings().length).toBe(warned);

    // The project drops the metadata endpoint and the host moves to a public address: the condition goes.
    internal = ["203.0.113.9"];
    const live = agdOf("private") as FakeObject & AgentDeployment;
    await kube.replace({ ...live, spec: { ...live.spec, egress: live.spec.egress?.slice(1) } } as never);
    op.controller.enqueue(NS, "private");
    await until(async () => condition("private", "EgressRestricted") === undefined, "EgressRestricted gone", {
      timeoutMs: 10_000,
    });
    await until(async () => JSON.stringify(declared()).includes("203.0.113.9/32"), "the public address opened", {
      timeoutMs: 10_000,
    });
    expect(condition("private", "Ready")?.status).toBe("True");
  });
});

describe("leader election", () => {
  it("lets exactly one of two racing replicas lead, and a standby take over when the leader stops", async () => {
    const { fake, kube } = await setup();
    const elect = (identity: string) =>
      new LeaderElection({ kube, namespace: "langopen", name: "race", identity, logger, leaseSeconds: 1 });
    const a = elect("a");
    const b = elect("b");
    const results = await Promise.all([a.tryAcquireOrRenew(), b.tryAcquireOrRenew()]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const lease = fake.get("coordination.k8s.io/v1", "Lease", "langopen", "race") as { spec: { holderIdentity: string } };
    expect(["a", "b"]).toContain(lease.spec.holderIdentity);
    // The holder keeps renewing; the other never leads meanwhile.
    const [leader, standby] = lease.spec.holderIdentity === "a" ? [a, b] : [b, a];
    for (let i = 0; i < 4; i++) {
      expect(await leader.tryAcquireOrRenew()).toBe(true);
      expect(await standby.tryAcquireOrRenew()).toBe(false);
      await new Promise((r) => setTimeout(r, 300));
    }
    // The leader went silent: after a whole lease duration unchanged, the standby takes it.
    await new Promise((r) => setTimeout(r, 1_200));
    expect(await standby.tryAcquireOrRenew()).toBe(true);
    expect(await leader.tryAcquireOrRenew()).toBe(false);
  });

  it("runs two operator replicas of which only the leader acts; the standby takes over on stop", async () => {
    const { fake, kube } = await setup();
    const first = await operator({ identity: "operator-a", leaderElection: true });
    await until(async () => first.isLeader(), "the first replica to lead", { timeoutMs: 5_000 });
    const second = await operator({ identity: "operator-b", leaderElection: true });
    await kube.create(resource("ha") as never);
    await until(async () => condition("ha", "Ready")?.status === "True", "Ready", { timeoutMs: 15_000 });
    expect(second.isLeader()).toBe(false);
    await first.stop();
    operators.splice(operators.indexOf(first), 1);
    await until(async () => second.isLeader(), "the standby to lead", { timeoutMs: 10_000 });
    const live = agdOf("ha") as FakeObject & AgentDeployment;
    await kube.replace({ ...live, spec: { ...live.spec, components: { gateway: { replicas: 3 } } } } as never);
    await until(async () => deploymentOf("ha-gateway")?.spec.replicas === 3, "the new leader to act", { timeoutMs: 10_000 });
    const lease = fake.get("coordination.k8s.io/v1", "Lease", "langopen", "langopen-operator") as {
      spec: { holderIdentity: string };
    };
    expect(lease.spec.holderIdentity).toBe("operator-b");
  });
});

describe("operator probes", () => {
  it("serves /healthz, /readyz and its metrics", async () => {
    await setup();
    const op = await operator();
    await until(async () => (await fetch(`${op.url}/readyz`)).status === 200, "ready", { timeoutMs: 5_000 });
    expect((await fetch(`${op.url}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${op.url}/metrics`)).text();
    expect(metrics).toMatch(/^langopen_operator_leader 1$/m);
  });
});
