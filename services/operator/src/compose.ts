import { readFile } from "node:fs/promises";
import type { KubeConfig } from "@kubernetes/client-node";
import { Counter, createMetricsRegistry, Gauge, type Logger, startMetricsServer } from "@langopen/common";
import { Value } from "typebox/value";
import { backlogFromMetrics } from "./backlog.js";
import { type OperatorSettingsFile, OperatorSettingsSchema } from "./config.js";
import { Controller } from "./controller.js";
import { allowedCidrProblems } from "./egress.js";
import { Kube } from "./kube.js";
import { LeaderElection } from "./leader.js";
import type { LiveAgentDeployment } from "./reconcile.js";

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  settings: OperatorSettingsFile;
  /** This replica's identity (its pod's name) and the Lease's namespace. */
  identity: string;
  leaseNamespace: string;
  /** Off: act at once, alone (tests; one replica that nothing else can race). */
  leaderElection: boolean;
  host: string;
  port: number;
  logger: Logger;
  /** How the runnable backlog of a data plane is read (tests give their own). */
  backlog?: (agd: LiveAgentDeployment) => Promise<number | undefined>;
  /** How egress host names are resolved (tests give their own; default: the system resolver). */
  resolve?: (host: string) => Promise<string[]>;
  resyncMs?: number;
  leaseSeconds?: number;
  retryMs?: number;
}

export interface Operator {
  /** Where /healthz, /readyz and /metrics answer. */
  url: string;
  readonly controller: Controller;
  isLeader(): boolean;
  stop(): Promise<void>;
}

/** Reads and checks the settings file: every problem named, nothing started on a bad one. */
export async function loadOperatorSettings(file: string): Promise<OperatorSettingsFile> {
  const parsed: unknown = JSON.parse(await readFile(file, "utf8"));
  const withDefaults = Value.Default(OperatorSettingsSchema, parsed);
  const problems = [...Value.Errors(OperatorSettingsSchema, withDefaults)].map((e) => `${e.instancePath || "/"}: ${e.message}`);
  if (problems.length === 0)
    problems.push(...allowedCidrProblems((withDefaults as OperatorSettingsFile).egressAllowedCidrs ?? []));
  if (problems.length > 0) throw new Error(`${file} is not valid operator settings: ${problems.join("; ")}`);
  return withDefaults as OperatorSettingsFile;
}

/**
 * The operator: a controller that acts only while this replica leads (a Lease), and a probe
 * server. Losing the lease stops the controller at once; a standby is ready (it serves nothing,
 * so it may be), a leader is ready once its watches listed what exists.
 */
export async function startOperator(options: OperatorOptions): Promise<Operator> {
  const { logger, settings } = options;
  const kube = new Kube(options.kubeConfig);
  const registry = createMetricsRegistry();
  const reconciles = new Counter({
    name: "langopen_operator_reconciles_total",
    help: "Reconciles of AgentDeployments by outcome.",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const controller = new Controller({
    onReconciled: (outcome) => reconciles.inc({ outcome }),
    kubeConfig: options.kubeConfig,
    kube,
    settings,
    namespace: settings.watchNamespace || undefined,
    logger: logger.child({ component: "controller" }),
    backlog: options.backlog ?? backlogFromMetrics(),
    resolve: options.resolve,
    resyncMs: options.resyncMs,
  });
  let leading = !options.leaderElection;
  new Gauge({
    name: "langopen_operator_leader",
    help: "1 while this replica leads (acts on AgentDeployments), 0 on standby.",
    registers: [registry],
    collect() {
      this.set(leading ? 1 : 0);
    },
  });
  const probes = await startMetricsServer({
    host: options.host,
    port: options.port,
    registry,
    probes: { "/healthz": () => true, "/readyz": () => !leading || controller.isSynced },
  });
  let election: LeaderElection | undefined;
  let switching = Promise.resolve();
  const lead = (now: boolean) => {
    leading = now;
    switching = switching.then(async () => {
      if (now) await controller.start().catch((err: unknown) => logger.error({ err }, "Controller failed to start"));
      else await controller.stop();
    });
  };
  if (options.leaderElection) {
    election = new LeaderElection({
      kube,
      namespace: options.leaseNamespace,
      name: settings.leaseName,
      identity: options.identity,
      logger,
      leaseSeconds: options.leaseSeconds,
      retryMs: options.retryMs,
    });
    election.start(lead);
  } else lead(true);
  logger.info({ url: probes.url, identity: options.identity, leader_election: options.leaderElection }, "Operator is running");
  return {
    url: probes.url.replace(/\/metrics$/, ""),
    controller,
    isLeader: () => leading,
    stop: async () => {
      await election?.stop();
      leading = false;
      await switching;
      await controller.stop();
      await probes.close();
    },
  };
}
