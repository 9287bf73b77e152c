import { planEgress } from "./egress.js";
import type { AgentDeployment } from "./generated/agent-deployment.js";
import { AGENT_DEPLOYMENT_GROUP, AGENT_DEPLOYMENT_KIND, AGENT_DEPLOYMENT_VERSION } from "./generated/agent-deployment-schema.js";

/** A Kubernetes object as the operator writes it (plain JSON; validated by the tests with kubernetes-models). */
export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
};

/** A NetworkPolicy peer with the ports it is reached on (a dependency the data plane calls). */
export interface EgressTarget {
  to: Record<string, unknown>[];
  ports: Array<{ port: number; protocol?: "TCP" | "UDP" }>;
}

/** What the operator knows besides the resource: its own installation's settings. */
export interface RenderSettings {
  /** The LangOpen image every data plane container runs. */
  image: string;
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /** The control plane's URL inside the cluster (bundle fetch, API key checks). */
  controlPlaneUrl: string;
  /** How NetworkPolicies select the control plane's pods. */
  controlPlane: EgressTarget;
  /** Postgres and Redis as NetworkPolicy peers (they are outside the chart's reach: by reference). */
  dependencies: EgressTarget[];
  /** The ConfigMap holding `signing-key.pub.pem`, the platform's public key. */
  publicKeyConfigMap: string;
  /**
   * The Secret the operator keeps per deployment: `internal-secret` (LANGOPEN_INTERNAL_SECRET),
   * `runtime-token` and `caller-token-sha256` (the runtime's derived credentials) and
   * `bundle-key` (a viewer key of the deployment, for the bundle fetch). `{name}` is replaced.
   */
  credentialsSecret: string;
  /** Prometheus' URL, for KEDA's trigger on the runnable backlog. */
  prometheusUrl: string;
  /** The uid pods run as (non-root). */
  uid?: number;
  /** How long a worker may drain its runs on a rollout (SIGTERM, then SIGKILL after this). */
  drainSeconds?: number;
  /** How long a revision's pods may take to become ready before its rollout counts as failed. */
  progressDeadlineSeconds?: number;
  /**
   * Special-purpose address blocks (private, link-local, loopback…) graph code may reach when its
   * project declares them: by default none (see egress.ts, DENIED_CIDRS). Blocks, such as 10.20.0.5/32.
   */
  egressAllowedCidrs?: string[];
  /** Where a deployment's API answers for its users: `{name}` and `{namespace}` are replaced. */
  urlTemplate?: string;
  /**
   * An Ingress per deployment routing the public URL's host to its gateway (the URL template must
   * be absolute, with a host per deployment). Absent: no route (users expose the gateways themselves).
   */
  ingress?: {
    className?: string;
    /** E.g. the controller's SSE settings (no response buffering, long read timeouts). */
    annotations?: Record<string, string>;
    /** A TLS Secret for the host (e.g. a wildcard certificate), for https URLs. */
    tlsSecretName?: string;
  };
}

/** A deployment's URL as its users reach it (the status shows it; the gateway hands it out in A2A cards). */
export function publicUrlOf(settings: Pick<RenderSettings, "urlTemplate">, name: string, namespace: string): string | undefined {
  return settings.urlTemplate?.replaceAll("{name}", name).replaceAll("{namespace}", namespace);
}

const PORTS = { gateway: 8123, apiServer: 8124, runtime: 8125, metrics: 9464 } as const;
const BUNDLE_DIR = "/bundle";
const PROJECT_DIR = `${BUNDLE_DIR}/project`;
const KEYS_DIR = "/etc/langopen/keys";
export type Component = "gateway" | "api-server" | "worker" | "runtime";

/** The kinds renderDataPlane can produce: what a reconcile lists to delete the owned objects no longer rendered. */
export const RENDERED_KINDS = [
  { apiVersion: "v1", kind: "ServiceAccount" },
  { apiVersion: "apps/v1", kind: "Deployment" },
  { apiVersion: "v1", kind: "Service" },
  { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy" },
  { apiVersion: "policy/v1", kind: "PodDisruptionBudget" },
  { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler" },
  { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject" },
  { apiVersion: "networking.k8s.io/v1", kind: "Ingress" },
] as const;

/** The label every pod of a revision carries (a rollout waits until no worker of the old one is left). */
export const REVISION_LABEL = "platform.langopen.dev/revision";

/** The labels that select everything the operator rendered for one AgentDeployment. */
export const ownedSelector = (name: string) =>
  `app.kubernetes.io/instance=${name},app.kubernetes.io/managed-by=langopen-operator`;

/**
 * Everything a data plane is made of in the cluster, for one AgentDeployment: pure (the same
 * resource and settings give the same objects), so reconcile is "apply these, delete the owned
 * ones not among them". Every object is owned by the resource (garbage-collected with it).
 */
export function renderDataPlane(
  agd: AgentDeployment,
  settings: RenderSettings,
  /** The addresses each declared host name resolved to when the reconcile looked (NetworkPolicy takes no names). */
  resolvedHosts: Record<string, string[]> = {},
): KubeObject[] {
  const name = agd.metadata?.name;
  const namespace = agd.metadata?.namespace;
  const uid = agd.metadata?.uid;
  if (typeof name !== "string" || typeof namespace !== "string" || typeof uid !== "string")
    throw new Error("the AgentDeployment has no name, namespace or uid (render what the API server returned)");
  const { spec } = agd;
  const base = (component: string) => ({
    "app.kubernetes.io/name": "langopen-data-plane",
    "app.kubernetes.io/instance": name,
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/managed-by": "langopen-operator",
    "platform.langopen.dev/deployment-id": spec.deploymentId,
  });
  const owner = {
    apiVersion: `${AGENT_DEPLOYMENT_GROUP}/${AGENT_DEPLOYMENT_VERSION}`,
    kind: AGENT_DEPLOYMENT_KIND,
    name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
  const meta = (objectName: string, component: string) => ({
    name: objectName,
    namespace,
    labels: base(component),
    ownerReferences: [owner],
  });
  const selector = (component: Component) => ({
    "app.kubernetes.io/instance": name,
    "app.kubernetes.io/component": component,
  });
  const serviceAccount = `${name}-data-plane`;
  const credentials = settings.credentialsSecret.replace("{name}", name);
  const secretEnv = (envName: string, key: string) => ({
    name: envName,
    valueFrom: { secretKeyRef: { name: credentials, key } },
  });
  const dependencyEnv = [
    { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: spec.database.secretName, key: spec.database.key } } },
    ...(spec.redis
      ? [{ name: "REDIS_URL", valueFrom: { secretKeyRef: { name: spec.redis.secretName, key: spec.redis.key } } }]
      : []),
  ];
  /** Prometheus' scrape port of the services whose own port speaks h2c (the gateway serves /metrics itself). */
  const metricsEnv = [
    { name: "METRICS_HOST", value: "0.0.0.0" },
    { name: "METRICS_PORT", value: String(PORTS.metrics) },
  ];
  /** A server's listen variables: every interface of the pod, on its port. */
  const listenOn = (hostVar: string, portVar: string, port: number) => [
    { name: hostVar, value: "0.0.0.0" },
    { name: portVar, value: String(port) },
  ];
  const url = (component: Component, port: number) => `http://${name}-${component}.${namespace}.svc:${port}`;
  const configPath = `${PROJECT_DIR}/${spec.revision.configPath ?? "langgraph.json"}`;
  const projectEnv = [
    ...(spec.env ?? []).map((e) => ({ name: e.name, value: e.value ?? "" })),
    { name: "LANGOPEN_CONFIG", value: configPath },
  ];
  const envFrom = (spec.secretRefs ?? []).map((secretName) => ({ secretRef: { name: secretName } }));

  const hardened = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ["ALL"] },
  };
  const resourcesOf = (part: "gateway" | "apiServer" | "workers" | "runtimes") => spec.components?.[part]?.resources ?? {};
  const fetchBundle = {
    name: "fetch-bundle",
    image: settings.image,
    imagePullPolicy: settings.imagePullPolicy ?? "IfNotPresent",
    // args, not command: the image's entry point (tini) stays the first process and reaps children.
    args: [
      "node",
      "services/cli/dist/main.js",
      "bundle",
      "fetch",
      spec.revision.id,
      "--public-key",
      `${KEYS_DIR}/signing-key.pub.pem`,
      "--to",
      PROJECT_DIR,
    ],
    env: [{ name: "LANGOPEN_CONTROL_URL", value: settings.controlPlaneUrl }, secretEnv("LANGOPEN_API_KEY", "bundle-key")],
    securityContext: hardened,
    volumeMounts: [
      { name: "bundle", mountPath: BUNDLE_DIR },
      { name: "keys", mountPath: KEYS_DIR, readOnly: true },
      { name: "tmp", mountPath: "/tmp" },
    ],
  };
  const deployment = (
    component: Component,
    replicas: number,
    container: { args: string[]; env: unknown[]; port?: number; metrics?: boolean; resources: unknown },
    extra: Record<string, unknown> = {},
  ): KubeObject => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      ...meta(`${name}-${component}`, component),
      annotations: {
        [REVISION_LABEL]: spec.revision.id,
        "platform.langopen.dev/bundle": spec.revision.bundleDigest,
      },
    },
    spec: {
      replicas,
      progressDeadlineSeconds: settings.progressDeadlineSeconds ?? 600,
      selector: { matchLabels: selector(component) },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: { ...base(component), [REVISION_LABEL]: spec.revision.id },
        },
        spec: {
          serviceAccountName: serviceAccount,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: settings.uid ?? 10001,
            runAsGroup: settings.uid ?? 10001,
            fsGroup: settings.uid ?? 10001,
            seccompProfile: { type: "RuntimeDefault" },
          },
          initContainers: [fetchBundle],
          containers: [
            {
              name: component,
              image: settings.image,
              imagePullPolicy: settings.imagePullPolicy ?? "IfNotPresent",
              args: ["node", ...container.args],
              env: container.env,
              envFrom,
              ports: [
                ...(container.port ? [{ name: "serve", containerPort: container.port, protocol: "TCP" }] : []),
                ...(container.metrics ? [{ name: "metrics", containerPort: PORTS.metrics, protocol: "TCP" }] : []),
              ],
              resources: container.resources,
              securityContext: hardened,
              volumeMounts: [
                { name: "bundle", mountPath: BUNDLE_DIR, readOnly: true },
                { name: "tmp", mountPath: "/tmp" },
              ],
            },
          ],
          volumes: [
            { name: "bundle", emptyDir: {} },
            { name: "tmp", emptyDir: {} },
            { name: "keys", configMap: { name: settings.publicKeyConfigMap } },
          ],
          ...extra,
        },
      },
    },
  });
  const service = (component: Component, port: number, appProtocol: string, metrics = false): KubeObject => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(`${name}-${component}`, component),
    spec: {
      selector: selector(component),
      ports: [
        { name: "serve", port, targetPort: "serve", protocol: "TCP", appProtocol },
        // The operator reads the runnable backlog here (status.backlog).
        ...(metrics
          ? [{ name: "metrics", port: PORTS.metrics, targetPort: "metrics", protocol: "TCP", appProtocol: "http" }]
          : []),
      ],
    },
  });

  const gatewayReplicas = spec.components?.gateway?.replicas ?? 2;
  const apiReplicas = spec.components?.apiServer?.replicas ?? 2;
  const workers = spec.components?.workers ?? {};
  const runtimes = spec.components?.runtimes ?? {};
  const autoscaling = spec.autoscaling?.mode ?? "keda";
  const sandbox = spec.sandbox ?? "gvisor";
  const drain = settings.drainSeconds ?? 30;

  const publicUrl = publicUrlOf(settings, name, namespace);
  // The gateway serves only requests whose Host names it (DNS rebinding): its Service's names, and the public host.
  const gatewayService = `${name}-gateway`;
  const allowedHosts = [
    gatewayService,
    `${gatewayService}.${namespace}`,
    `${gatewayService}.${namespace}.svc`,
    `${gatewayService}.${namespace}.svc.cluster.local`,
    ...(publicUrl ? [new URL(publicUrl).hostname] : []),
  ];

  const objects: KubeObject[] = [
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: meta(serviceAccount, "data-plane"),
      automountServiceAccountToken: false,
    },
    deployment("gateway", gatewayReplicas, {
      args: ["gateway/dist/main.js"],
      port: PORTS.gateway,
      resources: resourcesOf("gateway"),
      env: [
        ...listenOn("HOST", "PORT", PORTS.gateway),
        { name: "API_SERVER_URL", value: url("api-server", PORTS.apiServer) },
        { name: "AUTH_RUNTIME_URL", value: url("runtime", PORTS.runtime) },
        { name: "HTTP_APP_RUNTIME_URL", value: url("runtime", PORTS.runtime) },
        { name: "LANGOPEN_CONTROL_URL", value: settings.controlPlaneUrl },
        { name: "LANGOPEN_DEPLOYMENT_ID", value: spec.deploymentId },
        { name: "LANGOPEN_ALLOWED_HOSTS", value: [...new Set(allowedHosts)].join(",") },
        ...(publicUrl ? [{ name: "LANGOPEN_PUBLIC_URL", value: publicUrl }] : []),
        secretEnv("LANGOPEN_INTERNAL_SECRET", "internal-secret"),
        ...projectEnv,
      ],
    }),
    deployment("api-server", apiReplicas, {
      args: ["services/api-server/dist/main.js"],
      port: PORTS.apiServer,
      metrics: true,
      resources: resourcesOf("apiServer"),
      env: [
        ...listenOn("RPC_HOST", "RPC_PORT", PORTS.apiServer),
        ...metricsEnv,
        { name: "RUNTIME_URL", value: url("runtime", PORTS.runtime) },
        secretEnv("LANGOPEN_INTERNAL_SECRET", "internal-secret"),
        ...dependencyEnv,
        ...projectEnv,
      ],
    }),
    deployment(
      "worker",
      workers.minReplicas ?? 1,
      {
        args: ["services/worker/dist/main.js"],
        metrics: true,
        resources: resourcesOf("workers"),
        env: [
          ...metricsEnv,
          { name: "RUNTIME_URLS", value: url("runtime", PORTS.runtime) },
          { name: "API_SERVER_URL", value: url("api-server", PORTS.apiServer) },
          { name: "LANGOPEN_GATEWAY_URL", value: url("gateway", PORTS.gateway) },
          { name: "SHUTDOWN_GRACE_MS", value: String(drain * 1000) },
          secretEnv("LANGOPEN_INTERNAL_SECRET", "internal-secret"),
          ...dependencyEnv,
          ...projectEnv,
        ],
      },
      // A rollout's SIGTERM lets the worker hand its runs back or finish them (the durability work):
      // the grace period outlasts its drain.
      { terminationGracePeriodSeconds: drain + 10 },
    ),
    deployment(
      "runtime",
      runtimes.minReplicas ?? 1,
      {
        args: ["services/runtime-runner/dist/main.js"],
        port: PORTS.runtime,
        metrics: true,
        resources: resourcesOf("runtimes"),
        env: [
          ...listenOn("RPC_HOST", "RPC_PORT", PORTS.runtime),
          ...metricsEnv,
          { name: "API_SERVER_URL", value: url("api-server", PORTS.apiServer) },
          { name: "LANGOPEN_GATEWAY_URL", value: url("gateway", PORTS.gateway) },
          secretEnv("LANGOPEN_RUNTIME_TOKEN", "runtime-token"),
          secretEnv("LANGOPEN_RUNTIME_CALLER_TOKEN_SHA256", "caller-token-sha256"),
          ...projectEnv,
        ],
      },
      sandbox === "none" ? {} : { runtimeClassName: sandbox },
    ),
    service("gateway", PORTS.gateway, "http"),
    service("api-server", PORTS.apiServer, "kubernetes.io/h2c", true),
    service("runtime", PORTS.runtime, "kubernetes.io/h2c"),
    ...networkPolicies(),
    ...disruptionBudgets(),
    ...scalers(),
    ...route(),
  ];
  return objects;

  function route(): KubeObject[] {
    if (!settings.ingress || !publicUrl) return [];
    const { hostname, protocol } = new URL(publicUrl);
    const { className, annotations, tlsSecretName } = settings.ingress;
    return [
      {
        apiVersion: "networking.k8s.io/v1",
        kind: "Ingress",
        metadata: { ...meta(`${name}`, "gateway"), ...(annotations ? { annotations } : {}) },
        spec: {
          ...(className ? { ingressClassName: className } : {}),
          ...(protocol === "https:" && tlsSecretName ? { tls: [{ hosts: [hostname], secretName: tlsSecretName }] } : {}),
          rules: [
            {
              host: hostname,
              http: {
                paths: [
                  {
                    path: "/",
                    pathType: "Prefix",
                    backend: { service: { name: gatewayService, port: { number: PORTS.gateway } } },
                  },
                ],
              },
            },
          ],
        },
      },
    ];
  }

  function networkPolicies(): KubeObject[] {
    const pods = (component?: Component) => ({
      podSelector: { matchLabels: component ? selector(component) : { "app.kubernetes.io/instance": name } },
    });
    const dns = {
      to: [{ namespaceSelector: {}, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
      ports: [
        { port: 53, protocol: "UDP" },
        { port: 53, protocol: "TCP" },
      ],
    };
    const own = { to: [pods()] };
    const common = [dns, own, settings.controlPlane, ...settings.dependencies];
    // Address blocks as declared; host names as the addresses they resolved to (each reconcile
    // resolves again: an address that changes is a policy rewrite). A wildcard resolves to nothing.
    // Never special-purpose address space (the cluster's networks, the metadata endpoint) unless the
    // installation allows it: planEgress leaves it out, and the reconcile reports what it left out.
    const declared = planEgress(spec.egress ?? [], resolvedHosts, settings.egressAllowedCidrs).filter((e) => e.peers.length > 0);
    const policy = (component: Component, ingress: unknown[], egress: unknown[]): KubeObject => ({
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: {
        ...meta(`${name}-${component}`, component),
        // The names as declared (wildcards too), for people and for a DNS-aware policy engine.
        ...(component === "runtime" && (spec.egress ?? []).some((e) => e.host)
          ? {
              annotations: {
                "platform.langopen.dev/egress-hosts": (spec.egress ?? [])
                  .filter((e) => e.host)
                  .map((e) => `${e.host}:${e.ports.join(",")}`)
                  .join(" "),
              },
            }
          : {}),
      },
      spec: { ...pods(component), policyTypes: ["Ingress", "Egress"], ingress, egress },
    });
    const fromOwn = { from: [pods()] };
    // Prometheus and the operator scrape from their own namespaces; nothing else is served on this port.
    const scrape = { from: [{ namespaceSelector: {} }], ports: [{ port: PORTS.metrics, protocol: "TCP" }] };
    return [
      policy("gateway", [{ ports: [{ port: PORTS.gateway, protocol: "TCP" }] }], common),
      policy("api-server", [{ ...fromOwn, ports: [{ port: PORTS.apiServer, protocol: "TCP" }] }, scrape], common),
      policy("worker", [scrape], common),
      policy(
        "runtime",
        [{ ...fromOwn, ports: [{ port: PORTS.runtime, protocol: "TCP" }] }, scrape],
        [
          dns,
          own,
          settings.controlPlane,
          // A rule without peers would open every address: entries that open nothing have no rule.
          ...declared.map((e) => ({ to: e.peers, ports: e.ports.map((port) => ({ port, protocol: "TCP" })) })),
        ],
      ),
    ];
  }

  function disruptionBudgets(): KubeObject[] {
    const pdb = (component: Component, budget: Record<string, number>): KubeObject => ({
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: meta(`${name}-${component}`, component),
      spec: { selector: { matchLabels: selector(component) }, ...budget },
    });
    return [
      ...(gatewayReplicas > 1 ? [pdb("gateway", { minAvailable: 1 })] : []),
      ...(apiReplicas > 1 ? [pdb("api-server", { minAvailable: 1 })] : []),
      pdb("worker", { maxUnavailable: 1 }),
      pdb("runtime", { maxUnavailable: 1 }),
    ];
  }

  function scalers(): KubeObject[] {
    if (autoscaling === "none") return [];
    const target = (component: Component) => ({ apiVersion: "apps/v1", kind: "Deployment", name: `${name}-${component}` });
    if (autoscaling === "hpa") {
      const hpa = (component: Component, range: { minReplicas?: number; maxReplicas?: number }): KubeObject => ({
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: meta(`${name}-${component}`, component),
        spec: {
          scaleTargetRef: target(component),
          minReplicas: Math.max(1, range.minReplicas ?? 1),
          maxReplicas: range.maxReplicas ?? 10,
          metrics: [
            {
              type: "Resource",
              resource: {
                name: "cpu",
                target: { type: "Utilization", averageUtilization: spec.autoscaling?.cpuUtilization ?? 70 },
              },
            },
          ],
        },
      });
      return [hpa("worker", workers), hpa("runtime", runtimes)];
    }
    // KEDA on the runnable backlog: runs that could start now (not those queued behind a busy thread).
    const scaled = (component: Component, range: { minReplicas?: number; maxReplicas?: number }): KubeObject => ({
      apiVersion: "keda.sh/v1alpha1",
      kind: "ScaledObject",
      metadata: meta(`${name}-${component}`, component),
      spec: {
        scaleTargetRef: { name: `${name}-${component}` },
        minReplicaCount: range.minReplicas ?? 1,
        maxReplicaCount: range.maxReplicas ?? 10,
        triggers: [
          {
            type: "prometheus",
            metadata: {
              serverAddress: settings.prometheusUrl,
              // deployment_id: the chart's PodMonitor copies it from the pods' platform.langopen.dev/deployment-id
              // label. max, not sum: every api-server replica counts the same queue.
              query: `max(langopen_runs_runnable{namespace="${namespace}",deployment_id="${spec.deploymentId}"})`,
              threshold: String(spec.autoscaling?.backlogPerReplica ?? 10),
            },
          },
        ],
      },
    });
    return [scaled("worker", workers), scaled("runtime", runtimes)];
  }
}
