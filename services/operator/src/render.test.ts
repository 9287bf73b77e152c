import { BlockList } from "node:net";
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

describe("renderDataPlane: graph code's egress never reaches special-purpose addresses unless the installation allows them", () => {
  type Peer = { ipBlock: { cidr: string; except?: string[] } };
  /** The runtimes' rules to what the project declared (its address blocks), and the policy. */
  const declaredRules = (agd: AgentDeployment, settings: RenderSettings = SETTINGS, resolved: Record<string, string[]> = {}) => {
    const policy = named(renderDataPlane(agd, settings, resolved), "NetworkPolicy", "support-bot-runtime") as KubeObject;
    expect(kubeIssues(policy)).toEqual([]);
    const rules = (policy.spec as { egress: Array<{ to: Array<Partial<Peer>>; ports: unknown[] }> }).egress;
    const declared = rules.filter((r) => r.to.some((t) => t.ipBlock)) as Array<{ to: Peer[]; ports: unknown[] }>;
    for (const rule of declared) {
      expect(rule.to.length).toBeGreaterThan(0);
      // Kubernetes' rule: each except a strict subset of its cidr.
      for (const { ipBlock } of rule.to) {
        const [address = "", prefix = ""] = ipBlock.cidr.split("/");
        const family = address.includes(":") ? "ipv6" : "ipv4";
        const list = new BlockList();
        list.addSubnet(address, Number(prefix), family);
        for (const except of ipBlock.except ?? []) {
          const [inner = "", innerPrefix = ""] = except.split("/");
          expect(list.check(inner, family) && Number(innerPrefix) > Number(prefix), `${except} in ${ipBlock.cidr}`).toBe(true);
        }
      }
    }
    return { declared, text: JSON.stringify(declared) };
  };
  const tcp = (...ports: number[]) => ports.map((port) => ({ port, protocol: "TCP" }));
  const IPV4_DENIED = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
  ];

  it("opens no declared block inside one (the cluster's networks, the metadata endpoint, loopback, shared space)", () => {
    const { declared, text } = declaredRules(
      resource({
        egress: [
          { cidr: "10.0.0.0/8", ports: [443] },
          { cidr: "169.254.169.254/32", ports: [80] },
          { cidr: "127.0.0.1/32", ports: [8125] },
          { cidr: "172.20.0.0/16", ports: [443] },
          { cidr: "192.168.1.0/24", ports: [443] },
          { cidr: "100.64.0.0/10", ports: [443] },
          { cidr: "224.0.0.251/32", ports: [5353] },
          { cidr: "203.0.113.0/24", ports: [443] },
        ],
      }),
    );
    // Only the public block remains: the others have no rule at all (not a rule without peers, which opens everything).
    expect(declared).toEqual([{ to: [{ ipBlock: { cidr: "203.0.113.0/24" } }], ports: tcp(443) }]);
    for (const closed of ["10.0.0.0", "169.254", "127.0.0.1", "172.20", "192.168", "100.64", "224.0"])
      expect(text).not.toContain(closed);
  });

  it("opens a declared block holding some without them (ipBlock.except)", () => {
    const { declared } = declaredRules(
      resource({
        egress: [
          { cidr: "0.0.0.0/0", ports: [443] },
          { cidr: "8.0.0.0/5", ports: [8443] },
          { cidr: "192.0.0.0/16", ports: [80] },
        ],
      }),
    );
    expect(declared).toEqual([
      { to: [{ ipBlock: { cidr: "0.0.0.0/0", except: IPV4_DENIED } }], ports: tcp(443) },
      { to: [{ ipBlock: { cidr: "8.0.0.0/5", except: ["10.0.0.0/8"] } }], ports: tcp(8443) },
      { to: [{ ipBlock: { cidr: "192.0.0.0/16", except: ["192.0.0.0/24"] } }], ports: tcp(80) },
    ]);
  });

  it("does the same for IPv6: unique local, link-local, loopback, multicast, NAT64 closed; ::/0 without them", () => {
    const { declared } = declaredRules(
      resource({
        egress: [
          { cidr: "fd00::/8", ports: [443] },
          { cidr: "fe80::1/128", ports: [443] },
          { cidr: "::1/128", ports: [443] },
          { cidr: "ff02::fb/128", ports: [5353] },
          { cidr: "64:ff9b::a00:1/128", ports: [443] },
          { cidr: "2001:db8::/32", ports: [443] },
          { cidr: "::/0", ports: [8443] },
        ],
      }),
    );
    expect(declared).toEqual([
      { to: [{ ipBlock: { cidr: "2001:db8::/32" } }], ports: tcp(443) },
      {
        to: [
          {
            ipBlock: {
              cidr: "::/0",
              except: ["::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "fc00::/7", "fe80::/10", "ff00::/8"],
            },
          },
        ],
        ports: tcp(8443),
      },
    ]);
  });

  it("judges an IPv4-mapped IPv6 block or address by its IPv4 address (and opens it as IPv4, what its packets carry)", () => {
    const { declared, text } = declaredRules(
      resource({
        egress: [
          { cidr: "::ffff:a9fe:a9fe/128", ports: [80] }, // ::ffff:169.254.169.254
          { cidr: "::ffff:a00:0/104", ports: [443] }, // ::ffff:10.0.0.0/104
          { cidr: "::ffff:c633:6407/128", ports: [443] }, // ::ffff:198.51.100.7
          { host: "mapped.example.com", ports: [8443] },
        ],
      }),
      SETTINGS,
      { "mapped.example.com": ["::ffff:10.1.2.3", "::ffff:203.0.113.9"] },
    );
    expect(declared).toEqual([
      { to: [{ ipBlock: { cidr: "198.51.100.7/32" } }], ports: tcp(443) },
      { to: [{ ipBlock: { cidr: "203.0.113.9/32" } }], ports: tcp(8443) },
    ]);
    expect(text).not.toMatch(/169\.254|a9fe|10\.0\.0|10\.1\.2\.3|ffff/);
  });

  it("drops the addresses a declared host resolves to that are special-purpose (the metadata endpoint, the cluster's), and keeps the others", () => {
    const { declared, text } = declaredRules(
      resource({
        egress: [
          { host: "metadata.example.com", ports: [80] },
          { host: "internal.example.com", ports: [443] },
          { host: "api.openai.com", ports: [443] },
        ],
      }),
      SETTINGS,
      {
        "metadata.example.com": ["169.254.169.254"],
        "internal.example.com": ["10.1.2.3", "fd00::3"],
        "api.openai.com": ["198.51.100.7", "10.96.0.1", "2001:db8::7"],
      },
    );
    expect(declared).toEqual([
      { to: [{ ipBlock: { cidr: "198.51.100.7/32" } }, { ipBlock: { cidr: "2001:db8::7/128" } }], ports: tcp(443) },
    ]);
    expect(text).not.toMatch(/169\.254|10\.1\.2\.3|10\.96|fd00/);
  });

  it("re-opens exactly the blocks the installation allows (egressAllowedCidrs)", () => {
    const settings = { ...SETTINGS, egressAllowedCidrs: ["10.20.0.5/32", "169.254.0.0/16", "fd12:3456::/32"] };
    const { declared } = declaredRules(
      resource({
        egress: [
          { cidr: "10.20.0.5/32", ports: [443] },
          { cidr: "10.0.0.0/8", ports: [8443] },
          { cidr: "0.0.0.0/0", ports: [80] },
          { cidr: "169.254.169.254/32", ports: [8080] },
          { cidr: "10.20.0.6/32", ports: [9000] },
          { cidr: "fd12:3456:1::/48", ports: [443] },
          { host: "internal.example.com", ports: [9443] },
        ],
      }),
      settings,
      { "internal.example.com": ["10.20.0.5", "10.1.2.3"] },
    );
    expect(declared).toEqual([
      { to: [{ ipBlock: { cidr: "10.20.0.5/32" } }], ports: tcp(443) },
      // Inside a closed block: only the allowed part of it.
      { to: [{ ipBlock: { cidr: "10.20.0.5/32" } }], ports: tcp(8443) },
      // Holding closed blocks: without them but for the allowed ones (a whole allowed block is no exception).
      {
        to: [
          { ipBlock: { cidr: "0.0.0.0/0", except: IPV4_DENIED.filter((c) => c !== "169.254.0.0/16") } },
          { ipBlock: { cidr: "10.20.0.5/32" } },
        ],
        ports: tcp(80),
      },
      { to: [{ ipBlock: { cidr: "169.254.169.254/32" } }], ports: tcp(8080) },
      { to: [{ ipBlock: { cidr: "fd12:3456:1::/48" } }], ports: tcp(443) },
      { to: [{ ipBlock: { cidr: "10.20.0.5/32" } }], ports: tcp(9443) },
    ]);
  });
});
