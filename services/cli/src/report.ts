import { type Revision, RevisionStatus } from "@langopen/gen/langopen/control/v1/deployment_pb";
import type { Control } from "./client.js";
import type { CommandContext } from "./context.js";
import { jsonLine, line } from "./output.js";
import { revisionStatus } from "./views.js";
import { DEFAULT_WAIT_SECONDS, followRevision } from "./wait.js";

export interface RevisionRun {
  control: Control;
  /** The deployment's name, for messages. */
  name: string;
  /** The revision just made (by a create, a new build or a rollback). */
  revision: Revision;
  wait: boolean;
  timeoutSeconds: number | undefined;
  json: boolean;
  /** Stream its build log while waiting. */
  buildLog: boolean;
}

/**
 * Waits for a new revision (unless told not to) and tells how it ended: `ready <url>` on stdout,
 * or with --json one JSON object as the last line of stdout; a failure's message and defects on
 * stderr. Resolves with the exit code.
 */
export async function finishRevision(ctx: CommandContext, run: RevisionRun): Promise<number> {
  const { control } = run;
  const timeoutSeconds = run.timeoutSeconds ?? DEFAULT_WAIT_SECONDS;
  const outcome = run.wait
    ? await followRevision({
        control,
        deployment: run.revision.deploymentId,
        revision: run.revision,
        stderr: ctx.stderr,
        timeoutMs: timeoutSeconds * 1000,
        buildLog: run.buildLog,
      })
    : { revision: run.revision, timedOut: false };
  const revision = outcome.revision;
  const deployment = (
    await control.call(`get deployment ${run.name}`, (o) =>
      control.deployments.getDeployment({ deployment: revision.deploymentId }, o),
    )
  ).deployment;
  const url = deployment?.url ?? "";
  if (run.json) {
    jsonLine(ctx.stdout, {
      deployment_id: revision.deploymentId,
      name: deployment?.name ?? run.name,
      revision_id: revision.revisionId,
      revision_number: revision.number,
      status: revisionStatus(revision.status),
      status_message: revision.statusMessage,
      url,
      bundle_digest: revision.bundleDigest,
      commit_sha: revision.commitSha,
      graph_ids: revision.graphIds,
      egress: revision.egress,
      defects: revision.defects,
      redeploy_of: revision.redeployOf,
      ...(outcome.timedOut && { timed_out: true }),
    });
  }
  const follow = `langopen logs ${run.name} --build --revision ${revision.revisionId} --follow`;
  if (!run.wait) {
    if (!run.json)
      line(
        ctx.stdout,
        `revision #${revision.number} (${revision.revisionId}) of ${run.name}: ${revisionStatus(revision.status)}`,
      );
    if (run.buildLog) line(ctx.stderr, `follow it with \`${follow}\``);
    return 0;
  }
  if (outcome.timedOut) {
    line(
      ctx.stderr,
      `langopen: gave up waiting after ${timeoutSeconds} s: revision #${revision.number} of ${run.name} is ${revisionStatus(revision.status)}`,
    );
    line(
      ctx.stderr,
      `hint: it goes on without the command line; ${run.buildLog ? `follow it with \`${follow}\`, ` : ""}see \`langopen revisions list ${run.name}\``,
    );
    return 1;
  }
  if (revision.status === RevisionStatus.DEPLOYED) {
    if (!run.json) line(ctx.stdout, `ready ${url}`);
    return 0;
  }
  line(
    ctx.stderr,
    `langopen: revision #${revision.number} of ${run.name} ${revisionStatus(revision.status)}${revision.statusMessage ? `: ${revision.statusMessage}` : ""}`,
  );
  for (const defect of revision.defects) line(ctx.stderr, `  ${defect}`);
  return 1;
}
