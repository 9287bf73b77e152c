import { create } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { callerHeaders, jsonBytes, type Logger, startPolling } from "@langopen/common";
import { type CronRow, type CronStore, decodeSpec, type FiringOutcome, MULTITASK_TO_PROTO } from "@langopen/data-plane";
import { MultitaskStrategy } from "@langopen/gen/langopen/data/v1/run_pb";
import {
  CreateRunRequestSchema,
  IfNotExists,
  OnCompletion,
  type RunService,
} from "@langopen/gen/langopen/data/v1/run_service_pb";

export interface SchedulerDeps {
  crons: CronStore;
  /** The api-server's RunService: firings create their runs through it, like any client. */
  runs: Client<typeof RunService>;
  logger: Logger;
  /** Milliseconds between looks for due crons. */
  pollMs: number;
  /** Most crons fired in one poll (the rest wait for the next). */
  batch?: number;
  /**
   * Longest wait for the api-server to create a run. It also bounds the one wait cycle the held
   * cron lock allows: a thread being deleted (its cascade waits for the cron row) while the
   * create waits for that thread; on timeout the firing rolls back and the delete goes through.
   */
  createTimeoutMs?: number;
}

export interface Scheduler {
  /** Fires what is due now (tests; the loop calls it every poll). */
  pollOnce(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Refusals that another try would meet again (missing assistant or thread, busy thread with
 * `reject`, a bad payload): the due time is recorded as fired without a run and the cron moves
 * on. Anything else (the api-server unreachable) leaves the due time due.
 */
const FINAL_CODES = new Set([
  Code.InvalidArgument,
  Code.NotFound,
  Code.FailedPrecondition,
  Code.PermissionDenied,
  Code.Unimplemented,
  Code.OutOfRange,
  // The thread's queue is full or the backlog over its budget: this due time is shed (recorded
  // with the error) rather than retried, which would hold back every other due cron behind it.
  Code.ResourceExhausted,
]);

/** The idempotency key of a firing: one per cron and due time, whoever fires it. */
export const firingRequestId = (cronId: string, scheduledFor: Date) => `cron:${cronId}:${scheduledFor.toISOString()}`;

/**
 * Fires due crons. Any number of workers may run one: a due cron is locked with SKIP LOCKED
 * while it fires, its due time is claimed in a unique firings key, and the run is created with a
 * request id derived from the due time, so each due time creates at most one run.
 */
export function startScheduler(deps: SchedulerDeps): Scheduler {
  const { crons, logger } = deps;
  const batch = deps.batch ?? 20;
  const stopping = new AbortController();

  async function createRun(cron: CronRow, scheduledFor: Date): Promise<FiringOutcome> {
    const spec = decodeSpec(cron.payload);
    spec.assistantId = cron.assistant_id;
    spec.metadata = { ...cron.metadata, cron_id: cron.cron_id };
    const stateless = cron.thread_id === null;
    const request = create(CreateRunRequestSchema, {
      threadId: cron.thread_id ?? "",
      spec,
      multitaskStrategy: stateless ? MultitaskStrategy.UNSPECIFIED : MULTITASK_TO_PROTO[cron.multitask_strategy],
      ifNotExists: IfNotExists.REJECT,
      onCompletion: stateless && cron.on_run_completed === "keep" ? OnCompletion.KEEP : OnCompletion.DELETE,
      requestId: firingRequestId(cron.cron_id, scheduledFor),
    });
    // The run acts for the cron's creator (the graph sees them as its caller), with no filter: the
    // creator's rights were checked when they scheduled it.
    const creator = cron.creator;
    const headers = creator
      ? callerHeaders({ identity: creator.identity, permissions: creator.permissions, userJson: jsonBytes(creator.user) })
      : undefined;
    // A concurrent create with the same request id may lose the race on its unique key
    // (ALREADY_EXISTS): asking again answers the run the winner made.
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await deps.runs.createRun(request, {
          signal: stopping.signal,
          timeoutMs: deps.createTimeoutMs ?? 10_000,
          headers,
        });
        const run = res.run;
        return { runId: run?.runId ?? "", threadId: run?.threadId ? run.threadId : null };
      } catch (err) {
        const e = ConnectError.from(err);
        if (e.code === Code.AlreadyExists) {
          if (attempt < 3) continue;
          return { error: { code: Code[e.code], message: "the run of this due time was created by another scheduler" } };
        }
        if (FINAL_CODES.has(e.code)) return { error: { code: Code[e.code], message: e.rawMessage } };
        throw e;
      }
    }
  }

  async function pollOnce(): Promise<void> {
    const stopped = await crons.stopExpired();
    if (stopped.length > 0) logger.info({ crons: stopped }, "Stopped crons past their end time");
    for (let i = 0; i < batch && !stopping.signal.aborted; i++) {
      const step = await crons.fireNextDue(createRun);
      if (step.kind === "idle") return;
      const fields = {
        cron_id: step.cron.cron_id,
        scheduled_for: step.scheduledFor.toISOString(),
        next_run_date: step.next?.toISOString() ?? null,
      };
      if (step.kind === "skipped") logger.debug(fields, "Skipped cron due time that had fired already");
      else if ("error" in step.outcome) logger.warn({ ...fields, error: step.outcome.error }, "Fired cron without a run");
      else logger.info({ ...fields, run_id: step.outcome.runId, thread_id: step.outcome.threadId }, "Fired cron");
    }
  }

  const polling = startPolling(pollOnce, {
    intervalMs: deps.pollMs,
    logger,
    failure: "Failed to fire due crons; trying again next poll",
  });
  logger.info({ poll_ms: deps.pollMs }, "Started cron scheduler");
  return {
    pollOnce,
    async stop() {
      stopping.abort();
      await polling.stop();
      logger.info("Stopped cron scheduler");
    },
  };
}
