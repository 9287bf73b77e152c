import { createHash } from "node:crypto";
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1ConfigMap,
  type V1ObjectMeta,
  type V1Secret,
} from "@kubernetes/client-node";
import {
  canonicalJson,
  generateInternalSecret,
  type Logger,
  MAX_EGRESS_ENTRIES,
  MAX_EGRESS_PORTS,
  parseEgress,
  runtimeCredentialsOf,
} from "@langopen/common";
import {
  AGENT_DEPLOYMENT_GROUP as AGENT_GROUP,
  AGENT_DEPLOYMENT_PLURAL as AGENT_PLURAL,
  AGENT_DEPLOYMENT_VERSION as AGENT_VERSION,
  type AgentDeployment,
  describeKubeError,
  isKubeStatus,
} from "@langopen/operator";
import type { BundleKeyIssuer } from "../bundle-keys.js";
import type { DeploymentDatabases } from "../database-store.js";
import type { SandboxName } from "../store.js";
import type {
  ComponentReplicas,
  DataPlaneCondition,
  DataPlanePhase,
  DesiredDataPlane,
  Driver,
  ObservedDataPlane,
} from "./contract.js";

export const AGENT_API_VERSION = `${AGENT_GROUP}/${AGENT_VERSION}`;
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "langopen-control-plane";
export const DEPLOYMENT_ID_LABEL = "platform.langopen.dev/deployment-id";
/** The SHA-256 of the spec the control plane last wrote: fields the API server defaults do not count as a change. */
export const SPEC_HASH_ANNOTATION = "platform.langopen.dev/spec-sha256";
/** The key of the platform's public key in its ConfigMap. */
export const PUBLIC_KEY_FILE = "signing-key.pub.pem";

/** The names of a deployment's Secrets. */
export const secretNamesOf = (name: string) => ({
  database: `${name}-database`,
  secrets: `${name}-secrets`,
  credentials: `${name}-credentials`,
});

/** A Secret holding a connection URL (the CRD's secretKeyRef). */
export interface SecretKeyRef {
  secretName: string;
  key: string;
}

export interface KubernetesDriverOptions {
  /** Where the API server is and how to authenticate (in a pod: its service account). */
  kubeConfig: KubeConfig;
  /** Where the AgentDeployments and their Secrets live. */
  namespace: string;
  databases: DeploymentDatabases;
  bundleKeys: BundleKeyIssuer;
  /** The platform's public key (PEM): data planes verify bundles with it. */
  publicKeyPem: string;
  /** The ConfigMap the public key is written to. */
  publicKeyConfigMap: string;
  /** The control plane's URL as data planes reach it (they fetch bundles there with `langopen bundle fetch`). */
  bundleUrl: string;
  /** The Redis every data plane uses (each with its own key prefix); absent: none in the spec. */
  redisSecret?: SecretKeyRef;
  logger: Logger;
  /** How long one call to the API server may take. */
  requestTimeoutMs?: number;
}

type AgentDeploymentSpec = AgentDeployment["spec"];
type AgentDeploymentStatus = NonNullable<AgentDeployment["status"]>;
/** An AgentDeployment as the API server returns it. */
export type AgentDeploymentObject = Omit<AgentDeployment, "metadata"> & { metadata: V1ObjectMeta };

const SANDBOXES: Record<SandboxName, NonNullable<AgentDeploymentSpec["sandbox"]>> = {
  GVISOR: "gvisor",
  KATA: "kata",
  NODE: "none",
  NONE: "none",
};
/** The CRD's default maxReplicas of a scaled component: a higher minReplicas must raise it. */
const DEFAULT_MAX_REPLICAS = 10;

const labelsOf = (deploymentId: string): Record<string, string> => ({
  [MANAGED_BY_LABEL]: MANAGED_BY,
  [DEPLOYMENT_ID_LABEL]: deploymentId,
});

type EgressSpec = NonNullable<AgentDeploymentSpec["egress"]>;

/**
 * `spec.egress` from the revision's egress (the builder's normalized strings). A string that does
 * not parse cannot come from the builder; it is left out, and said in the log.
 */
function egressSpec(d: DesiredDataPlane, logger: Logger | undefined): EgressSpec {
  const { entries, problems } = parseEgress(d.egress);
  for (const problem of problems)
    logger?.warn({ deployment: d.name, revision_id: d.revisionId, why: problem }, "Left out egress entry of revision");
  return entries
    .filter((e) => e.ports.length <= MAX_EGRESS_PORTS)
    .slice(0, MAX_EGRESS_ENTRIES)
    .map((e) => ({
      ...(e.host !== undefined ? { host: e.host } : { cidr: e.cidr }),
      ports: e.ports as EgressSpec[number]["ports"],
    }));
}

/** The AgentDeployment's spec for a desired data plane: a pure function of it and the driver's settings. */
export function agentDeploymentSpec(
  d: DesiredDataPlane,
  settings: { bundleUrl: string; redisSecret?: SecretKeyRef; logger?: Logger },
): AgentDeploymentSpec {
  const names = secretNamesOf(d.name);
  const workers: NonNullable<NonNullable<AgentDeploymentSpec["components"]>["workers"]> = { minReplicas: d.replicas };
  if (d.replicas > DEFAULT_MAX_REPLICAS) workers.maxReplicas = d.replicas;
  const components: NonNullable<AgentDeploymentSpec["components"]> = { workers };
  const runtimes: NonNullable<typeof components.runtimes> = {};
  if (d.resources.runtime_processes) {
    runtimes.minReplicas = d.resources.runtime_processes;
    if (d.resources.runtime_processes > DEFAULT_MAX_REPLICAS) runtimes.maxReplicas = d.resources.runtime_processes;
  }
  if (d.resources.runtime_memory_mb) runtimes.resources = { limits: { memory: `${d.resources.runtime_memory_mb}Mi` } };
  if (Object.keys(runtimes).length > 0) components.runtimes = runtimes;
  const egress = egressSpec(d, settings.logger);
  return {
    deploymentId: d.deploymentId,
    revision: {
      id: d.revisionId,
      number: d.revisionNumber,
      bundleDigest: d.bundleDigest,
      bundleUrl: settings.bundleUrl,
      configPath: d.configPath,
    },
    sandbox: SANDBOXES[d.sandbox],
    // None declared: no field, so specs written before egress was kept stay the same.
    ...(egress.length > 0 ? { egress } : {}),
    env: Object.keys(d.env)
      .sort()
      .map((name) => ({ name, value: d.env[name] as string })),
    secretRefs: [names.secrets],
    database: { secretName: names.database, key: "url" },
    ...(settings.redisSecret ? { redis: { secretName: settings.redisSecret.secretName, key: settings.redisSecret.key } } : {}),
    components,
  };
}

/** Every field of `want` has the same value in `have` (which may hold more: defaults the API server applied). */
export function isSubset(want: unknown, have: unknown): boolean {
  if (Array.isArray(want))
    return Array.isArray(have) && want.length === have.length && want.every((w, i) => isSubset(w, have[i]));
  if (want !== null && typeof want === "object") {
    if (have === null || typeof have !== "object" || Array.isArray(have)) return false;
    return Object.entries(want).every(([k, v]) => v === undefined || isSubset(v, (have as Record<string, unknown>)[k]));
  }
  return want === have;
}

const specHash = (spec: AgentDeploymentSpec) => createHash("sha256").update(canonicalJson(spec)).digest("hex");

type Condition = NonNullable<AgentDeploymentStatus["conditions"]>[number];

/**
 * What an AgentDeployment's status (the operator's) says of its data plane. A status older than
 * the spec (observedGeneration behind metadata.generation) says nothing yet: `starting`. Then:
 * `failed` when Degraded is True for RevisionFailed at this generation; `ready` when Ready is True
 * and the desired revision serves; `restarting` when Degraded is True otherwise while the desired
 * revision is the current one; `starting` else.
 */
export function observeAgentDeployment(cr: AgentDeploymentObject): ObservedDataPlane {
  const status: AgentDeploymentStatus = cr.status ?? {};
  const generation = cr.metadata.generation;
  const revisionId = cr.spec.revision.id;
  const find = (type: string) => status.conditions?.find((c) => c.type === type);
  const ready = find("Ready");
  const progressing = find("Progressing");
  const degraded = find("Degraded");
  const isTrue = (c: Condition | undefined): c is Condition => c?.status === "True";
  const current = status.currentRevision === revisionId;
  let phase: DataPlanePhase;
  let message: string;
  if (status.observedGeneration === undefined || (generation !== undefined && status.observedGeneration < generation)) {
    phase = "starting";
    message =
      status.observedGeneration === undefined
        ? "waiting for the operator to act on the AgentDeployment"
        : `waiting for the operator to act on generation ${generation} of the AgentDeployment (it has seen ${status.observedGeneration})`;
  } else if (
    isTrue(degraded) &&
    degraded.reason === "RevisionFailed" &&
    (degraded.observedGeneration ?? status.observedGeneration) === generation
  ) {
    phase = "failed";
    message = degraded.message;
  } else if (isTrue(ready) && current) {
    phase = "ready";
    message = isTrue(progressing) ? progressing.message : "";
  } else if (isTrue(degraded) && current) {
    phase = "restarting";
    message = degraded.message;
  } else {
    phase = "starting";
    message =
      [isTrue(degraded) ? degraded : undefined, progressing, ready].find((c) => c?.message)?.message ??
      "waiting for the data plane to become ready";
  }
  const components: Record<string, ComponentReplicas> = {};
  for (const [name, c] of Object.entries(status.components ?? {}))
    if (c) components[name] = { replicas: c.replicas ?? 0, readyReplicas: c.readyReplicas ?? 0 };
  return {
    deploymentId: cr.spec.deploymentId,
    revisionId,
    phase,
    message,
    url: status.url ?? "",
    conditions: (status.conditions ?? []).map(
      (c): DataPlaneCondition => ({
        type: c.type,
        status: c.status,
        reason: c.reason,
        message: c.message,
        lastTransitionTime: c.lastTransitionTime,
      }),
    ),
    ...(status.backlog !== undefined ? { backlog: status.backlog } : {}),
    components,
  };
}

const decode = (data: Record<string, string> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
const encode = (data: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")]));

function sameData(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/** An object of ours carries our labels. */
function hasLabels(meta: V1ObjectMeta | undefined, labels: Record<string, string>): boolean {
  return Object.entries(labels).every(([k, v]) => meta?.labels?.[k] === v);
}

/** A write the API server refused, named for the observation: "Secret x-database: HTTP 403: …". */
class WriteError extends Error {
  constructor(
    readonly object: string,
    readonly failure: unknown,
  ) {
    super(`${object}: ${describeKubeError(failure)}`, { cause: failure });
  }
}

/** Work outside the cluster a deployment needs (its database, its key), named when it fails. */
async function preparing<T>(what: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    // A connection refused on every address is an AggregateError without a message of its own.
    const why =
      err instanceof AggregateError && err.errors.length > 0
        ? err.errors.map((e: unknown) => (e as Error).message).join("; ")
        : (err as Error).message || String(err);
    throw new Error(`could not provide ${what}: ${why}`, { cause: err });
  }
}

/**
 * Runs deployments on Kubernetes: one AgentDeployment custom resource per deployment (the
 * operator turns it into Deployments, Services, … and writes its status), with the Secrets and
 * ConfigMap it refers to. Level-triggered like the local driver: `reconcile` answers at once from
 * what the last pass saw and starts a pass (one at a time; calls during a pass ask for one more);
 * a pass writes only what differs, so an unchanged world costs three reads. Failures of the API
 * server are logged and retried by the next pass; they never escape `reconcile`.
 */
export class KubernetesDriver implements Driver {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private desired: DesiredDataPlane[] = [];
  /** The AgentDeployments of the last successful list (and what this driver wrote since), by deployment id. */
  private agents: Map<string, AgentDeploymentObject> | undefined;
  /** Why a deployment's objects could not be written in the last pass. */
  private readonly writeErrors = new Map<string, string>();
  /** Why the last pass could not read the cluster. */
  private readError: string | undefined;
  private lastLogged = "";
  /** Deployments whose database this process made sure of. */
  private readonly provisioned = new Set<string>();
  /** Bundle keys issued but not yet in their Secret (a write that failed): reused, not issued again. */
  private readonly pendingBundleKeys = new Map<string, string>();
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly options: KubernetesDriverOptions) {
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
  }

  reconcile(desired: DesiredDataPlane[]): ObservedDataPlane[] {
    this.desired = desired;
    this.schedule();
    return desired.map((d) => this.observe(d));
  }

  isStopped(deploymentId: string): boolean {
    // Nothing known yet (no list succeeded): it may still run.
    return this.agents !== undefined && !this.agents.has(deploymentId);
  }

  async remove(deploymentId: string): Promise<void> {
    const { namespace } = this.options;
    const labelSelector = `${MANAGED_BY_LABEL}=${MANAGED_BY},${DEPLOYMENT_ID_LABEL}=${deploymentId}`;
    const secrets = await this.call(this.core.listNamespacedSecret({ namespace, labelSelector }));
    for (const secret of secrets.items) {
      const name = secret.metadata?.name as string;
      await this.call(this.core.deleteNamespacedSecret({ namespace, name })).catch((err: unknown) => {
        if (!isKubeStatus(err, 404)) throw err;
      });
    }
    await this.options.databases.drop(deploymentId);
    this.provisioned.delete(deploymentId);
    this.pendingBundleKeys.delete(deploymentId);
    this.writeErrors.delete(deploymentId);
    this.options.logger.info(
      { deployment_id: deploymentId, secrets: secrets.items.length },
      "Removed deployment's database and Secrets",
    );
  }

  async stop(): Promise<void> {
    // The data planes keep running: they are the cluster's.
    this.stopped = true;
    await this.running;
  }

  /** Resolves when no pass runs and none is asked for (tests; an orderly stop). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.pass(this.desired).catch((err: unknown) =>
            this.options.logger.error({ err }, "Kubernetes driver pass failed"),
          );
        } while (this.again && !this.stopped);
      } finally {
        this.running = undefined;
      }
    })();
  }

  private observe(d: DesiredDataPlane): ObservedDataPlane {
    const cr = this.agents?.get(d.deploymentId);
    const writeError = this.writeErrors.get(d.deploymentId);
    let seen: ObservedDataPlane | undefined;
    try {
      seen = cr ? observeAgentDeployment(cr) : undefined;
    } catch (err) {
      // Not what the CRD allows (edited by hand?): the next pass writes the spec again.
      seen = undefined;
      this.options.logger.debug({ err, deployment: d.name }, "Could not read AgentDeployment");
    }
    if (writeError)
      return {
        deploymentId: d.deploymentId,
        revisionId: d.revisionId,
        phase: "starting",
        message: `${writeError}; retrying`,
        url: seen?.url ?? "",
        ...(seen?.conditions ? { conditions: seen.conditions } : {}),
      };
    if (seen) return seen;
    return {
      deploymentId: d.deploymentId,
      revisionId: d.revisionId,
      phase: "starting",
      message: this.readError
        ? `cannot read the cluster's AgentDeployments: ${this.readError}; retrying`
        : `creating AgentDeployment ${d.name}`,
      url: "",
    };
  }

  /** A call to the API server, bounded in time. */
  private async call<T>(request: Promise<T>): Promise<T> {
    const ms = this.options.requestTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        request,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the Kubernetes API server did not answer within ${ms} ms`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Logs a failure once while it lasts (a pass runs every second or so). */
  private noteFailure(key: string, err: unknown, msg: string, fields: Record<string, unknown> = {}): void {
    const text = `${key} ${describeKubeError(err)}`;
    const level = text === this.lastLogged ? "debug" : "warn";
    this.lastLogged = text;
    this.options.logger[level]({ ...fields, err: describeKubeError(err) }, msg);
  }

  private async pass(desired: DesiredDataPlane[]): Promise<void> {
    const { namespace } = this.options;
    const managed = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
    let agents: Map<string, AgentDeploymentObject>;
    let secrets: Map<string, V1Secret>;
    try {
      const [agentList, secretList] = await Promise.all([
        this.call(
          this.custom.listNamespacedCustomObject({
            group: AGENT_GROUP,
            version: AGENT_VERSION,
            namespace,
            plural: AGENT_PLURAL,
            labelSelector: managed,
          }) as Promise<{ items?: AgentDeploymentObject[] }>,
        ),
        this.call(this.core.listNamespacedSecret({ namespace, labelSelector: managed })),
      ]);
      agents = new Map();
      for (const item of agentList.items ?? []) {
        const id = item.metadata?.labels?.[DEPLOYMENT_ID_LABEL] ?? item.spec?.deploymentId;
        if (id) agents.set(id, item);
      }
      secrets = new Map(secretList.items.map((s) => [s.metadata?.name as string, s]));
      this.readError = undefined;
    } catch (err) {
      this.readError = describeKubeError(err);
      this.noteFailure("read", err, "Could not list AgentDeployments and Secrets; retrying", { namespace });
      return;
    }

    await this.ensurePublicKey().catch((err: unknown) =>
      this.noteFailure("configmap", err, "Could not write the public key's ConfigMap; retrying", {
        config_map: this.options.publicKeyConfigMap,
      }),
    );

    const wanted = new Set<string>();
    for (const d of desired) {
      if (this.stopped) return;
      wanted.add(d.deploymentId);
      try {
        await this.ensureDeployment(d, agents, secrets);
        this.writeErrors.delete(d.deploymentId);
      } catch (err) {
        const text = err instanceof WriteError ? `could not write ${err.message}` : (err as Error).message || String(err);
        this.writeErrors.set(d.deploymentId, text);
        this.noteFailure(`write ${d.deploymentId}`, err instanceof WriteError ? err.failure : err, "Could not apply deployment", {
          deployment: d.name,
          why: text,
        });
      }
    }
    for (const id of this.writeErrors.keys()) if (!wanted.has(id)) this.writeErrors.delete(id);

    for (const [id, cr] of agents) {
      if (wanted.has(id) || cr.metadata.deletionTimestamp) continue;
      const name = cr.metadata.name as string;
      try {
        await this.call(
          this.custom.deleteNamespacedCustomObject({
            group: AGENT_GROUP,
            version: AGENT_VERSION,
            namespace,
            plural: AGENT_PLURAL,
            name,
          }),
        );
        this.options.logger.info({ deployment_id: id, name }, "Deleted AgentDeployment");
      } catch (err) {
        if (!isKubeStatus(err, 404))
          this.noteFailure(`delete ${id}`, err, "Could not delete AgentDeployment; retrying", { deployment_id: id, name });
      }
    }
    this.agents = agents;
  }

  private async ensurePublicKey(): Promise<void> {
    const { namespace, publicKeyConfigMap: name, publicKeyPem } = this.options;
    let existing: V1ConfigMap | undefined;
    try {
      existing = await this.call(this.core.readNamespacedConfigMap({ namespace, name }));
    } catch (err) {
      if (!isKubeStatus(err, 404)) throw err;
    }
    const labels = { [MANAGED_BY_LABEL]: MANAGED_BY };
    if (!existing) {
      await this.call(
        this.core.createNamespacedConfigMap({
          namespace,
          body: {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name, namespace, labels },
            data: { [PUBLIC_KEY_FILE]: publicKeyPem },
          },
        }),
      );
      this.options.logger.info({ config_map: name }, "Created ConfigMap of the platform's public key");
      return;
    }
    if (existing.data?.[PUBLIC_KEY_FILE] === publicKeyPem) return;
    await this.call(
      this.core.replaceNamespacedConfigMap({
        namespace,
        name,
        body: { ...existing, apiVersion: "v1", kind: "ConfigMap", data: { ...existing.data, [PUBLIC_KEY_FILE]: publicKeyPem } },
      }),
    );
    this.options.logger.info({ config_map: name }, "Replaced ConfigMap of the platform's public key");
  }

  /** The deployment's Secrets and AgentDeployment, as they should be. */
  private async ensureDeployment(
    d: DesiredDataPlane,
    agents: Map<string, AgentDeploymentObject>,
    secrets: Map<string, V1Secret>,
  ): Promise<void> {
    const names = secretNamesOf(d.name);
    const labels = labelsOf(d.deploymentId);

    const databaseSecret = secrets.get(names.database);
    const url = this.options.databases.urlOf(d.deploymentId);
    if (!this.provisioned.has(d.deploymentId) || decode(databaseSecret?.data).url !== url) {
      await preparing("its database", this.options.databases.ensure(d.deploymentId));
      this.provisioned.add(d.deploymentId);
    }
    await this.ensureSecret(names.database, labels, { url }, databaseSecret);

    await this.ensureSecret(names.secrets, labels, d.secrets, secrets.get(names.secrets));

    const credentialsSecret = secrets.get(names.credentials);
    const held = decode(credentialsSecret?.data);
    const internalSecret =
      held["internal-secret"] && held["internal-secret"].length >= 32 ? held["internal-secret"] : generateInternalSecret();
    let bundleKey = held["bundle-key"] || this.pendingBundleKeys.get(d.deploymentId);
    if (!bundleKey) {
      bundleKey = await preparing("its bundle key", this.options.bundleKeys.issue(d.deploymentId));
      this.pendingBundleKeys.set(d.deploymentId, bundleKey);
    }
    const runtime = runtimeCredentialsOf(internalSecret);
    const written = await this.ensureSecret(
      names.credentials,
      labels,
      {
        "internal-secret": internalSecret,
        "runtime-token": runtime.token,
        "caller-token-sha256": runtime.callerTokenSha256,
        "bundle-key": bundleKey,
      },
      credentialsSecret,
    );
    if (written) this.pendingBundleKeys.delete(d.deploymentId);

    await this.ensureAgent(d, labels, agents);
  }

  /** Whether the Secret holds `data` now (false: it changed since it was listed; the next pass tries again). */
  private async ensureSecret(
    name: string,
    labels: Record<string, string>,
    data: Record<string, string>,
    existing: V1Secret | undefined,
  ): Promise<boolean> {
    const { namespace } = this.options;
    if (existing && hasLabels(existing.metadata, labels) && sameData(decode(existing.data), data)) return true;
    try {
      if (!existing) {
        await this.call(
          this.core.createNamespacedSecret({
            namespace,
            body: { apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name, namespace, labels }, data: encode(data) },
          }),
        );
        this.options.logger.info({ secret: name }, "Created Secret");
      } else {
        await this.call(
          this.core.replaceNamespacedSecret({
            namespace,
            name,
            body: {
              ...existing,
              apiVersion: "v1",
              kind: "Secret",
              metadata: { ...existing.metadata, labels: { ...existing.metadata?.labels, ...labels } },
              data: encode(data),
              stringData: undefined,
            },
          }),
        );
        this.options.logger.info({ secret: name }, "Replaced Secret");
      }
      return true;
    } catch (err) {
      if (!existing && isKubeStatus(err, 409))
        throw new WriteError(`Secret ${name}`, new Error("a Secret of that name exists and is not the control plane's"));
      // Changed since it was listed: the next pass sees the new one.
      if (isKubeStatus(err, 409)) return false;
      throw new WriteError(`Secret ${name}`, err);
    }
  }

  private async ensureAgent(
    d: DesiredDataPlane,
    labels: Record<string, string>,
    agents: Map<string, AgentDeploymentObject>,
  ): Promise<void> {
    const { namespace } = this.options;
    const spec = agentDeploymentSpec(d, this.options);
    const hash = specHash(spec);
    const existing = agents.get(d.deploymentId);
    const what = `AgentDeployment ${d.name}`;
    const target = { group: AGENT_GROUP, version: AGENT_VERSION, namespace, plural: AGENT_PLURAL };
    if (!existing) {
      const body = {
        apiVersion: AGENT_API_VERSION,
        kind: "AgentDeployment",
        metadata: { name: d.name, namespace, labels, annotations: { [SPEC_HASH_ANNOTATION]: hash } },
        spec,
      };
      try {
        const created = (await this.call(this.custom.createNamespacedCustomObject({ ...target, body }))) as AgentDeploymentObject;
        agents.set(d.deploymentId, created);
        this.options.logger.info({ deployment: d.name, revision_id: d.revisionId }, "Created AgentDeployment");
      } catch (err) {
        if (isKubeStatus(err, 409))
          throw new WriteError(what, new Error("an AgentDeployment of that name exists and is not the control plane's"));
        throw new WriteError(what, err);
      }
      return;
    }
    if (existing.metadata.deletionTimestamp)
      throw new WriteError(what, new Error("it is being deleted; it is created again once it is gone"));
    const unchanged =
      existing.metadata.annotations?.[SPEC_HASH_ANNOTATION] === hash &&
      isSubset(spec, existing.spec) &&
      hasLabels(existing.metadata, labels);
    if (unchanged) return;
    // The status travels as it was read: the API server ignores it here (status subresource), and
    // a resourceVersion that moved on makes this a conflict.
    const body = {
      ...existing,
      metadata: {
        ...existing.metadata,
        labels: { ...existing.metadata.labels, ...labels },
        annotations: { ...existing.metadata.annotations, [SPEC_HASH_ANNOTATION]: hash },
      },
      spec,
    };
    try {
      const replaced = (await this.call(
        this.custom.replaceNamespacedCustomObject({ ...target, name: existing.metadata.name as string, body }),
      )) as AgentDeploymentObject;
      agents.set(d.deploymentId, replaced);
      this.options.logger.info({ deployment: d.name, revision_id: d.revisionId }, "Replaced AgentDeployment's spec");
    } catch (err) {
      // Changed since it was listed (the operator wrote its status, say): the next pass sees the new one.
      if (isKubeStatus(err, 409)) return;
      throw new WriteError(what, err);
    }
  }
}
