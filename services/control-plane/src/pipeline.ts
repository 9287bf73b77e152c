import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "@langopen/common";
import type { BuilderService } from "@langopen/gen/langopen/builder/v1/builder_service_pb";
import { type Build, BuildStatus } from "@langopen/gen/langopen/builder/v1/builder_service_pb";
import type { DataPlaneCondition, DesiredDataPlane, Driver, ObservedDataPlane } from "./driver/contract.js";
import type { SecretBox } from "./secrets.js";
import type { ConditionRow, ControlStore, DeploymentRow, RevisionRow } from "./store.js";

export interface PipelineOptions {
  store: ControlStore;
  builder: Client<typeof BuilderService>;
  driver: Driver;
  secrets: SecretBox;
  logger: Logger;
}

/**
 * One pass of the control plane's loop, level-triggered: revisions waiting for a build are sent
 * to the builder and their builds followed; every deployment's desired revision (with its bundle,
 * variables and decrypted secrets) goes to the driver, and what the driver reports becomes the
 * statuses of revisions and deployments. A revision that fails to deploy gives the deployment
 * back to the revision that served before it.
 */
export async function pipelinePass(options: PipelineOptions): Promise<void> {
  await followBuilds(options);
  await reconcileDeployments(options);
}

async function followBuilds({ store, builder, logger }: PipelineOptions): Promise<void> {
  for (const rev of await store.revisionsToBuild()) {
    if (rev.status === "AWAITING_BUILD") {
      const source = rev.source.git
        ? { case: "git" as const, value: { url: rev.source.git.url, ref: rev.source.git.ref } }
        : { case: "tarball" as const, value: rev.tarball ?? new Uint8Array() };
      try {
        await builder.startBuild({ buildId: rev.revision_id, source, configPath: rev.source.config_path });
      } catch (err) {
        // Started by an earlier pass that did not get to record it.
        if (ConnectError.from(err).code !== Code.AlreadyExists) throw err;
      }
      await store.setRevisionStatus(rev.revision_id, "BUILDING", "building");
      logger.info({ revision_id: rev.revision_id }, "Started build");
      continue;
    }
    let build: Build | undefined;
    try {
      build = (await builder.getBuild({ buildId: rev.revision_id })).build;
    } catch (err) {
      if (ConnectError.from(err).code !== Code.NotFound) throw err;
      await store.recordBuildFailed(rev.revision_id, "BUILD_FAILED", "the build was lost (the builder has no record of it)", []);
      continue;
    }
    if (!build) continue;
    const defects = build.defects.map((d) => `${d.file}${d.line > 0 ? `:${d.line}` : ""}: ${d.message}`);
    switch (build.status) {
      case BuildStatus.SUCCEEDED: {
        const status = await store.recordBuilt(rev.revision_id, {
          commitSha: build.commitSha,
          bundleDigest: build.bundleDigest,
          graphIds: build.graphIds,
          egress: build.egress,
        });
        logger.info({ revision_id: rev.revision_id, bundle: build.bundleDigest, status }, "Build succeeded");
        break;
      }
      case BuildStatus.FAILED:
      case BuildStatus.TIMED_OUT:
        await store.recordBuildFailed(rev.revision_id, "BUILD_FAILED", build.message, defects, build.commitSha);
        logger.info({ revision_id: rev.revision_id, why: build.message }, "Build failed");
        break;
      case BuildStatus.CANCELLED:
        await store.recordBuildFailed(rev.revision_id, "SKIPPED", "the build was cancelled", defects, build.commitSha);
        break;
      default:
        break;
    }
  }
}

async function reconcileDeployments(options: PipelineOptions): Promise<void> {
  const { store, driver, secrets, logger } = options;
  const rows = await store.listForDriver();
  const desired: DesiredDataPlane[] = [];
  const revisions = new Map<string, RevisionRow>();
  for (const row of rows) {
    if (row.delete_time !== null || !row.desired_revision_id) continue;
    const rev = await store.getRevision(row.desired_revision_id);
    if (!rev?.bundle_digest) continue;
    revisions.set(row.deployment_id, rev);
    const opened: Record<string, string> = {};
    try {
      for (const s of await store.listSecrets(row.deployment_id))
        opened[s.name] = secrets.open(s.sealed, s.deployment_id, s.name);
    } catch {
      await failRevision(options, row, rev, "a secret of the deployment cannot be decrypted with the platform's secrets key");
      continue;
    }
    desired.push({
      deploymentId: row.deployment_id,
      name: row.name,
      revisionId: rev.revision_id,
      revisionNumber: rev.number,
      bundleDigest: rev.bundle_digest,
      configPath: rev.source.config_path,
      egress: rev.egress,
      env: row.env,
      secrets: opened,
      resources: row.resources,
      sandbox: row.sandbox,
      replicas: row.replicas,
      previousUrl: row.url,
    });
  }
  const observed = new Map<string, ObservedDataPlane>(driver.reconcile(desired).map((o) => [o.deploymentId, o]));
  for (const row of rows) {
    if (row.delete_time !== null) {
      if (driver.isStopped(row.deployment_id)) {
        await driver.remove(row.deployment_id);
        await store.purgeDeployment(row.deployment_id);
        logger.info({ deployment: row.name }, "Deleted deployment");
      }
      continue;
    }
    const rev = revisions.get(row.deployment_id);
    const seen = observed.get(row.deployment_id);
    if (seen?.conditions) {
      const conditions = seen.conditions.map(conditionRow);
      if (!sameConditions(row.conditions, conditions)) await store.setDeploymentConditions(row.deployment_id, conditions);
    }
    if (!rev || !seen || seen.revisionId !== rev.revision_id) {
      await noteUndeployable(options, row);
      continue;
    }
    switch (seen.phase) {
      case "starting":
        if (rev.status === "AWAITING_DEPLOY") await store.setRevisionStatus(rev.revision_id, "DEPLOYING", seen.message);
        break;
      case "ready":
        if (rev.status !== "DEPLOYED") {
          await store.setRevisionStatus(rev.revision_id, "DEPLOYED", "");
          logger.info({ deployment: row.name, revision_id: rev.revision_id, url: seen.url }, "Deployed revision");
        }
        if (row.status !== "READY" || row.current_revision_id !== rev.revision_id || row.url !== seen.url)
          await store.setDeploymentStatus(row.deployment_id, "READY", "", { currentRevisionId: rev.revision_id, url: seen.url });
        break;
      case "restarting":
        if (row.status !== "DEGRADED" || row.status_message !== seen.message)
          await store.setDeploymentStatus(row.deployment_id, "DEGRADED", seen.message);
        break;
      case "failed":
        await failRevision(options, row, rev, seen.message);
        break;
    }
  }
}

function conditionRow(c: DataPlaneCondition): ConditionRow {
  return { type: c.type, status: c.status, reason: c.reason, message: c.message, last_transition_time: c.lastTransitionTime };
}

/** Field by field: rows read back from JSONB come with their keys in another order. */
function sameConditions(a: ConditionRow[], b: ConditionRow[]): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) => {
      const y = b[i] as ConditionRow;
      return (
        x.type === y.type &&
        x.status === y.status &&
        x.reason === y.reason &&
        x.message === y.message &&
        x.last_transition_time === y.last_transition_time
      );
    })
  );
}

/** The revision did not deploy: the deployment goes back to the one that served, if any. */
async function failRevision(options: PipelineOptions, row: DeploymentRow, rev: RevisionRow, message: string): Promise<void> {
  const { store, logger } = options;
  await store.setRevisionStatus(rev.revision_id, "DEPLOY_FAILED", message);
  const fallback = row.current_revision_id && row.current_revision_id !== rev.revision_id ? row.current_revision_id : null;
  await store.setDesired(row.deployment_id, fallback);
  await store.setDeploymentStatus(
    row.deployment_id,
    fallback ? "DEGRADED" : "FAILED",
    `revision ${rev.number} did not deploy: ${message}${fallback ? "; the previous revision serves again" : ""}`,
    fallback ? {} : { currentRevisionId: null },
  );
  logger.warn({ deployment: row.name, revision_id: rev.revision_id, why: message }, "Revision did not deploy");
}

/** A deployment with nothing to run: FAILED when its newest revision failed and none ever served. */
async function noteUndeployable({ store }: PipelineOptions, row: DeploymentRow): Promise<void> {
  if (row.current_revision_id || !row.latest_revision_id) return;
  const latest = await store.getRevision(row.latest_revision_id);
  if (!latest || (latest.status !== "BUILD_FAILED" && latest.status !== "DEPLOY_FAILED")) return;
  const message = `revision ${latest.number}: ${latest.status_message}`;
  if (row.status !== "FAILED" || row.status_message !== message)
    await store.setDeploymentStatus(row.deployment_id, "FAILED", message);
}
