import type { ResourcesRow, SandboxName } from "../store.js";

/**
 * The contract between the control plane and whatever runs deployments: desired data planes in,
 * what runs out. Level-triggered: `reconcile` is called again and again with the whole desired
 * set, acts on the difference, and must return promptly (starting and stopping happen in the
 * background; later calls report how they went). The local driver (processes on this machine)
 * implements it; the Kubernetes operator implements the same contract with custom resources.
 */
export interface DesiredDataPlane {
  deploymentId: string;
  name: string;
  /** The revision to run; a different one than running means: drain the old, then start this. */
  revisionId: string;
  /** Its number within the deployment (shown to people). */
  revisionNumber: number;
  /** The signed bundle to run (`sha256:<hex>`); the data plane verifies it before loading anything. */
  bundleDigest: string;
  /** The langgraph.json inside the bundle. */
  configPath: string;
  /**
   * Where graph code may connect: `egress` of that langgraph.json, normalized by the builder
   * ("api.openai.com:443", "203.0.113.0/24:443,8443"). Empty: none declared.
   */
  egress: string[];
  env: Record<string, string>;
  /** Decrypted here, handed only to the deployment's data plane. */
  secrets: Record<string, string>;
  resources: ResourcesRow;
  sandbox: SandboxName;
  replicas: number;
  /** Where it answered before (a restart of the platform keeps its URL when it can). */
  previousUrl: string;
}

export type DataPlanePhase =
  /** Draining the previous revision or starting this one. */
  | "starting"
  /** Serving. */
  | "ready"
  /** It served and died; being started again. */
  | "restarting"
  /** The revision could not be started (the message says why); nothing of it runs. */
  | "failed";

/** One aspect of a data plane, as Kubernetes conditions are (types Ready, Progressing, Degraded). */
export interface DataPlaneCondition {
  type: string;
  status: "True" | "False" | "Unknown";
  /** A CamelCase word (e.g. Available, RollingOut, RevisionFailed). */
  reason: string;
  message: string;
  /** When the status last changed (RFC 3339). */
  lastTransitionTime: string;
}

/** Replicas of one part of a data plane. */
export interface ComponentReplicas {
  replicas: number;
  readyReplicas: number;
}

export interface ObservedDataPlane {
  deploymentId: string;
  /** The revision this observation is about (the one starting, serving or failed). */
  revisionId: string;
  phase: DataPlanePhase;
  message: string;
  /** Where its API answers (empty until known). */
  url: string;
  /** What users see of the data plane's state; absent: the driver knows nothing new (what was stored stays). */
  conditions?: DataPlaneCondition[];
  /** Runnable runs waiting, when the driver knows. */
  backlog?: number;
  /** Replicas per part (gateway, apiServer, workers, runtimes), when the driver knows. */
  components?: Record<string, ComponentReplicas>;
}

export interface Driver {
  /** Acts on the difference between `desired` and what runs; reports every data plane it knows. */
  reconcile(desired: DesiredDataPlane[]): ObservedDataPlane[];
  /** Removes what a deleted deployment left outside its processes (its database); its processes are stopped first. */
  remove(deploymentId: string): Promise<void>;
  /** Whether nothing of the deployment runs any more (after it left the desired set). */
  isStopped(deploymentId: string): boolean;
  /** Stops every data plane (the platform stops); they drain first. */
  stop(): Promise<void>;
}
