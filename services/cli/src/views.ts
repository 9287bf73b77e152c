import type { ApiKey } from "@langopen/gen/langopen/control/v1/api_key_pb";
import { Role } from "@langopen/gen/langopen/control/v1/api_key_pb";
import type { AuditEvent } from "@langopen/gen/langopen/control/v1/audit_service_pb";
import {
  type Deployment,
  type DeploymentCondition,
  DeploymentStatus,
  type Revision,
  RevisionStatus,
  SandboxProfile,
  type Source,
} from "@langopen/gen/langopen/control/v1/deployment_pb";
import type { Secret } from "@langopen/gen/langopen/control/v1/secret_service_pb";
import { age, enumName, isoTime, short, shortTime } from "./output.js";

// JSON output: snake_case keys, enum names without their prefix, times in RFC 3339.

export const revisionStatus = (s: RevisionStatus): string => enumName(RevisionStatus, s);
export const deploymentStatus = (s: DeploymentStatus): string => enumName(DeploymentStatus, s);
export const roleName = (r: Role): string => enumName(Role, r);

export function sourceJson(source: Source | undefined): Record<string, unknown> | null {
  if (!source) return null;
  const configPath = source.configPath || "langgraph.json";
  switch (source.kind.case) {
    case "git":
      return { git: { url: source.kind.value.url, ref: source.kind.value.ref }, config_path: configPath };
    case "tarball":
      return { tarball: { size: Number(source.kind.value.size) }, config_path: configPath };
    default:
      return { config_path: configPath };
  }
}

/** For people: "https://github.com/x/y@main", "uploaded tarball". */
export function sourceText(source: Source | undefined): string {
  switch (source?.kind.case) {
    case "git":
      return source.kind.value.ref ? `${source.kind.value.url}@${source.kind.value.ref}` : source.kind.value.url;
    case "tarball":
      return "uploaded tarball";
    default:
      return "-";
  }
}

export function deploymentJson(d: Deployment): Record<string, unknown> {
  return {
    deployment_id: d.deploymentId,
    name: d.name,
    status: deploymentStatus(d.status),
    status_message: d.statusMessage,
    url: d.url,
    source: sourceJson(d.source),
    env: d.env,
    secret_names: d.secretNames,
    resources: d.resources
      ? {
          runtime_processes: d.resources.runtimeProcesses,
          worker_concurrency: d.resources.workerConcurrency,
          runtime_memory_mb: d.resources.runtimeMemoryMb,
        }
      : null,
    replicas: d.replicas,
    sandbox: enumName(SandboxProfile, d.sandbox),
    current_revision_id: d.currentRevisionId,
    latest_revision_id: d.latestRevisionId,
    create_time: isoTime(d.createTime),
    update_time: isoTime(d.updateTime),
    conditions: d.conditions.map(conditionJson),
  };
}

export function conditionJson(c: DeploymentCondition): Record<string, unknown> {
  return {
    type: c.type,
    status: c.status,
    reason: c.reason,
    message: c.message,
    last_transition_time: isoTime(c.lastTransitionTime),
  };
}

export function revisionJson(r: Revision): Record<string, unknown> {
  return {
    revision_id: r.revisionId,
    deployment_id: r.deploymentId,
    number: r.number,
    status: revisionStatus(r.status),
    status_message: r.statusMessage,
    source: sourceJson(r.source),
    commit_sha: r.commitSha,
    bundle_digest: r.bundleDigest,
    redeploy_of: r.redeployOf,
    graph_ids: r.graphIds,
    egress: r.egress,
    defects: r.defects,
    create_time: isoTime(r.createTime),
    deploy_time: isoTime(r.deployTime),
  };
}

export function apiKeyJson(k: ApiKey): Record<string, unknown> {
  return {
    key_id: k.keyId,
    name: k.name,
    role: roleName(k.role),
    deployment_id: k.deploymentId,
    prefix: k.prefix,
    create_time: isoTime(k.createTime),
    revoke_time: isoTime(k.revokeTime),
    last_used_time: isoTime(k.lastUsedTime),
    created_by: k.createdBy,
  };
}

export function secretJson(s: Secret): Record<string, unknown> {
  return { deployment_id: s.deploymentId, name: s.name, masked_value: s.maskedValue, update_time: isoTime(s.updateTime) };
}

export function auditEventJson(e: AuditEvent): Record<string, unknown> {
  return {
    event_id: e.eventId,
    time: isoTime(e.time),
    actor: e.actor,
    actor_name: e.actorName,
    action: e.action,
    deployment_id: e.deploymentId,
    target: e.target,
    source_address: e.sourceAddress,
    details: e.details ?? {},
    allowed: e.allowed,
  };
}

// Tables.

export const DEPLOYMENT_HEADERS = ["NAME", "ID", "STATUS", "URL", "SOURCE", "UPDATED"];
export function deploymentRow(d: Deployment): string[] {
  return [d.name, d.deploymentId, deploymentStatus(d.status), d.url || "-", sourceText(d.source), shortTime(d.updateTime)];
}

export const CONDITION_HEADERS = ["TYPE", "STATUS", "REASON", "MESSAGE", "AGE"];
export function conditionRow(c: DeploymentCondition, now: Date): string[] {
  return [c.type, c.status, c.reason || "-", c.message || "-", c.lastTransitionTime ? age(c.lastTransitionTime, now) : "-"];
}

export const REVISION_HEADERS = ["#", "REVISION", "STATUS", "COMMIT", "BUNDLE", "CREATED", "NOTE"];
export function revisionRow(r: Revision, numberOf: (revisionId: string) => number | undefined): string[] {
  const redeployed = r.redeployOf ? numberOf(r.redeployOf) : undefined;
  const note = r.redeployOf ? `redeploys ${redeployed === undefined ? r.redeployOf : `#${redeployed}`}` : "";
  return [
    String(r.number),
    r.revisionId,
    revisionStatus(r.status),
    short(r.commitSha),
    short(r.bundleDigest),
    shortTime(r.createTime),
    [note, r.statusMessage].filter(Boolean).join("; "),
  ];
}

export const KEY_HEADERS = ["KEY_ID", "NAME", "ROLE", "DEPLOYMENT", "PREFIX", "CREATED", "LAST_USED", "REVOKED"];
export function keyRow(k: ApiKey): string[] {
  return [
    k.keyId,
    k.name,
    roleName(k.role),
    k.deploymentId || "*",
    k.prefix,
    shortTime(k.createTime),
    shortTime(k.lastUsedTime),
    k.revokeTime ? shortTime(k.revokeTime) : "-",
  ];
}

export const SECRET_HEADERS = ["NAME", "VALUE", "UPDATED"];
export function secretRow(s: Secret): string[] {
  return [s.name, s.maskedValue, shortTime(s.updateTime)];
}

export const AUDIT_HEADERS = ["TIME", "ACTOR", "ACTION", "DEPLOYMENT", "TARGET", "SOURCE", "ALLOWED"];
export function auditRow(e: AuditEvent): string[] {
  return [
    shortTime(e.time),
    e.actorName || e.actor || "-",
    e.action,
    e.deploymentId || "-",
    e.target || "-",
    e.sourceAddress || "-",
    e.allowed ? "yes" : "NO",
  ];
}
