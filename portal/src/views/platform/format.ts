// How the platform's enums and messages read in the portal: names, badge tones, summaries.
import { Role } from "@langopen/gen/langopen/control/v1/api_key_pb";
import {
  type Deployment,
  type DeploymentCondition,
  DeploymentStatus,
  RevisionStatus,
  SandboxProfile,
  type Source,
} from "@langopen/gen/langopen/control/v1/deployment_pb";

export type Tone = "neutral" | "running" | "success" | "warning" | "error";

export function badgeClass(tone: Tone): string {
  return tone === "neutral" ? "badge" : `badge badge-${tone}`;
}

export const DEPLOYMENT_STATUS: Record<DeploymentStatus, { label: string; tone: Tone }> = {
  [DeploymentStatus.UNSPECIFIED]: { label: "unknown", tone: "neutral" },
  [DeploymentStatus.PROVISIONING]: { label: "provisioning", tone: "running" },
  [DeploymentStatus.READY]: { label: "ready", tone: "success" },
  [DeploymentStatus.DEGRADED]: { label: "degraded", tone: "warning" },
  [DeploymentStatus.FAILED]: { label: "failed", tone: "error" },
};

export const REVISION_STATUS: Record<RevisionStatus, { label: string; tone: Tone }> = {
  [RevisionStatus.UNSPECIFIED]: { label: "unknown", tone: "neutral" },
  [RevisionStatus.AWAITING_BUILD]: { label: "awaiting build", tone: "running" },
  [RevisionStatus.BUILDING]: { label: "building", tone: "running" },
  [RevisionStatus.AWAITING_DEPLOY]: { label: "awaiting deploy", tone: "running" },
  [RevisionStatus.DEPLOYING]: { label: "deploying", tone: "running" },
  [RevisionStatus.DEPLOYED]: { label: "deployed", tone: "success" },
  [RevisionStatus.BUILD_FAILED]: { label: "build failed", tone: "error" },
  [RevisionStatus.DEPLOY_FAILED]: { label: "deploy failed", tone: "error" },
  [RevisionStatus.SKIPPED]: { label: "skipped", tone: "neutral" },
};

/** The revision is still on its way (building or deploying): its status will change. */
export function revisionInProgress(status: RevisionStatus): boolean {
  return (
    status === RevisionStatus.AWAITING_BUILD ||
    status === RevisionStatus.BUILDING ||
    status === RevisionStatus.AWAITING_DEPLOY ||
    status === RevisionStatus.DEPLOYING
  );
}

/** Its build may still write to its log. */
export function revisionBuilding(status: RevisionStatus): boolean {
  return status === RevisionStatus.AWAITING_BUILD || status === RevisionStatus.BUILDING;
}

export const ROLES: Array<{ value: Role; label: string; description: string }> = [
  { value: Role.VIEWER, label: "viewer", description: "reads only" },
  { value: Role.DEVELOPER, label: "developer", description: "deployments, revisions, secrets" },
  { value: Role.ADMIN, label: "admin", description: "everything, including keys" },
];

export function roleName(role: Role): string {
  return ROLES.find((candidate) => candidate.value === role)?.label ?? "unknown";
}

export const SANDBOXES: Array<{ value: SandboxProfile; label: string; description: string }> = [
  { value: SandboxProfile.NODE, label: "node", description: "Node's permission model, an unprivileged user" },
  { value: SandboxProfile.GVISOR, label: "gvisor", description: "each runtime process inside gVisor" },
  { value: SandboxProfile.KATA, label: "kata", description: "each runtime pod in a Kata VM (Kubernetes)" },
  { value: SandboxProfile.NONE, label: "none", description: "no isolation: trusted code only" },
];

export function sandboxName(profile: SandboxProfile): string {
  return SANDBOXES.find((candidate) => candidate.value === profile)?.label ?? "platform default";
}

/** Where the code comes from, in one line: "git <url> @ <ref>" or "uploaded tarball". */
export function sourceSummary(source: Source | undefined): string {
  if (!source) return "—";
  if (source.kind.case === "git") return `${source.kind.value.url}${source.kind.value.ref ? ` @ ${source.kind.value.ref}` : ""}`;
  if (source.kind.case === "tarball") return `uploaded tarball (${formatBytes(Number(source.kind.value.size))})`;
  return "—";
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

export function shortSha(sha: string): string {
  return sha.slice(0, 12);
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** A condition that says something is wrong: not Ready, or Degraded. */
export function conditionIsBad(condition: DeploymentCondition): boolean {
  if (condition.type === "Ready") return condition.status === "False";
  if (condition.type === "Degraded") return condition.status === "True";
  return false;
}

export function conditionTone(condition: DeploymentCondition): Tone {
  if (conditionIsBad(condition)) return condition.type === "Degraded" ? "warning" : "error";
  if (condition.status === "Unknown") return "neutral";
  if (condition.type === "Progressing") return condition.status === "True" ? "running" : "neutral";
  return condition.status === "True" ? "success" : "neutral";
}

/**
 * Why a deployment is not serving as it should, for people: its status message and the reasons
 * its conditions give. Empty when it is fine.
 */
export function troubleOf(deployment: Deployment): string[] {
  const status = deployment.status;
  const reasons: string[] = [];
  if ((status === DeploymentStatus.FAILED || status === DeploymentStatus.DEGRADED) && deployment.statusMessage)
    reasons.push(deployment.statusMessage);
  for (const condition of deployment.conditions) {
    if (!conditionIsBad(condition)) continue;
    const text = `${condition.type}: ${condition.reason || condition.status}${condition.message ? ` (${condition.message})` : ""}`;
    if (!reasons.includes(text)) reasons.push(text);
  }
  return reasons;
}

/** Lower-case letters, digits and dashes, as the platform names deployments. */
export const DEPLOYMENT_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** A variable's (or secret's) name. */
export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
