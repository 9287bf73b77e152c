import type { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Revision, RevisionStatus } from "@langopen/gen/langopen/control/v1/deployment_pb";
import { LogKind } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import type { Control } from "./client.js";
import { CallFailed } from "./errors.js";
import { line } from "./output.js";
import { revisionStatus } from "./views.js";

const TERMINAL: ReadonlySet<RevisionStatus> = new Set([
  RevisionStatus.DEPLOYED,
  RevisionStatus.BUILD_FAILED,
  RevisionStatus.DEPLOY_FAILED,
  RevisionStatus.SKIPPED,
]);

export const isTerminal = (status: RevisionStatus): boolean => TERMINAL.has(status);

/** Whether the build is behind the revision (its log complete). */
const buildOver = (status: RevisionStatus): boolean =>
  isTerminal(status) || status === RevisionStatus.AWAITING_DEPLOY || status === RevisionStatus.DEPLOYING;

/** The default of --timeout, in seconds. */
export const DEFAULT_WAIT_SECONDS = 900;

export interface FollowOptions {
  control: Control;
  /** The deployment's id or name (for its build log). */
  deployment: string;
  /** The revision as its creation returned it. */
  revision: Revision;
  /** Where the stages and the build log go. */
  stderr: Writable;
  timeoutMs: number;
  /** Stream the revision's build log (a redeploy has none of its own). */
  buildLog: boolean;
  pollMs?: number;
}

export interface FollowOutcome {
  /** The last state seen. */
  revision: Revision;
  /** The time ran out before the revision reached a terminal status. */
  timedOut: boolean;
}

/** Consecutive failed polls for which the control plane is given the benefit of the doubt (a restart). */
const POLL_RETRIES = 10;
/** How long the build log may take to end on its own once the revision is terminal. */
const LOG_DRAIN_MS = 3_000;

/**
 * Follows a revision until it is terminal or the time runs out: each new stage on stderr (from
 * GetRevision, polled), and its build log, lines indented by two spaces.
 */
export async function followRevision(options: FollowOptions): Promise<FollowOutcome> {
  const { control, stderr } = options;
  const pollMs = options.pollMs ?? 500;
  const deadline = Date.now() + options.timeoutMs;
  let revision = options.revision;
  let shown: RevisionStatus | undefined;
  const show = (r: Revision) => {
    if (r.status === shown) return;
    shown = r.status;
    line(stderr, `revision #${r.number}: ${revisionStatus(r.status)}${r.statusMessage ? ` (${r.statusMessage})` : ""}`);
  };
  show(revision);

  const state = { buildOver: buildOver(revision.status) };
  const stopLog = new AbortController();
  const log = options.buildLog ? followBuildLog(options, state, stopLog.signal) : Promise.resolve();
  let failures = 0;
  try {
    while (!isTerminal(revision.status)) {
      const left = deadline - Date.now();
      if (left <= 0) return { revision, timedOut: true };
      await sleep(Math.min(pollMs, left));
      try {
        const res = await control.call(`get revision ${revision.revisionId}`, (o) =>
          control.deployments.getRevision({ revisionId: revision.revisionId }, o),
        );
        failures = 0;
        if (res.revision) revision = res.revision;
      } catch (err) {
        if (!(err instanceof CallFailed) || err.error.code !== Code.Unavailable || ++failures > POLL_RETRIES) throw err;
        continue;
      }
      show(revision);
      state.buildOver = buildOver(revision.status);
    }
    // Let the log end by itself (it holds the lines explaining a failure), but not forever.
    await Promise.race([log, sleep(LOG_DRAIN_MS)]);
    return { revision, timedOut: false };
  } finally {
    stopLog.abort();
    await log;
  }
}

/**
 * The build log with follow: lines already printed are skipped when the stream is opened again
 * (it ends early while the build has not started). Once the build is over, one last read
 * without follow prints what is left. Never throws: the log is a help, the status is the answer.
 */
async function followBuildLog(options: FollowOptions, state: { buildOver: boolean }, signal: AbortSignal): Promise<void> {
  const { control, stderr, revision } = options;
  let printed = 0;
  while (!signal.aborted) {
    const last = state.buildOver;
    let seen = 0;
    try {
      const stream = control.deployments.streamLogs(
        { deployment: options.deployment, kind: LogKind.BUILD, revisionId: revision.revisionId, follow: !last },
        { signal },
      );
      for await (const res of stream) {
        for (const text of res.lines) {
          seen++;
          if (seen <= printed) continue;
          printed = seen;
          line(stderr, `  ${text}`);
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      const code = ConnectError.from(err).code;
      if (code !== Code.NotFound && code !== Code.Unavailable) {
        line(stderr, `  (the build log is not available: ${ConnectError.from(err).rawMessage})`);
        return;
      }
    }
    if (last) return;
    try {
      await sleep(1_000, undefined, { signal });
    } catch {
      return;
    }
  }
}
