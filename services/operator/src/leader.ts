import type { Logger } from "@langopen/common";
import { describeError, isStatus, type Kube, type LiveObject } from "./kube.js";
import type { KubeObject } from "./render.js";

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}
type Lease = LiveObject & { spec?: LeaseSpec };

export interface LeaderElectionOptions {
  kube: Kube;
  namespace: string;
  /** The Lease's name: every replica of one operator uses the same. */
  name: string;
  /** This replica (its pod's name). */
  identity: string;
  logger: Logger;
  /** How long a leader's lease holds without renewal before another replica may take it. */
  leaseSeconds?: number;
  /** How often the leader renews and the others look. */
  retryMs?: number;
  now?: () => number;
}

/**
 * Leader election on a coordination.k8s.io Lease, as Kubernetes' own controllers do it (no
 * package does it for this client): a replica leads while it renews the Lease; another takes it
 * over only when it saw the same record unchanged for a whole lease duration by its own clock
 * (so clocks of different machines need not agree). Writes are conditional on the resourceVersion
 * read, so of two replicas racing for an expired Lease exactly one wins (the other gets a 409).
 * A leader that cannot renew within the lease duration stops leading before another can start.
 */
export class LeaderElection {
  private readonly leaseMs: number;
  private readonly retryMs: number;
  private readonly now: () => number;
  private observed: { record: string; at: number } | undefined;
  private renewedAt = 0;
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: LeaderElectionOptions) {
    this.leaseMs = (options.leaseSeconds ?? 15) * 1_000;
    this.retryMs = options.retryMs ?? 2_000;
    this.now = options.now ?? Date.now;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Tries at once and then every retry period; `onChange(true)` when leading starts, `(false)` when it ends. */
  start(onChange: (leading: boolean) => void): void {
    const tick = async () => {
      if (this.stopped) return;
      const leads = await this.tryAcquireOrRenew();
      if (leads !== this.leading) {
        this.leading = leads;
        this.options.logger.info(
          { lease: this.options.name, identity: this.options.identity },
          leads ? "Leading" : "Stopped leading",
        );
        onChange(leads);
      }
      if (!this.stopped) this.timer = setTimeout(tick, this.retryMs);
    };
    void tick();
  }

  /** Stops electing; a leader gives the Lease up (its duration set to 1 s) so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    const lease = await this.read().catch(() => undefined);
    if (lease?.spec?.holderIdentity !== this.options.identity) return;
    await this.options.kube
      .replace({
        ...lease,
        spec: { ...lease.spec, leaseDurationSeconds: 1, renewTime: microTime(this.now() - 1_000) },
      } as KubeObject)
      .catch(() => {});
  }

  /** One attempt: whether this replica leads after it. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { kube, namespace, name, identity } = this.options;
    const now = this.now();
    try {
      const lease = await this.read();
      const spec: LeaseSpec = {
        holderIdentity: identity,
        leaseDurationSeconds: this.leaseMs / 1_000,
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: 0,
      };
      if (!lease) {
        await kube.create({
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace, labels: {} },
          spec,
        } as KubeObject);
        return this.renewed(now);
      }
      const held = lease.spec ?? {};
      const record = JSON.stringify(held);
      if (this.observed?.record !== record) this.observed = { record, at: now };
      if (held.holderIdentity === identity) {
        await kube.replace({ ...lease, spec: { ...held, renewTime: microTime(now) } } as KubeObject);
        return this.renewed(now);
      }
      const duration = (held.leaseDurationSeconds ?? this.leaseMs / 1_000) * 1_000;
      // Another replica holds it and renewed within the lease (as this one observed): it leads.
      if (held.holderIdentity && this.observed.at + duration > now) return false;
      await kube.replace({ ...lease, spec: { ...spec, leaseTransitions: (held.leaseTransitions ?? 0) + 1 } } as KubeObject);
      return this.renewed(now);
    } catch (err) {
      if (!isStatus(err, 409))
        this.options.logger.warn({ lease: name, err: describeError(err) }, "Could not renew or acquire the lease");
      return this.lost(now);
    }
  }

  private read(): Promise<Lease | undefined> {
    const { kube, namespace, name } = this.options;
    return kube.read<Lease>({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", namespace, name });
  }

  private renewed(now: number): boolean {
    this.renewedAt = now;
    return true;
  }

  /** A failed attempt: a leader stays one until its last renewal is older than (most of) the lease. */
  private lost(now: number): boolean {
    return this.leading && now - this.renewedAt < this.leaseMs * 0.66;
  }
}

/** Kubernetes' MicroTime: RFC 3339 with exactly six fractional digits. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
