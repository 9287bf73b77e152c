import { type Informer, type KubeConfig, type KubernetesObject, makeInformer } from "@kubernetes/client-node";
import type { Logger } from "@langopen/common";
import {
  AGENT_DEPLOYMENT_GROUP,
  AGENT_DEPLOYMENT_KIND,
  AGENT_DEPLOYMENT_PLURAL,
  AGENT_DEPLOYMENT_VERSION,
} from "./generated/agent-deployment-schema.js";
import { describeError, type Kube } from "./kube.js";
import { AGENT_DEPLOYMENT_API_VERSION, type ReconcileContext, reconcileAgentDeployment } from "./reconcile.js";

export interface ControllerOptions extends ReconcileContext {
  kubeConfig: KubeConfig;
  kube: Kube;
  /** The namespace whose AgentDeployments it serves; undefined: every namespace. */
  namespace?: string;
  logger: Logger;
  /** Back-off after a failed reconcile: doubled per failure in a row, up to 60 s. */
  retryBaseMs?: number;
  /** A pass over every AgentDeployment, whatever the watches said (level-triggered safety net). */
  resyncMs?: number;
  /** Told of every reconcile's outcome (metrics). */
  onReconciled?: (outcome: "ok" | "error") => void;
}

/**
 * Watches AgentDeployments and the Deployments the operator owns, and reconciles each
 * AgentDeployment one at a time per key: an event marks its key due, a reconcile asks to look
 * again later (a rollout in progress) or, on failure, after a growing back-off. A key is never
 * reconciled twice at once; events during a reconcile make it run once more after.
 */
export class Controller {
  private readonly due = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly running = new Set<string>();
  private readonly again = new Set<string>();
  private informers: Array<Informer<KubernetesObject>> = [];
  private timer: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private stopped = true;
  private synced = false;

  constructor(private readonly options: ControllerOptions) {}

  /** Whether both watches listed what exists (the first pass over everything is queued). */
  get isSynced(): boolean {
    return this.synced;
  }

  async start(): Promise<void> {
    this.stopped = false;
    const { kubeConfig, kube, namespace } = this.options;
    const base = `/apis/${AGENT_DEPLOYMENT_GROUP}/${AGENT_DEPLOYMENT_VERSION}`;
    const agds = makeInformer<KubernetesObject>(
      kubeConfig,
      namespace ? `${base}/namespaces/${namespace}/${AGENT_DEPLOYMENT_PLURAL}` : `${base}/${AGENT_DEPLOYMENT_PLURAL}`,
      () => kube.listRaw(AGENT_DEPLOYMENT_API_VERSION, AGENT_DEPLOYMENT_KIND, namespace),
    );
    const selector = "app.kubernetes.io/managed-by=langopen-operator";
    const deployments = makeInformer<KubernetesObject>(
      kubeConfig,
      namespace ? `/apis/apps/v1/namespaces/${namespace}/deployments` : "/apis/apps/v1/deployments",
      () => kube.listRaw("apps/v1", "Deployment", namespace, selector),
      selector,
    );
    const onAgd = (o: KubernetesObject) => this.enqueue(o.metadata?.namespace, o.metadata?.name);
    for (const verb of ["add", "update", "delete"] as const) agds.on(verb, onAgd);
    // A Deployment's status changed (pods became ready, a worker drained): its AgentDeployment looks again.
    const onOwned = (o: KubernetesObject) =>
      this.enqueue(o.metadata?.namespace, o.metadata?.labels?.["app.kubernetes.io/instance"]);
    for (const verb of ["add", "update", "delete"] as const) deployments.on(verb, onOwned);
    this.informers = [agds, deployments];
    for (const informer of this.informers) {
      informer.on("error", (err: unknown) => {
        if (this.stopped) return;
        this.options.logger.warn({ err: describeError(err) }, "Watch failed; restarting it");
        setTimeout(() => {
          if (!this.stopped) informer.start().catch(() => {});
        }, 2_000).unref();
      });
    }
    await Promise.all(this.informers.map((i) => i.start()));
    this.synced = true;
    const resync = () => {
      for (const o of (agds as unknown as { list(): KubernetesObject[] }).list()) onAgd(o);
      this.resync = setTimeout(resync, this.options.resyncMs ?? 60_000);
    };
    this.resync = setTimeout(resync, this.options.resyncMs ?? 60_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.synced = false;
    clearTimeout(this.timer);
    clearTimeout(this.resync);
    await Promise.all(this.informers.map((i) => i.stop().catch(() => {})));
    this.informers = [];
    this.due.clear();
    // Reconciles in flight finish their current call; nothing new starts.
    while (this.running.size > 0) await new Promise((r) => setTimeout(r, 20));
  }

  enqueue(namespace: string | undefined, name: string | undefined, afterMs = 0): void {
    if (this.stopped || !namespace || !name) return;
    const key = `${namespace}/${name}`;
    if (this.running.has(key)) {
      if (afterMs === 0) this.again.add(key);
      else this.schedule(key, afterMs);
      return;
    }
    this.schedule(key, afterMs);
  }

  private schedule(key: string, afterMs: number): void {
    const at = Date.now() + afterMs;
    const known = this.due.get(key);
    if (known === undefined || at < known) this.due.set(key, at);
    this.pump();
  }

  /** Starts every key that is due; sleeps until the next one. */
  private pump(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [key, at] of this.due) {
      if (this.running.has(key)) continue;
      if (at <= now) {
        this.due.delete(key);
        void this.run(key);
      } else next = Math.min(next, at);
    }
    if (next !== Number.POSITIVE_INFINITY) this.timer = setTimeout(() => this.pump(), next - now).unref();
  }

  private async run(key: string): Promise<void> {
    this.running.add(key);
    const [namespace, name] = key.split("/") as [string, string];
    let afterMs: number | undefined;
    try {
      const result = await reconcileAgentDeployment(this.options, { namespace, name });
      this.failures.delete(key);
      this.options.onReconciled?.("ok");
      afterMs = result.requeueAfterMs;
    } catch (err) {
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      this.options.onReconciled?.("error");
      afterMs = Math.min(60_000, (this.options.retryBaseMs ?? 500) * 2 ** (failures - 1));
      this.options.logger.warn({ agent_deployment: key, err: describeError(err), retry_ms: afterMs }, "Reconcile failed");
    } finally {
      this.running.delete(key);
    }
    if (this.again.delete(key)) this.schedule(key, 0);
    else if (afterMs !== undefined) this.schedule(key, afterMs);
    else this.pump();
  }
}
