import { describe, expect, it } from "vitest";
import type { AgentDeployment } from "./generated/agent-deployment.js";
import { type KubeObject, type RenderSettings, renderDataPlane } from "./render.js";
import { kubeIssues } from "./testing/kube-validate.js";
import { agentDeploymentIssues } from "./validate.js";

const SETTINGS: RenderSettings = {
  image: "ghcr.io/langopen/langopen:0.1.0",
  controlPlaneUrl: "http://langopen-control-plane.langopen.svc:8130",
  controlPlane: {
    to: [
      {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "langopen" } },
        podSelector: { matchLabels: { "app.kubernetes.io/component": "control-plane" } },
      },
    ],
    ports: [{ port: 8130 }],
  },
  dependencies: [{ to: [{ ipBlock: { cidr: "10.20.0.0/16" } }], ports: [{ port: 5432 }, { port: 6379 }] }],
  publicKeyConfigMap: "langopen-signing-key",
  credentialsSecret: "{name}-credentials",
  prometheusUrl: "http://prometheus.monitoring.svc:9090",
};

const resource = (spec: Partial<AgentDeployment["spec"]> = {}): AgentDeployment => ({
  apiVersion: "platform.langopen.dev/v1alpha1",
  kind: "AgentDeployment",
  metadata: { name: "support-bot", namespace: "agents", uid: "6f1c2a9e-1111-4c1e-9d53-3b0e6a0d2f10" },
  spec: {
    deploymentId: "df6db9a1-0489-4e00-95f0-322a02251be9",
    revision: {
      id: "603040a1-449e-4c19-9b64-674931e590f5",
      bundleDigest: `sha256:${"b".repeat(64)}`,
      bundleUrl: "http://langopen-control-plane.langopen.svc:8130",
    },
    database: { secretName: "support-bot-db", key: "url" },
    redis: { secretName: "langopen-redis", key: "url" },
    egress: [
      { host: "api.openai.com", ports: [443] },
      { cidr: "203.0.113.0/24", ports: [443, 8443] },
    ],
    ...spec,
  },
});

type Pod = {
  runtimeClassName?: string;
  automountServiceAccountToken?: boolean;
  securityContext: Record<string, unknown>;
  initContainers: Array<{ securityContext: Record<string, unknown> }>;
  containers: Array<{ name: string; securityContext: Record<string, unknown>; env: Array<{ name: string }> }>;
  terminationGracePeriodSeconds?: number;
};
const podOf = (o: KubeObject) => (o.spec as { template: { spec: Pod } }).template.spec;
const named = (objects: KubeObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);

describe("renderDataPlane", () => {
  it.each([
    ["keda autoscaling, gVisor runtimes", resource()],
    ["hpa autoscaling, Kata runtimes", resource({ autoscaling: { mode: "hpa" }, sandbox: "kata" })],
    [
      "no autoscaling, no sandbox, one replica each",
      resource({
        autoscaling: { mode: "none" },
        sandbox: "none",
        components: { gateway: { replicas: 1 }, apiServer: { replicas: 1 } },
      }),
    ],
  ])("renders objects Kubernetes accepts, each owned by the resource (%s)", (_what, agd) => {
    expect(agentDeploymentIssues(agd)).toEqual([]);
    const objects = renderDataPlane(agd, SETTINGS);
    for (const o of objects) {
      // The models' schemas, and no field they do not name.
      expect(kubeIssues(o)).toEqual([]);
      expect(o.metadata.namespace).toBe("agents");
      expect(o.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: "AgentDeployment", name: "support-bot", controller: true }),
      ]);
    }
    // Rendering is pure: the same resource gives the same objects.
    expect(renderDataPlane(agd, SETTINGS)).toEqual(objects);
  });

  it("hardens every pod and container, and mounts no service account token", () => {
    for (const o of renderDataPlane(resource(), SETTINGS).filter((x) => x.kind === "Deployment")) {
      const pod = podOf(o);
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
      for (const c of [...pod.initContainers, ...pod.containers]) {
        expect(c.securityContext, o.metadata.name).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ["ALL"] },
        });
      }
    }
    expect(named(renderDataPlane(resource(), SETTINGS), "ServiceAccount", "support-bot-data-plane")).toMatchObject({
      automountServiceAccountToken: false,
    });
  });

  it("runs only the runtimes in gVisor by default, in Kata when asked, and in neither when turned off", () => {
    const classOf = (agd: AgentDeployment, component: string) =>
      podOf(named(renderDataPlane(agd, SETTINGS), "Deployment", `support-bot-${component}`) as KubeObject).runtimeClassName;
    expect(classOf(resource(), "runtime")).toBe("gvisor");
    expect(classOf(resource({ sandbox: "kata" }), "runtime")).toBe("kata");
    expect(classOf(resource({ sandbox: "none" }), "runtime")).toBeUndefined();
    for (const component of ["gateway", "api-server", "worker"]) expect(classOf(resource(), component)).toBeUndefined();
  });

  it("denies egress by default: DNS, its own pods, the control plane, Postgres and Redis, and for graph code only what the project declared", () => {
    const objects = renderDataPlane(resource(), SETTINGS);
    const policies = objects.filter((o) => o.kind === "NetworkPolicy");
    expect(policies.map((p) => p.metadata.name).sort()).toEqual(
      ["support-bot-api-server", "support-bot-gateway", "support-bot-runtime", "support-bot-worker"].sort(),
    );
    for (const p of policies) {
      const spec = p.spec as { policyTypes: string[]; egress: Array<{ to?: unknown[] }> };
      expect(spec.policyTypes).toEqual(["Ingress", "Egress"]);
      // No rule opens everything (a rule without `to` allows every destination).
      for (const rule of spec.egress) expect(rule.to?.length, p.metadata.name).toBeGreaterThan(0);
    }
    const runtime = named(objects, "NetworkPolicy", "support-bot-runtime") as KubeObject;
    const text = JSON.stringify(runtime.spec);
    expect(text).toContain("203.0.113.0/24");
    expect(text).not.toContain("10.20.0.0/16"); // graph code does not reach the database directly
    expect(runtime.metadata.annotations).toEqual({ "platform.langopen.dev/egress-hosts": "api.openai.com:443" });
    expect(JSON.stringify(named(objects, "NetworkPolicy", "support-bot-worker")?.spec)).toContain("10.20.0.0/16");
  });

  it("fetches the revision's bundle before any container starts, and gives workers time to drain", () => {
    const objects = renderDataPlane(resource(), SETTINGS);
    for (const o of objects.filter((x) => x.kind === "Deployment")) {
      const pod = podOf(o) as Pod & { initContainers: Array<{ command?: string[]; args: string[] }> };
      // args only: the image's entry point (tini) runs them as its child.
      expect(pod.initContainers[0]?.command).toBeUndefined();
      expect(pod.initContainers[0]?.args.slice(0, 5)).toEqual([
        "node",
        "services/cli/dist/main.js",
        "bundle",
        "fetch",
        "603040a1-449e-4c19-9b64-674931e590f5",
      ]);
      expect(pod.initContainers[0]?.args).toContain("/etc/langopen/keys/signing-key.pub.pem");
      const main = pod.containers as unknown as Array<{ command?: string[]; args?: string[] }>;
      expect(main.every((c) => c.command === undefined && c.args?.[0] === "node")).toBe(true);
      expect(o.metadata.annotations).toMatchObject({ "platform.langopen.dev/bundle": `sha256:${"b".repeat(64)}` });
    }
    const worker = podOf(named(objects, "Deployment", "support-bot-worker") as KubeObject);
    expect(worker.terminationGracePeriodSeconds).toBe(40);
    expect(worker.containers[0]?.env.map((e) => e.name)).toEqual(
      expect.arrayContaining(["DATABASE_URL", "REDIS_URL", "SHUTDOWN_GRACE_MS"]),
    );
    // A new revision changes the pod template: Kubernetes rolls the pods over (maxUnavailable 0).
    const next = renderDataPlane(resource({ revision: { ...resource().spec.revision, id: "next-revision" } }), SETTINGS);
    expect(JSON.stringify(named(next, "Deployment", "support-bot-worker"))).toContain("next-revision");
  });

  it("routes the public URL's host to the gateway with an Ingress when the installation asks, and only then", () => {
    expect(renderDataPlane(resource(), SETTINGS).filter((o) => o.kind === "Ingress")).toEqual([]);
    const objects = renderDataPlane(resource(), {
      ...SETTINGS,
      urlTemplate: "https://{name}.agents.example.com",
      ingress: {
        className: "nginx",
        annotations: { "nginx.ingress.kubernetes.io/proxy-buffering": "off" },
        tlsSecretName: "agents-wildcard-tls",
      },
    });
    const ingress = named(objects, "Ingress", "support-bot") as KubeObject;
    expect(kubeIssues(ingress)).toEqual([]);
    expect(ingress.metadata.annotations).toEqual({ "nginx.ingress.kubernetes.io/proxy-buffering": "off" });
    expect(ingress.spec).toEqual({
      ingressClassName: "nginx",
      tls: [{ hosts: ["support-bot.agents.example.com"], secretName: "agents-wildcard-tls" }],
      rules: [
        {
          host: "support-bot.agents.example.com",
          http: {
            paths: [
              { path: "/", pathType: "Prefix", backend: { service: { name: "support-bot-gateway", port: { number: 8123 } } } },
            ],
          },
        },
      ],
    });
    // The gateway accepts requests naming that host, and hands out that URL.
    const env = (podOf(named(objects, "Deployment", "support-bot-gateway") as KubeObject).containers[0]?.env ?? []) as Array<{
      name: string;
      value?: string;
    }>;
    expect(env.find((e) => e.name === "LANGOPEN_ALLOWED_HOSTS")?.value).toContain("support-bot.agents.example.com");
    expect(env.find((e) => e.name === "LANGOPEN_PUBLIC_URL")?.value).toBe("https://support-bot.agents.example.com");
  });

  it("refuses a resource the API server has not stored yet (no uid for owner references)", () => {
    const agd = resource();
    agd.metadata = { name: "support-bot", namespace: "agents" };
    expect(() => renderDataPlane(agd, SETTINGS)).toThrow(/uid/);
  });
});
