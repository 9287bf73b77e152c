import { create, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  currentTraceParent,
  failedPrecondition,
  type IdleCollector,
  invalidArgument,
  jsonBytes,
  type Logger,
  notFound,
  Reason,
  RUN_STATUS_BY_NAME,
  RUN_STATUS_NAME,
  reasoned,
  textBytes,
  wakeableDelay,
} from "@langopen/common";
import {
  type AssistantRow,
  type AssistantStore,
  type AuthFilter,
  type CancelActionName,
  type CreatedRun,
  decodeSpec,
  encodeSpec,
  fromStart,
  MULTITASK_FROM_PROTO,
  MULTITASK_TO_PROTO,
  type NewRun,
  newId,
  type RunEnding,
  type RunOutcomeRow,
  type RunRow,
  type RunStatusName,
  type RunStore,
  requireUuid,
  resolveSpec,
  type Signals,
  specToKwargsJson,
} from "@langopen/data-plane";
import {
  type Run,
  type RunEventSchema,
  RunSchema,
  type RunSpec,
  RunSpecSchema,
  type RunStatus,
} from "@langopen/gen/langopen/data/v1/run_pb";
import {
  CancelAction,
  type CreateOrResumeRunRequest,
  type CreateOrResumeRunResponse,
  CreateOrResumeRunResponseSchema,
  type CreateRunRequest,
  IfNotExists,
  InterruptedWhen,
  OnCompletion,
  type RunService,
  type StreamRunRequest,
  StreamRunRequestSchema,
} from "@langopen/gen/langopen/data/v1/run_service_pb";
import { authOf, callerOf, configWithCaller } from "../caller.js";
import type { Admission } from "../domain/admission.js";
import { page } from "../domain/paging.js";
import { decideResume, type ResumeAsk, threadAssistant } from "../domain/resume.js";
import { eventMatchesModes } from "../domain/stream-modes.js";
import { requireServedGraph, resolveAssistantId } from "./assistant-service.js";
import { ts } from "./timestamps.js";

export interface RunServiceDeps {
  runs: RunStore;
  assistants: AssistantStore;
  graphIds: () => ReadonlySet<string>;
  signals: Signals;
  logger: Logger;
  /** How long a read of the event log waits for news before checking again. */
  pollMs?: number;
  /** The longest a run may be delayed (after_seconds); absent: no bound. */
  maxAfterSeconds?: number;
  /** Admission control: refuses new runs while the backlog is over its budget; absent: every run is admitted. */
  admission?: Admission;
  /** Counts each run stream in flight, to give back what large ones left (see createIdleCollector); absent: V8 alone decides. */
  collector?: IdleCollector;
}

const STATUS_TO_PROTO: Readonly<Record<RunStatusName, RunStatus>> = RUN_STATUS_BY_NAME;
const STATUS_FROM_PROTO: Readonly<Partial<Record<RunStatus, RunStatusName>>> = RUN_STATUS_NAME;
export const isFinal = (status: RunStatusName) => status !== "pending" && status !== "running";

export function toRun(row: RunRow): Run {
  return create(RunSchema, {
    runId: row.run_id,
    threadId: row.thread_id ?? "",
    assistantId: row.assistant_id,
    createTime: ts(row.created_at),
    updateTime: ts(row.updated_at),
    status: STATUS_TO_PROTO[row.status],
    metadata: row.metadata,
    kwargsJson: specToKwargsJson(decodeSpec(row.spec)),
    multitaskStrategy: MULTITASK_TO_PROTO[row.multitask_strategy],
  });
}

function cancelAction(action: CancelAction): CancelActionName {
  return action === CancelAction.ROLLBACK ? "rollback" : "interrupt";
}

/** The thread's assistant changed between its guess and the decision, again and again: the caller may try again. */
const staleGuess = (threadId: string) =>
  reasoned(Code.Aborted, Reason.Conflict, `Thread ${threadId} changed while its run was being decided; try again`, {
    metadata: { thread_id: threadId },
  });

/** What a join answers: the final values (as stored when read as text: not parsed and printed again), or the error. */
function joinResult(row: (Pick<RunRow, "error"> & ({ result: unknown } | JoinOutcome)) | undefined): Uint8Array {
  if (row?.error) return jsonBytes({ __error__: row.error });
  if (row && "resultJson" in row) return row.resultJson ?? jsonBytes(null);
  return jsonBytes(row?.result ?? null);
}

/** What a join answers from: the run's status, its error, and its result as stored (JSON bytes). */
interface JoinOutcome {
  status: RunStatusName;
  error: RunRow["error"];
  resultJson: Uint8Array | null;
}

const joinOutcome = (row: RunOutcomeRow): JoinOutcome => ({
  status: row.status,
  error: row.error,
  resultJson: row.result_text === null ? null : textBytes(row.result_text),
});

export function createRunServiceImpl(deps: RunServiceDeps): ServiceImpl<typeof RunService> {
  const { runs, signals, logger } = deps;
  const pollMs = deps.pollMs ?? 5_000;

  const createOne = async (req: CreateRunRequest, ctx: HandlerContext): Promise<Run> => toRun(await createRow(req, ctx));

  /** The spec of a create, refused when no create takes it. */
  const checkedSpec = (req: CreateRunRequest): RunSpec => {
    const spec = req.spec;
    if (!spec) throw invalidArgument("spec is required", [{ field: "spec", description: "required" }]);
    if (spec.inputJson.length > 0 && spec.commandJson.length > 0) {
      throw invalidArgument("input and command are mutually exclusive", [{ field: "command", description: "given with input" }]);
    }
    if (!(req.afterSeconds >= 0) || !Number.isFinite(req.afterSeconds)) {
      throw invalidArgument("after_seconds must not be negative", [{ field: "after_seconds", description: "out of range" }]);
    }
    if (deps.maxAfterSeconds !== undefined && req.afterSeconds > deps.maxAfterSeconds) {
      throw invalidArgument(`after_seconds must be at most ${deps.maxAfterSeconds}`, [
        { field: "after_seconds", description: "out of range" },
      ]);
    }
    return spec;
  };

  /** The assistant a run names (an id, or a graph id for its default assistant), if this deployment serves its graph. */
  const runnableAssistant = async (idOrGraph: string): Promise<AssistantRow> => {
    const assistant = await deps.assistants.get(resolveAssistantId(idOrGraph, deps.graphIds()));
    if (!assistant) throw notFound("Assistant", idOrGraph);
    requireServedGraph(assistant, deps.graphIds());
    return assistant;
  };

  /**
   * The run a create inserts, on its thread (a new temporary one for a stateless run): acting for
   * the call's caller (their user in its configurable), on a thread their auth filter matches.
   */
  const newRun = (
    req: CreateRunRequest,
    threadId: string,
    spec: RunSpec,
    assistant: AssistantRow,
    ctx: HandlerContext,
  ): NewRun => {
    const stateless = req.threadId === "";
    const resolved = resolveSpec(spec, assistant.assistant_id, assistant);
    // The thread keeps the config without the caller's identity, which is the run's alone.
    const threadConfig = resolved.config;
    resolved.config = configWithCaller(resolved.config, callerOf(ctx));
    // The trace of the call creating the run (none without tracing): the run's attempts join it.
    resolved.traceParent = currentTraceParent() ?? "";
    return {
      runId: newId(),
      threadId,
      createThread: stateless || req.ifNotExists === IfNotExists.CREATE,
      deleteThreadOnEnd: stateless && req.onCompletion !== OnCompletion.KEEP,
      assistantId: assistant.assistant_id,
      graphId: assistant.graph_id,
      metadata: (spec.metadata ?? {}) as JsonObject,
      spec: encodeSpec(resolved),
      multitask: stateless ? "enqueue" : MULTITASK_FROM_PROTO[req.multitaskStrategy],
      afterSeconds: req.afterSeconds,
      requestId: req.requestId || null,
      config: threadConfig,
      auth: authOf(ctx),
    };
  };

  /**
   * Signals what a committed create did: cancels of the runs it pre-empted, ends of the pending
   * ones it ended, and a wake-up for the workers. Signals only speed things up (workers poll
   * Postgres, and the owning worker also reads cancel requests from the run row), so losing one
   * loses nothing.
   */
  const announceCreated = async (created: CreatedRun, threadId: string): Promise<void> => {
    const signalled = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        logger.warn({ err, run_id: created.run.run_id }, `Failed to signal ${what}; workers will see it by polling`);
      }
    };
    for (const { runId, action } of created.cancelRunning)
      await signalled("a cancel", () => signals.publishCancel(runId, action));
    for (const runId of created.endedPending) await signalled("a run end", () => endStream(runId, threadId, "interrupted"));
    // With the run's spec: a worker of this process claiming it then does not read it back.
    await signalled("a wake-up", () => signals.wake({ runId: created.run.run_id, spec: created.run.spec }));
  };

  const createRow = async (req: CreateRunRequest, ctx: HandlerContext): Promise<RunRow> => {
    const spec = checkedSpec(req);
    const assistant = await runnableAssistant(spec.assistantId);
    const threadId = req.threadId === "" ? newId() : requireUuid("thread_id", req.threadId);
    await deps.admission?.admit();
    const created = await runs.create(newRun(req, threadId, spec, assistant, ctx));
    deps.admission?.created();
    await announceCreated(created, threadId);
    return created.run;
  };

  /**
   * CreateOrResumeRun: the run, and whether it resumes, decided from the thread under its lock.
   * The assistant is read before the transaction (nothing inside it may wait on another query):
   * the given one, or a guess of the thread's from a read without the lock, which the decision
   * confirms under the lock (and reads again when the thread's latest run changed meanwhile).
   */
  const createOrResume = async (req: CreateOrResumeRunRequest, ctx: HandlerContext): Promise<CreateOrResumeRunResponse> => {
    const auth = authOf(ctx);
    const request = req.run;
    if (!request) throw invalidArgument("run is required", [{ field: "run", description: "required" }]);
    const spec = checkedSpec(request);
    const threadId = requireUuid("thread_id", request.threadId);
    const resumeCommand = req.resumeCommandJson.length > 0 ? req.resumeCommandJson : undefined;
    if (req.resumeOnly && resumeCommand === undefined) {
      throw invalidArgument("resume_only needs a resume_command_json", [
        { field: "resume_command_json", description: "required" },
      ]);
    }
    const ask: ResumeAsk = {
      threadId,
      canResume: resumeCommand !== undefined,
      resumeOnly: req.resumeOnly,
      when: req.interruptedWhen === InterruptedWhen.PENDING ? "pending" : "status",
      interruptIds: req.interruptIds,
      assistant: spec.assistantId,
    };
    await deps.admission?.admit();
    for (let attempt = 1; ; attempt++) {
      const named = spec.assistantId !== "" ? spec.assistantId : threadAssistant(await runs.threadForRun(threadId, auth));
      // A failure to load it is answered only if the decision gets that far (a refusal of the thread comes first).
      const loaded =
        named === undefined
          ? undefined
          : await runnableAssistant(named).then(
              (row) => ({ row }),
              (err: unknown) => ({ err }),
            );
      let resumed = false;
      let stale = false;
      try {
        const created = await runs.createFromThread(
          threadId,
          { createThread: request.ifNotExists === IfNotExists.CREATE && !req.resumeOnly, auth },
          (thread) => {
            const decision = decideResume(thread, ask);
            resumed = decision.resumed;
            if (decision.assistant !== named || loaded === undefined) {
              stale = true;
              throw staleGuess(threadId);
            }
            if ("err" in loaded) throw loaded.err;
            const runSpec =
              decision.resumed && resumeCommand !== undefined
                ? create(RunSpecSchema, { ...spec, inputJson: new Uint8Array(), commandJson: resumeCommand })
                : spec;
            return { ...newRun(request, threadId, runSpec, loaded.row, ctx), createThread: false };
          },
        );
        deps.admission?.created();
        await announceCreated(created, threadId);
        return create(CreateOrResumeRunResponseSchema, { run: toRun(created.run), resumed });
      } catch (err) {
        if (stale && attempt < 3) continue;
        throw err;
      }
    }
  };

  /** Closes the log of a run that ended without a worker (cancelled while pending). */
  const endStream = async (runId: string, threadId: string, status: RunStatusName) => {
    // Refused (Redis at its maxmemory), the log lacks its end: its streams close by the run's status.
    await signals
      .appendEvents(runId, threadId, [{ event: "end", data: jsonBytes({ run_id: runId, status }) }])
      .catch((err: unknown) => logger.warn({ err, run_id: runId }, "Failed to append the end of a run to its event log"));
    await signals.publishRunDone(runId);
    // The end may have queued a webhook (rare path: no need to know for sure); lost, the poll sends it.
    await signals.publishWebhooksDue().catch(() => {});
  };

  /**
   * Waits until a run has ended (or is gone); answers its last row. `begin` names the run and
   * runs once its end is listened for, so that an end announced meanwhile is not missed; the row
   * it may answer (of a run it has just created) stands for the first read. With mustExist, a run
   * missing at the first read is NOT_FOUND (the first read doubles as the existence check).
   */
  const awaitEnd = async <R extends { status: RunStatusName }>(
    begin: () => Promise<{ runId: string; threadId?: string; row?: R }>,
    read: (runId: string, threadId?: string) => Promise<R | undefined>,
    signal: AbortSignal,
    options: { mustExist?: boolean; fromEnding?: (ending: RunEnding) => R } = {},
  ): Promise<R | undefined> => {
    let runId: string | undefined;
    let wake: () => void = () => {};
    // The end may be announced while a read is under way: then read again at once, not after the poll.
    let ended = false;
    // The end as its worker recorded it, when that worker runs in this process: no read needed.
    let announced: R | undefined;
    const off = signals.onRunDone((id, ending) => {
      if (id !== runId) return;
      ended = true;
      if (ending && options.fromEnding) announced = options.fromEnding(ending);
      wake();
    });
    try {
      const target = await begin();
      runId = target.runId;
      let known = target.row;
      for (let first = true; !signal.aborted; first = false) {
        ended = false;
        const row = known ?? announced ?? (await read(runId, target.threadId));
        known = undefined;
        if (!row && first && options.mustExist) throw notFound("Run", runId);
        if (!row || isFinal(row.status)) return row;
        if (ended) continue;
        const delay = wakeableDelay(1_000, signal);
        wake = delay.wake;
        await delay.done;
      }
      return undefined;
    } finally {
      off();
    }
  };

  const waitForEnd = (runId: string, threadId: string | undefined, signal: AbortSignal, options: { mustExist?: boolean } = {}) =>
    awaitEnd(
      async () => ({ runId, threadId }),
      (id, thread) => runs.get(id, thread),
      signal,
      options,
    );

  const cancelOne = async (runId: string, threadId: string | undefined, action: CancelActionName, auth?: AuthFilter) => {
    const result = await runs.cancel(runId, threadId, action, auth);
    if (!result) throw notFound("Run", runId);
    if (result.outcome === "ended") await endStream(runId, result.threadId, "interrupted");
    // The cancel is recorded on the run: a lost signal only delays it to the worker's next heartbeat.
    if (result.outcome === "signal")
      await signals
        .publishCancel(runId, action)
        .catch((err: unknown) =>
          logger.warn({ err, run_id: runId }, "Failed to signal a cancel; the worker will see it by polling"),
        );
    return result;
  };

  /** The run, if the caller may read it: one on a thread their auth filter does not match is NOT_FOUND, as if absent. */
  const mustGet = async (runId: string, threadId: string | undefined, auth: AuthFilter | undefined) => {
    const row = await runs.get(runId, threadId, auth);
    if (!row) throw notFound("Run", runId);
    return row;
  };

  const optionalThread = (threadId: string) => (threadId === "" ? undefined : requireUuid("thread_id", threadId));

  /** A run's events from `req.lastEventId` on, until its end (StreamRun); `known`: its row, just read or created. */
  async function* runEvents(
    req: StreamRunRequest,
    ctx: HandlerContext,
    known?: RunRow,
  ): AsyncGenerator<{ event: MessageInitShape<typeof RunEventSchema> }> {
    const runId = requireUuid("run_id", req.runId);
    const threadId = optionalThread(req.threadId);
    const auth = known ? undefined : authOf(ctx);
    const row = known ?? (await runs.get(runId, threadId, auth));
    // A restricted caller sees only runs on threads they may read; an event log alone is not enough.
    if (!row && auth) throw notFound("Run", runId);
    let last = req.lastEventId === "" ? "" : req.lastEventId;
    // With no Last-Event-ID, a join sees events from now on (what the log already holds is skipped).
    const liveOnly = last === "";
    let ended = false;
    const streamEnded = deps.collector?.begin();
    try {
      if (liveOnly) {
        const backlog = await signals.readEvents(runId, "-1", 0, ctx.signal);
        const endSeen = backlog.find((e) => e.event === "end");
        if (endSeen) {
          yield { event: { id: endSeen.id, event: "end", dataJson: endSeen.data } };
          return;
        }
        last = backlog.at(-1)?.id ?? "-1";
      }
      if (!row) {
        const any = await signals.readEvents(runId, fromStart(last) ? "-1" : last, 0, ctx.signal);
        if (any.length === 0) throw notFound("Run", runId);
      }
      while (!ctx.signal.aborted) {
        const batch = await signals.readEvents(runId, last, pollMs, ctx.signal);
        for (const e of batch) {
          last = e.id;
          if (eventMatchesModes(e.event, req.streamModes)) {
            yield { event: { id: e.id, event: e.event, dataJson: e.data } };
          }
          if (e.event === "end") {
            ended = true;
            return;
          }
        }
        if (batch.length === 0) {
          const current = await runs.outcome(runId, threadId);
          if (!current || isFinal(current.status)) {
            // Ended with its log gone (expired, or Redis lost): close the stream honestly.
            const tail = await signals.readEvents(runId, last, 0, ctx.signal);
            if (tail.length > 0) continue;
            ended = true;
            yield {
              event: { id: "", event: "end", dataJson: jsonBytes({ run_id: runId, status: current?.status ?? "success" }) },
            };
            return;
          }
        }
      }
    } finally {
      streamEnded?.();
      if (!ended && req.cancelOnDisconnect) {
        await cancelOne(runId, threadId, "interrupt").catch((err: unknown) =>
          logger.debug({ err }, "Failed to cancel on disconnect"),
        );
      }
    }
  }

  return {
    async createRun(req, ctx) {
      return { run: await createOne(req, ctx) };
    },

    async createRuns(req, ctx) {
      if (req.runs.length === 0) throw invalidArgument("runs must not be empty", [{ field: "runs", description: "empty" }]);
      const out: Run[] = [];
      for (const one of req.runs) out.push(await createOne(one, ctx));
      return { runs: out };
    },

    async getRun(req, ctx) {
      return { run: toRun(await mustGet(requireUuid("run_id", req.runId), optionalThread(req.threadId), authOf(ctx))) };
    },

    async listRuns(req, ctx) {
      const threadId = requireUuid("thread_id", req.threadId);
      const { limit, offset } = page(req.limit, req.offset);
      const auth = authOf(ctx);
      // The runs of a thread the caller may not read are NOT_FOUND, as upstream answers (its thread is).
      if (auth && !(await runs.threadForRun(threadId, auth))) throw notFound("Thread", threadId);
      const rows = await runs.list(threadId, limit, offset, STATUS_FROM_PROTO[req.status]);
      return { runs: rows.map(toRun) };
    },

    async deleteRun(req, ctx) {
      const outcome = await runs.delete(requireUuid("thread_id", req.threadId), requireUuid("run_id", req.runId), authOf(ctx));
      if (outcome === "missing") throw notFound("Run", req.runId);
      if (outcome === "active") throw failedPrecondition(Reason.RunActive, `Run ${req.runId} is still active; cancel it first`);
      return {};
    },

    async cancelRun(req, ctx) {
      const runId = requireUuid("run_id", req.runId);
      const threadId = optionalThread(req.threadId);
      const auth = authOf(ctx);
      // A run's assistant never changes: checked before the cancel, whose decision is taken under the locks.
      if (req.assistantId !== "") {
        const run = await mustGet(runId, threadId, auth);
        if (run.assistant_id !== resolveAssistantId(req.assistantId, deps.graphIds())) throw notFound("Run", runId);
      }
      const { outcome } = await cancelOne(runId, threadId, cancelAction(req.action), auth);
      const row = req.wait ? await waitForEnd(runId, threadId, ctx.signal) : await runs.get(runId, threadId);
      return { run: row ? toRun(row) : undefined, alreadyEnded: outcome === "already-done" };
    },

    async cancelRuns(req, ctx) {
      const statuses = req.statuses.map((s) => STATUS_FROM_PROTO[s]).filter((s): s is RunStatusName => s !== undefined);
      const auth = authOf(ctx);
      const selected = await runs.activeRuns({
        threadId: optionalThread(req.threadId),
        runIds: req.runIds.map((id) => requireUuid("run_ids", id)),
        statuses,
        auth,
      });
      for (const row of selected)
        await cancelOne(row.run_id, row.thread_id ?? undefined, cancelAction(req.action), auth).catch(() => {});
      return { cancelledCount: BigInt(selected.length) };
    },

    async createAndJoinRun(req, ctx) {
      if (!req.run) throw invalidArgument("run is required", [{ field: "run", description: "required" }]);
      const request = req.run;
      let created: RunRow | undefined;
      // Its outcome is all the answer needs: reads of the whole row would bring back its spec (its
      // input) each time, and its result parsed, only to be printed again.
      const row = await awaitEnd<JoinOutcome>(
        async () => {
          created = await createRow(request, ctx);
          const first = { status: created.status, error: created.error, resultJson: null };
          return { runId: created.run_id, threadId: optionalThread(request.threadId), row: first };
        },
        async (id, thread) => {
          const outcome = await runs.outcome(id, thread);
          return outcome && joinOutcome(outcome);
        },
        ctx.signal,
        { fromEnding: (ending) => ({ status: ending.status, error: ending.error, resultJson: ending.resultJson }) },
      );
      if (ctx.signal.aborted && req.cancelOnDisconnect && created) {
        await cancelOne(created.run_id, optionalThread(request.threadId), "interrupt").catch(() => {});
      }
      return { run: created ? toRun(created) : undefined, resultJson: joinResult(row) };
    },

    async joinRun(req, ctx) {
      const runId = requireUuid("run_id", req.runId);
      const threadId = optionalThread(req.threadId);
      // Checked once, before the wait: a stateless run's thread goes when it ends, and the wait must still see the end.
      const auth = authOf(ctx);
      if (auth) await mustGet(runId, threadId, auth);
      const row = await waitForEnd(runId, threadId, ctx.signal, { mustExist: true });
      if (ctx.signal.aborted && req.cancelOnDisconnect) await cancelOne(runId, threadId, "interrupt").catch(() => {});
      return { run: row ? toRun(row) : undefined, resultJson: joinResult(row) };
    },

    streamRun: (req, ctx) => runEvents(req, ctx),

    createOrResumeRun: (req, ctx) => createOrResume(req, ctx),

    async *createAndStreamRun(req, ctx) {
      if (!req.run) throw invalidArgument("run is required", [{ field: "run", description: "required" }]);
      const created = await createRow(req.run, ctx);
      yield { kind: { case: "run", value: toRun(created) } };
      const events = runEvents(
        create(StreamRunRequestSchema, {
          threadId: req.run.threadId,
          runId: created.run_id,
          lastEventId: "-1",
          cancelOnDisconnect: req.cancelOnDisconnect,
        }),
        ctx,
        created,
      );
      for await (const { event } of events) yield { kind: { case: "event", value: event } };
    },
  };
}
