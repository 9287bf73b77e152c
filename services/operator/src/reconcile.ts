import { lookup } from "node:dns/promises";
import type { Logger } from "@langopen/common";
import { APPLIED_HASH, applyObject, NotOwnedError } from "./apply.js";
import { describeRefusals, EGRESS_REFUSED_REASON, planEgress } from "./egress.js";
import type { AgentDeployment } from "./generated/agent-deployment.js";
import {
  AGENT_DEPLOYMENT_GROUP,
  AGENT_DEPLOYMENT_KIND,
  AGENT_DEPLOYMENT_PLURAL,
  AGENT_DEPLOYMENT_VERSION,
} from "./generated/agent-deployment-schema.js";
import { describeError, isStatus, type Kube, type LiveObject, refOf } from "./kube.js";
import {
  type Component,
  type KubeObject,
  ownedSelector,
  publicUrlOf,
  RENDERED_KINDS,
  REVISION_LABEL,
  type RenderSettings,
  renderDataPlane,
} from "./render.js";
import { agentDeploymentIssues } from "./validate.js";

/** Held on every AgentDeployment until its workers drained: the control plane drops the database only after. */
export const DRAIN_FINALIZER = "platform.langopen.dev/drain";

export const AGENT_DEPLOYMENT_API_VERSION = `${AGENT_DEPLOYMENT_GROUP}/${AGENT_DEPLOYMENT_VERSION}`;

export type LiveAgentDeployment = AgentDeployment & LiveObject;
type Status = NonNullable<AgentDeployment["status"]>;
type Condition = NonNullable<Status["conditions"]>[number];
/** EgressRestricted: present (True) only while spec.egress names addresses the installation keeps closed. */
type ConditionType = "Ready" | "Progressing" | "Degraded" | "EgressRestricted";
/** A condition to write, or null: to remove (a condition present only while it holds). */
type ConditionUpdate = [Condition["status"], string, string] | null;

interface DeploymentObject extends LiveObject {
  spec?: { replicas?: number; template?: { metadata?: { labels?: Record<string, string> } } };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    readyReplicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
  };
}

export interface OperatorSettings extends RenderSettings {
  urlTemplate: string;
}

export interface ReconcileContext {
  kube: Kube;
  settings: OperatorSettings;
  logger: Logger;
  /** A host name's addresses (the declared egress hosts become NetworkPolicy address blocks); default: the system resolver. */
  resolve?: (host: string) => Promise<string[]>;
  /** The runnable backlog of a data plane (its api-server's `langopen_runs_runnable`); undefined when unknown. */
  backlog?: (agd: LiveAgentDeployment) => Promise<number | undefined>;
  now?: () => Date;
}

export interface ReconcileResult {
  /** Look again after this long (0: at once; a rollout or drain under way; a refresh of the status); absent: nothing to do. */
  requeueAfterMs?: number;
}

const COMPONENTS: Array<{ component: Component; status: keyof NonNullable<Status["components"]> }> = [
  { component: "gateway", status: "gateway" },
  { component: "api-server", status: "apiServer" },
  { component: "worker", status: "workers" },
  { component: "runtime", status: "runtimes" },
];
const SOON_MS = 2_000;
const REFRESH_MS = 30_000;

/**
 * One level-triggered pass over one AgentDeployment: whatever happened before, it reads what is
 * there and moves it one step towards the spec. Steps: hold the drain finalizer; on deletion,
 * drain the workers and let go; on a revision change, drain the old revision's workers first (no
 * worker of the old revision claims a run once the new one serves, and the ones running finish
 * or hand their runs back within their SIGTERM grace); then apply every rendered object, delete
 * owned ones no longer rendered, and write the status. Safe to run any number of times.
 */
export async function reconcileAgentDeployment(
  ctx: ReconcileContext,
  key: { namespace: string; name: string },
): Promise<ReconcileResult> {
  const agd = await ctx.kube.read<LiveAgentDeployment>({
    apiVersion: AGENT_DEPLOYMENT_API_VERSION,
    kind: AGENT_DEPLOYMENT_KIND,
    ...key,
  });
  if (!agd) return {};
  if (agd.metadata.deletionTimestamp) return finalize(ctx, agd);

  const issues = agentDeploymentIssues(stripServerFields(agd));
  if (issues.length > 0) {
    const message = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
    await writeStatus(ctx, agd, {
      Degraded: ["True", "InvalidSpec", message],
      Progressing: ["False", "InvalidSpec", "the spec is invalid; nothing was changed"],
    });
    return { requeueAfterMs: REFRESH_MS };
  }
  if (!(agd.metadata.finalizers ?? []).includes(DRAIN_FINALIZER)) {
    await ctx.kube.replace({
      ...agd,
      metadata: { ...agd.metadata, finalizers: [...(agd.metadata.finalizers ?? []), DRAIN_FINALIZER] },
    } as KubeObject);
    // The write changed the resourceVersion: the next pass starts from it.
    return { requeueAfterMs: 0 };
  }

  const { name, namespace } = agd.metadata;
  const target = agd.spec.revision.id;
  const current = agd.status?.currentRevision;
  const deployments = await readDeployments(ctx, namespace, name);
  const worker = deployments.get("worker");

  // A revision change drains the old revision's workers before anything switches.
  if (current && current !== target && worker && revisionOf(worker) !== target) {
    const left = await drainWorkers(ctx, agd, worker);
    if (left > 0) {
      await writeStatus(ctx, agd, {
        Progressing: ["True", "Draining", `draining revision ${current}: ${left} worker(s) finishing or handing back their runs`],
        Ready: ["False", "Draining", `switching to revision ${target} once the workers of ${current} drained`],
        Degraded: ["False", "AsExpected", ""],
      });
      return { requeueAfterMs: SOON_MS };
    }
    ctx.logger.info({ agent_deployment: name, from: current, to: target }, "Workers drained; switching revision");
  }

  const resolvedHosts = await resolveEgressHosts(ctx, agd);
  const egressRestricted = egressCondition(ctx, agd, resolvedHosts);
  // Every status written from here on says what of the declared egress was kept closed.
  const write = (conditions: Partial<Record<ConditionType, ConditionUpdate>>, fields?: Partial<Status>) =>
    writeStatus(ctx, agd, { ...conditions, EgressRestricted: egressRestricted }, fields);
  try {
    await applyAll(ctx, agd, resolvedHosts);
  } catch (err) {
    if (isStatus(err, 409)) return { requeueAfterMs: 0 };
    const message = err instanceof NotOwnedError ? err.message : describeError(err);
    ctx.logger.warn({ agent_deployment: name, err: message }, "Could not apply the data plane");
    await write({
      Degraded: ["True", "ApplyFailed", message],
      Progressing: ["True", "RollingOut", `revision ${target}: waiting to apply its objects`],
      Ready: ["False", "ApplyFailed", message],
    });
    return { requeueAfterMs: SOON_MS * 5 };
  }

  const after = await readDeployments(ctx, namespace, name);
  const rolledOut = COMPONENTS.every(({ component }) => isRolledOut(after.get(component), target));
  const status: Partial<Status> = {
    components: Object.fromEntries(
      COMPONENTS.map(({ component, status: field }) => {
        const d = after.get(component);
        return [field, { replicas: d?.spec?.replicas ?? 0, readyReplicas: d?.status?.readyReplicas ?? 0 }];
      }),
    ),
    url: publicUrlOf(ctx.settings, name, namespace),
  };
  const backlog = await ctx.backlog?.(agd).catch(() => undefined);
  if (backlog !== undefined) status.backlog = backlog;

  if (rolledOut) {
    if (current !== target) {
      status.currentRevision = target;
      if (current) status.previousRevision = current;
      ctx.logger.info({ agent_deployment: name, revision: target }, "Revision serving");
    }
    await write(
      {
        Ready: ["True", "Available", `revision ${target} serves`],
        Progressing: ["False", "Complete", `revision ${target} rolled out`],
        Degraded: ["False", "AsExpected", ""],
      },
      status,
    );
    return { requeueAfterMs: REFRESH_MS };
  }
  const stuck = COMPONENTS.map(({ component }) => ({ component, why: deadlineExceeded(after.get(component)) })).find(
    (c) => c.why !== undefined,
  );
  if (stuck && current !== target) {
    const message = `revision ${target}: the ${stuck.component} did not become ready: ${stuck.why}`;
    await write(
      {
        Degraded: ["True", "RevisionFailed", message],
        Progressing: ["False", "RevisionFailed", message],
        Ready: ["False", "RevisionFailed", message],
      },
      status,
    );
    return { requeueAfterMs: REFRESH_MS };
  }
  const waiting = COMPONENTS.filter(({ component }) => !isRolledOut(after.get(component), target))
    .map(({ component, status: field }) => {
      const c = status.components?.[field];
      return `${component} ${c?.readyReplicas ?? 0}/${c?.replicas ?? 0} ready`;
    })
    .join(", ");
  if (current === target) {
    await write(
      {
        Degraded: ["True", "Unavailable", `revision ${target} serves with fewer replicas than asked: ${waiting}`],
        Progressing: ["True", "RollingOut", `revision ${target}: ${waiting}`],
        Ready: ["False", "Unavailable", waiting],
      },
      status,
    );
  } else {
    await write(
      {
        Progressing: ["True", "RollingOut", `revision ${target}: ${waiting}`],
        Ready: ["False", "RollingOut", `revision ${target} is starting: ${waiting}`],
        Degraded: ["False", "AsExpected", ""],
      },
      status,
    );
  }
  return { requeueAfterMs: SOON_MS };
}

/** Deletion: the workers drain, then the finalizer goes (the API server then deletes the owned objects). */
async function finalize(ctx: ReconcileContext, agd: LiveAgentDeployment): Promise<ReconcileResult> {
  if (!(agd.metadata.finalizers ?? []).includes(DRAIN_FINALIZER)) return {};
  const worker = (await readDeployments(ctx, agd.metadata.namespace, agd.metadata.name)).get("worker");
  const left = worker ? await drainWorkers(ctx, agd, worker) : 0;
  if (left > 0) {
    await writeStatus(ctx, agd, {
      Progressing: ["True", "Draining", `deleting: ${left} worker(s) finishing or handing back their runs`],
      Ready: ["False", "Deleting", "the deployment is being deleted"],
    });
    return { requeueAfterMs: SOON_MS };
  }
  try {
    await ctx.kube.replace({
      ...agd,
      metadata: { ...agd.metadata, finalizers: (agd.metadata.finalizers ?? []).filter((f) => f !== DRAIN_FINALIZER) },
    } as KubeObject);
  } catch (err) {
    if (!isStatus(err, 409) && !isStatus(err, 404)) throw err;
  }
  ctx.logger.info({ agent_deployment: agd.metadata.name }, "Workers drained; released the AgentDeployment");
  return {};
}

/**
 * Scales the workers to zero, with their autoscaler out of the way (it would scale them back),
 * and answers how many worker pods are left. Each gets SIGTERM and its grace period to finish
 * or hand back its runs (the rendered terminationGracePeriodSeconds outlasts the drain).
 */
async function drainWorkers(ctx: ReconcileContext, agd: LiveAgentDeployment, worker: DeploymentObject): Promise<number> {
  const { namespace, name } = agd.metadata;
  for (const { apiVersion, kind } of [
    { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject" },
    { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler" },
  ]) {
    const ref = { apiVersion, kind, namespace, name: `${name}-worker` };
    // read is undefined too where the kind is not served (KEDA not installed): nothing to pause.
    if (await ctx.kube.read(ref)) await ctx.kube.delete(ref);
  }
  if ((worker.spec?.replicas ?? 0) !== 0) {
    await ctx.kube.mergePatch({
      apiVersion: "apps/v1",
      kind: "Deployment",
      // Clearing the digest makes the next apply rewrite the whole object (and its replicas).
      metadata: { name: `${name}-worker`, namespace, labels: {}, annotations: { [APPLIED_HASH]: null } },
      spec: { replicas: 0 },
    } as unknown as KubeObject);
  }
  return worker.status?.replicas ?? 0;
}

/**
 * The addresses of the declared egress host names, now. A name that does not resolve opens
 * nothing (logged); a wildcard cannot be resolved and stays in the policy's annotation only.
 */
async function resolveEgressHosts(ctx: ReconcileContext, agd: LiveAgentDeployment): Promise<Record<string, string[]>> {
  const resolve = ctx.resolve ?? systemResolve;
  const out: Record<string, string[]> = {};
  for (const host of new Set((agd.spec.egress ?? []).flatMap((e) => (e.host && !e.host.startsWith("*.") ? [e.host] : [])))) {
    try {
      out[host] = await resolve(host);
    } catch (err) {
      ctx.logger.warn({ agent_deployment: agd.metadata.name, host, err: describeError(err) }, "Could not resolve an egress host");
    }
  }
  return out;
}

async function systemResolve(host: string): Promise<string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address);
}

/**
 * The EgressRestricted condition: True, naming them, while spec.egress names blocks or hosts whose
 * addresses the installation keeps closed (the NetworkPolicy leaves them out); absent otherwise.
 * Logged as a warning when it appears or changes (not at every pass).
 */
function egressCondition(
  ctx: ReconcileContext,
  agd: LiveAgentDeployment,
  resolvedHosts: Record<string, string[]>,
): ConditionUpdate {
  const plan = planEgress(agd.spec.egress ?? [], resolvedHosts, ctx.settings.egressAllowedCidrs);
  const message = describeRefusals(plan);
  if (message === undefined) return null;
  const before = agd.status?.conditions?.find((c) => c.type === "EgressRestricted");
  if (before?.status !== "True" || before.message !== message)
    ctx.logger.warn(
      {
        agent_deployment: agd.metadata.name,
        refused: plan.filter((p) => p.refused.length > 0).map((p) => ({ entry: p.entry, refused: p.refused })),
      },
      "Kept private or special-purpose addresses of the declared egress closed",
    );
  return ["True", EGRESS_REFUSED_REASON, message];
}

async function applyAll(ctx: ReconcileContext, agd: LiveAgentDeployment, resolvedHosts: Record<string, string[]>): Promise<void> {
  const objects = renderDataPlane(agd, ctx.settings, resolvedHosts);
  const scaled = new Set(
    objects
      .filter((o) => o.kind === "ScaledObject" || o.kind === "HorizontalPodAutoscaler")
      .map((o) => (o.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name),
  );
  for (const object of objects) {
    try {
      await applyObject(ctx.kube, object, { keepReplicas: object.kind === "Deployment" && scaled.has(object.metadata.name) });
    } catch (err) {
      if (object.kind === "ScaledObject" && isStatus(err, 404))
        throw new Error(
          "KEDA is not installed (keda.sh/v1alpha1 ScaledObject is not served): install KEDA or set spec.autoscaling.mode to hpa",
        );
      throw err;
    }
  }
  // Owned objects no longer rendered (autoscaling switched from keda to hpa, a PDB no longer needed).
  const wanted = new Set(objects.map((o) => `${o.kind}/${o.metadata.name}`));
  for (const { apiVersion, kind } of RENDERED_KINDS) {
    const owned = await ctx.kube.list(apiVersion, kind, agd.metadata.namespace, ownedSelector(agd.metadata.name));
    for (const object of owned ?? []) {
      const ours = (object.metadata.ownerReferences ?? []).some((ref) => ref.uid === agd.metadata.uid);
      if (ours && !wanted.has(`${kind}/${object.metadata.name}`)) await ctx.kube.delete(refOf({ ...object, apiVersion, kind }));
    }
  }
}

async function readDeployments(
  ctx: ReconcileContext,
  namespace: string,
  name: string,
): Promise<Map<Component, DeploymentObject>> {
  const out = new Map<Component, DeploymentObject>();
  for (const { component } of COMPONENTS) {
    const d = await ctx.kube.read<DeploymentObject>({
      apiVersion: "apps/v1",
      kind: "Deployment",
      namespace,
      name: `${name}-${component}`,
    });
    if (d) out.set(component, d);
  }
  return out;
}

const revisionOf = (d: DeploymentObject) => d.spec?.template?.metadata?.labels?.[REVISION_LABEL];

/** The Deployment runs the target revision with every replica it asks for updated and ready. */
function isRolledOut(d: DeploymentObject | undefined, target: string): boolean {
  if (!d || revisionOf(d) !== target) return false;
  const want = d.spec?.replicas ?? 0;
  const s = d.status ?? {};
  return (
    (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 1) &&
    (s.updatedReplicas ?? 0) >= want &&
    (s.readyReplicas ?? 0) >= want &&
    (s.replicas ?? 0) <= want
  );
}

/** Kubernetes' own verdict on a rollout that does not progress (spec.progressDeadlineSeconds). */
function deadlineExceeded(d: DeploymentObject | undefined): string | undefined {
  const c = d?.status?.conditions?.find((x) => x.type === "Progressing");
  return c?.status === "False" && c.reason === "ProgressDeadlineExceeded" ? (c.message ?? c.reason) : undefined;
}

/** What the validator sees: the resource as written, without what the API server adds. */
function stripServerFields(agd: LiveAgentDeployment): unknown {
  const { status: _status, ...rest } = agd;
  return rest;
}

/**
 * Writes the status when it changed (nothing otherwise: an idle operator writes nothing).
 * Conditions keep their lastTransitionTime while their status stays.
 */
async function writeStatus(
  ctx: ReconcileContext,
  agd: LiveAgentDeployment,
  conditions: Partial<Record<ConditionType, ConditionUpdate>>,
  fields: Partial<Status> = {},
): Promise<void> {
  const now = (ctx.now?.() ?? new Date()).toISOString().replace(/\.\d+Z$/, "Z");
  const generation = agd.metadata.generation ?? 1;
  const before = agd.status ?? {};
  const merged = new Map((before.conditions ?? []).map((c) => [c.type, c]));
  for (const [type, update] of Object.entries(conditions) as Array<[ConditionType, ConditionUpdate]>) {
    if (update === null) {
      merged.delete(type);
      continue;
    }
    const [status, reason, message] = update;
    const old = merged.get(type);
    merged.set(type, {
      type,
      status,
      reason,
      message,
      observedGeneration: generation,
      lastTransitionTime: old && old.status === status ? old.lastTransitionTime : now,
    });
  }
  const order: ConditionType[] = ["Ready", "Progressing", "Degraded", "EgressRestricted"];
  const next: Status = {
    ...before,
    ...fields,
    observedGeneration: generation,
    conditions: [...merged.values()].sort(
      (a, b) => order.indexOf(a.type as ConditionType) - order.indexOf(b.type as ConditionType),
    ),
  };
  if (JSON.stringify(next) === JSON.stringify(before)) return;
  try {
    await ctx.kube.replaceStatus({ ...agd, status: next } as LiveAgentDeployment, AGENT_DEPLOYMENT_PLURAL);
  } catch (err) {
    // Changed since it was read: the next pass writes the status of what it reads then.
    if (!isStatus(err, 409) && !isStatus(err, 404)) throw err;
  }
}
