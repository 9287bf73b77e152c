import { randomUUID } from "node:crypto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { createWritableIterable } from "@connectrpc/connect/protocol";
import {
  contextFromTraceParent,
  createIdleCollector,
  errorInfo,
  inSpan,
  jsonBytes,
  jsonText,
  type Logger,
  Reason,
  SpanKind,
  sleep,
  textBytes,
  tracingEnabled,
} from "@langopen/common";
import {
  type CancelAction,
  type ClaimedRun,
  decodeSpec,
  type RunEnding,
  type RunLeaseStore,
  type Signals,
} from "@langopen/data-plane";
import type { CheckpointService } from "@langopen/gen/langopen/data/v1/checkpoint_service_pb";
import type { RunSpec } from "@langopen/gen/langopen/data/v1/run_pb";
import {
  type CheckpointCall,
  type CheckpointReplySchema,
  type ExecuteRequest,
  ExecuteRequestSchema,
  ExecuteRunRequestSchema,
  RunOutcome,
  type RunResult,
  type RuntimeService,
} from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { createEventSink } from "./event-sink.js";
import type { WorkerMetrics } from "./metrics.js";
import { interruptList, settledFromState } from "./runtime-state.js";

export interface WorkerDeps {
  runs: RunLeaseStore;
  signals: Signals;
  /** Answers the checkpoint calls of the runs this worker drives (CheckpointService, on its own pool). */
  checkpoints: Client<typeof CheckpointService>;
  /**
   * Runtime clients; each run goes to the one with the fewest of this worker's runs in flight
   * (a CPU-bound run then holds up only the runs sharing its process).
   */
  runtimes: Array<Client<typeof RuntimeService>>;
  /**
   * Why the runtime at this index of `runtimes` went away at or after `sinceMs`, when its
   * supervisor knows (the launcher): it words the failure of the runs that were on it, and a run
   * alone on a process that ran out of memory ends `error` at once instead of being retried.
   */
  runtimeExit?: (index: number, sinceMs: number) => { reason: string; outOfMemory: boolean } | undefined;
  /** Wall-clock limit of one attempt of a run, in ms; past it the run ends `timeout`. Absent: none. */
  runTimeoutMs?: number;
  logger: Logger;
  concurrency: number;
  /** Most bytes of run specs in flight at once (see WORKER_MAX_INFLIGHT_INPUT_BYTES); absent: no limit. */
  maxInflightInputBytes?: number;
  leaseMs: number;
  /** Where the worker counts runs' waits, attempts and stream events; absent: not counted. */
  metrics?: WorkerMetrics;
  /** Longest wait for a wake-up before looking at Postgres anyway. */
  pollMs: number;
  maxAttempts: number;
  /** How long a run's event log is kept after it ends. */
  retentionSeconds: number;
  owner?: string;
}

export interface Worker {
  readonly owner: string;
  /** Runs in flight now. */
  inflight(): number;
  stop(graceMs: number): Promise<void>;
}

interface Cancel {
  action: CancelAction;
}

/** How long the worker waits for an avoided runtime (see avoidUntilAnswered) to answer before using it anyway. */
const STUCK_PROBE_LIMIT_MS = 10 * 60_000;

/** A run that took its runtime process down alone (it ran out of memory): retrying it would do it again. */
class RuntimeOutOfMemoryError extends Error {
  override name = "RuntimeOutOfMemory";
}

/** A run stopped at its wall-clock limit: it ends `timeout`. The name is upstream's for the same end. */
class RunTimeoutError extends Error {
  override name = "TimeoutError";
}

/** Codes that blame the request itself, not a dependency (house style 4.7): retrying cannot help. */
const RUN_FAULTS = new Set([
  Code.InvalidArgument,
  Code.NotFound,
  Code.FailedPrecondition,
  Code.AlreadyExists,
  Code.PermissionDenied,
  Code.Unimplemented,
]);

/**
 * Whether a failed Execute blames the run itself, so that the run ends at once with the error
 * instead of being retried, e.g. the runtime's NOT_FOUND for a graph it does not serve. Only an
 * answer that names its reason counts: a data-plane failure relayed from one of the run's
 * checkpoint calls comes with a code alone, and a refused stale epoch (a lapsed lease) is for the
 * next attempt to settle.
 */
function isRunFault(err: unknown): boolean {
  if (err instanceof RuntimeOutOfMemoryError || err instanceof RunTimeoutError) return true;
  if (!(err instanceof ConnectError) || !RUN_FAULTS.has(err.code)) return false;
  const reason = errorInfo(err)?.reason;
  return reason !== undefined && reason !== Reason.StaleEpoch;
}

/** Claims runnable runs, drives them on a runtime, and records how they end. */
export function startWorker(deps: WorkerDeps): Worker {
  const { runs, signals, logger, metrics } = deps;
  const owner = deps.owner ?? `worker-${randomUUID()}`;
  const stopping = new AbortController();
  const active = new Map<
    string,
    { abort: AbortController; cancel?: Cancel; timedOut?: boolean; done: Promise<void>; specBytes: number }
  >();
  /** Bytes of the specs of the runs in `active`. */
  let inflightBytes = 0;
  // Large runs leave garbage V8 would keep while the process idles (see IdleCollector); in one
  // process with the gateway and api-server, theirs (bodies, streams) goes with it.
  const collector = createIdleCollector({ logger, growthBytes: 128 * 1024 * 1024, pressureBytes: 256 * 1024 * 1024 });
  let slotFreed: () => void = () => {};
  /** This worker's runs in flight per runtime (by index of deps.runtimes). */
  const load = deps.runtimes.map(() => 0);
  /** Runtimes avoided until they answer again (see avoidUntilAnswered). */
  const stuck = new Set<number>();

  metrics?.watchBusy(() => active.size, deps.concurrency);
  /** Seconds since the claim of a run's attempt. */
  const since = (claimedAt: number) => (Date.now() - claimedAt) / 1000;

  const offCancel = signals.onCancel((runId, action) => {
    const run = active.get(runId);
    if (run) {
      run.cancel = { action };
      run.abort.abort();
    }
  });

  let turn = 0;
  /**
   * The runtime with the fewest of this worker's runs in flight, avoiding stuck ones; ties go in
   * turn (other workers' runs are not counted here: taking turns spreads those too).
   */
  const leastBusy = (): number => {
    const busyness = (i: number) => (stuck.has(i) ? 1_000_000 : 0) + (load[i] as number);
    const first = turn++ % load.length;
    let best = first;
    for (let k = 1; k < load.length; k++) {
      const i = (first + k) % load.length;
      if (busyness(i) < busyness(best)) best = i;
    }
    return best;
  };
  const runtimeFor = () => deps.runtimes[leastBusy()] as Client<typeof RuntimeService>;

  /**
   * A runtime that held a run past its timeout may be stuck in graph code that never yields, and
   * one that failed under a run may be restarting: it gets no new run until it answers again
   * (a supervisor kills a stuck one, and restarts a dead one).
   */
  function avoidUntilAnswered(index: number): void {
    if (stuck.has(index)) return;
    stuck.add(index);
    const runtime = deps.runtimes[index] as Client<typeof RuntimeService>;
    void (async () => {
      const deadline = Date.now() + STUCK_PROBE_LIMIT_MS;
      while (!stopping.signal.aborted && Date.now() < deadline) {
        try {
          await runtime.listGraphs({}, { timeoutMs: 2_000, signal: stopping.signal });
          break;
        } catch {
          await sleep(1_000, stopping.signal);
        }
      }
      stuck.delete(index);
    })();
  }

  /**
   * The failure of a run whose runtime process went away under it, worded with the reason its
   * supervisor saw (the exit may be reported a moment after the broken call).
   */
  async function explainFailure(failure: unknown, index: number, sinceMs: number, alone: boolean): Promise<unknown> {
    if (!(failure instanceof ConnectError)) return failure;
    for (let i = 0; i < 20 && !stopping.signal.aborted; i++) {
      const exit = deps.runtimeExit?.(index, sinceMs);
      if (exit) {
        // Alone on the process, the run is what exhausted its memory; with others, any of them may have.
        if (exit.outOfMemory && alone) return new RuntimeOutOfMemoryError(`${exit.reason}; the run is not retried`);
        return new ConnectError(exit.reason, Code.Unavailable);
      }
      await sleep(100, stopping.signal);
    }
    return failure;
  }

  async function settleFromRuntime(row: ClaimedRun) {
    const res = await runtimeFor().getState({ graphId: row.graph_id, threadId: row.thread_id });
    return settledFromState(jsonText(res.stateJson, "{}"));
  }

  /**
   * Drives a claimed run to its end; resolves to whether another run may now be runnable. With
   * traces on, the attempt is a span whose parent is the call that created the run (kept in its
   * spec): every attempt, on any worker, joins that trace.
   */
  async function execute(row: ClaimedRun, claimedAt: number): Promise<boolean> {
    if (!tracingEnabled()) return executeAttempt(row, claimedAt);
    let spec: RunSpec | undefined;
    try {
      spec = decodeSpec(row.spec);
    } catch {
      // The attempt meets the same failure and ends the run with it.
    }
    return inSpan(
      "run",
      {
        kind: SpanKind.CONSUMER,
        parent: contextFromTraceParent(spec?.traceParent),
        attributes: {
          "langopen.run_id": row.run_id,
          "langopen.thread_id": row.thread_id,
          "langopen.assistant_id": row.assistant_id,
          "langopen.graph_id": row.graph_id,
          "langopen.attempt": row.attempt,
          "langopen.component": "worker",
        },
      },
      () => executeAttempt(row, claimedAt, spec),
    );
  }

  async function executeAttempt(row: ClaimedRun, claimedAt: number, decoded?: RunSpec): Promise<boolean> {
    const log = logger.child({ run_id: row.run_id, thread_id: row.thread_id, assistant_id: row.assistant_id });
    const entry = active.get(row.run_id);
    if (!entry) return true;
    // What the worker tells the runtime while the run goes: which events are durable (the
    // runtime holds each checkpoint until the events before it are), and that the lease holds.
    const requests = createWritableIterable<ExecuteRequest>();
    const tell = (kind: MessageInitShape<typeof ExecuteRequestSchema>["kind"]) => {
      requests.write(create(ExecuteRequestSchema, { kind })).catch(() => {});
    };
    const sink = createEventSink(
      signals,
      row.run_id,
      // A temporary thread (a stateless run's, deleted at its end) keeps no log of its own.
      row.delete_thread_on_end ? null : row.thread_id,
      BigInt(row.epoch),
      (seq) => tell({ case: "ack", value: { durableEvents: BigInt(seq) } }),
      (err, events) => log.warn({ err, events }, "The event log refused events; the run goes on without them"),
      (events) => metrics?.streamEvents(events),
    );
    sink.push("metadata", jsonBytes({ run_id: row.run_id, thread_id: row.thread_id, attempt: row.attempt }));
    let lostLease = false;
    const heartbeat = setInterval(
      () => {
        const sent = Date.now();
        runs
          .heartbeat(row.run_id, row.epoch, deps.leaseMs)
          .then(({ owned, cancel }) => {
            if (!owned) {
              lostLease = true;
              entry.abort.abort();
              return;
            }
            tell({ case: "lease", value: { validForMs: BigInt(Math.max(0, deps.leaseMs - (Date.now() - sent))) } });
            if (cancel && !entry.cancel) {
              entry.cancel = { action: cancel };
              entry.abort.abort();
            }
          })
          .catch((err: unknown) => log.warn({ err }, "Failed to extend run lease"));
      },
      Math.max(100, Math.floor(deps.leaseMs / 3)),
    );

    let result: RunResult | undefined;
    let failure: unknown;
    // The least busy runtime; it is this run's until it ends.
    const runtimeIndex = leastBusy();
    load[runtimeIndex] = (load[runtimeIndex] ?? 0) + 1;
    const executeStarted = Date.now();
    const timeout =
      deps.runTimeoutMs === undefined
        ? undefined
        : setTimeout(
            () => {
              entry.timedOut = true;
              entry.abort.abort();
            },
            Math.max(0, deps.runTimeoutMs - (Date.now() - claimedAt)),
          );
    try {
      // A cancel asked for before the claim comes with the claimed row; one that raced the claim
      // and missed our subscription shows up at the first heartbeat.
      if (row.cancel_action) {
        entry.cancel = { action: row.cancel_action };
        entry.abort.abort();
      }
      const spec = decoded ?? decodeSpec(row.spec);
      const start = {
        runId: row.run_id,
        threadId: row.thread_id,
        graphId: row.graph_id,
        assistantId: row.assistant_id,
        spec,
        fence: { runId: row.run_id, epoch: BigInt(row.epoch) },
        ephemeral: row.delete_thread_on_end,
        servesCheckpoints: true,
        takesValuesFromEvents: true,
      };
      tell({ case: "start", value: create(ExecuteRunRequestSchema, start) });
      // The claim set the lease a moment ago; the runtime counts it down from here.
      tell({ case: "lease", value: { validForMs: BigInt(Math.max(0, deps.leaseMs - (Date.now() - claimedAt))) } });
      const stream = (deps.runtimes[runtimeIndex] as Client<typeof RuntimeService>).execute(requests, {
        signal: entry.abort.signal,
      });
      let seq = 0;
      // The data of the last root `values` event: the result's values when it says so (they come once).
      let lastValues: Uint8Array = new Uint8Array();
      for await (const message of stream) {
        if (message.kind.case === "event") {
          if (message.kind.value.event === "values") lastValues = message.kind.value.dataJson;
          sink.push(message.kind.value.event, message.kind.value.dataJson, ++seq);
        } else if (message.kind.case === "result") {
          result = message.kind.value;
          if (result.valuesAreLastEvent) result.valuesJson = lastValues;
        } else if (message.kind.case === "checkpointCall") {
          // Answered before the next message is read: the run's calls and events stay in order.
          tell({
            case: "checkpointReply",
            value: await answerCheckpointCall(start.fence, message.kind.value, sink, entry.abort.signal),
          });
        }
      }
    } catch (err) {
      if (!entry.abort.signal.aborted) failure = err;
    } finally {
      clearInterval(heartbeat);
      clearTimeout(timeout);
      requests.close();
    }
    const alone = load[runtimeIndex] === 1;
    load[runtimeIndex] = (load[runtimeIndex] ?? 1) - 1;
    if (entry.timedOut && !result) {
      failure = new RunTimeoutError(
        `the run exceeded its time limit of ${Math.round((deps.runTimeoutMs ?? 0) / 1000)} s (LANGOPEN_RUN_TIMEOUT_SECONDS) and was stopped`,
      );
      avoidUntilAnswered(runtimeIndex);
    } else if (failure && !result && !isRunFault(failure)) {
      // The runtime failed under the run (a graph's own error comes as a result): the next runs,
      // this one's next attempt too, go elsewhere until it answers again.
      avoidUntilAnswered(runtimeIndex);
      if (deps.runtimeExit) failure = await explainFailure(failure, runtimeIndex, executeStarted, alone);
    }

    try {
      return await finish(row, entry.cancel, lostLease, result, failure, sink, log, claimedAt);
    } catch (err) {
      log.error({ err }, "Failed to record the end of a run");
      return true;
    }
  }

  /**
   * A checkpoint read or write of a running run. A write waits until every event the run sent
   * before it is durable, so an attempt resumed from that checkpoint lacks none of them, and it is
   * made with the fence of this worker's claim, whatever the runtime sent.
   */
  async function answerCheckpointCall(
    fence: { runId: string; epoch: bigint },
    call: CheckpointCall,
    sink: ReturnType<typeof createEventSink>,
    signal: AbortSignal,
  ): Promise<MessageInitShape<typeof CheckpointReplySchema>> {
    const { id, kind } = call;
    try {
      if (kind.case === "getCheckpoint") {
        return { id, kind: { case: "getCheckpoint", value: await deps.checkpoints.getCheckpoint(kind.value, { signal }) } };
      }
      if (kind.case === "putBatch") {
        try {
          await sink.drain();
        } catch (err) {
          throw new ConnectError(`the run's events before this write could not be appended: ${String(err)}`, Code.Aborted);
        }
        return {
          id,
          kind: { case: "putBatch", value: await deps.checkpoints.putBatch({ writes: kind.value.writes, fence }, { signal }) },
        };
      }
      throw new ConnectError("a checkpoint call without a request", Code.InvalidArgument);
    } catch (err) {
      const failure = ConnectError.from(err);
      return { id, kind: { case: "error", value: { code: failure.code, message: failure.rawMessage } } };
    }
  }

  async function finish(
    row: ClaimedRun,
    cancel: Cancel | undefined,
    lostLease: boolean,
    result: RunResult | undefined,
    failure: unknown,
    sink: ReturnType<typeof createEventSink>,
    log: Logger,
    claimedAt: number,
  ): Promise<boolean> {
    const fence = {
      runId: row.run_id,
      threadId: row.thread_id,
      epoch: row.epoch,
      claimed: { spec: row.spec, deleteThreadOnEnd: row.delete_thread_on_end },
    };
    if (lostLease || sink.fenced()) {
      // A newer attempt owns the run (our lease expired): it finishes the run, and what this
      // attempt still holds must not land in its stream.
      sink.discard();
      metrics?.attemptEnded("lease_lost");
      log.warn("Left run to its next owner after losing its lease");
      return true;
    }
    if (!result && failure && !isRunFault(failure)) {
      // No outcome from the graph: the runtime or the data plane failed under it (graph errors
      // arrive as a result). Try again on the next attempt rather than blaming the graph.
      const error = describeFailure(failure);
      const retry = await runs.retryLater(row.run_id, row.epoch, deps.maxAttempts, error);
      if (retry === "requeued") {
        metrics?.attemptEnded("retried", since(claimedAt));
        sink.discard();
        await signals.wake().catch(() => {});
        log.warn({ error }, "Returned run to the queue after an infrastructure failure");
        return true;
      }
      if (retry === "fenced") {
        metrics?.attemptEnded("lease_lost");
        sink.discard();
        return true;
      }
      metrics?.attemptEnded("gave_up", since(claimedAt));
      // Out of attempts: the run ended as an error; say so on its stream.
      sink.push("error", jsonBytes(error));
      sink.push("end", jsonBytes({ run_id: row.run_id, status: "error" }));
      await sink.drain().catch(() => {});
      await signals.expireEvents(row.run_id, deps.retentionSeconds).catch(() => {});
      await signals.publishRunDone(row.run_id).catch(() => {});
      // The end may have queued a webhook (rare path: no need to know for sure).
      await signals.publishWebhooksDue().catch(() => {});
      log.error({ error }, "Gave up on a run after repeated infrastructure failures");
      return true;
    }
    if (stopping.signal.aborted && !cancel && !result && !failure) {
      // Shutting down past the grace period: hand the run back without counting the attempt.
      await sink.drain().catch(() => {});
      if (await runs.handBack(row.run_id, row.epoch)) {
        metrics?.attemptEnded("handed_back");
        await signals.wake().catch(() => {});
        log.info("Handed run back to the queue on shutdown");
      }
      return true;
    }
    let status: "success" | "error" | "interrupted" | "timeout";
    let outcome: Awaited<ReturnType<RunLeaseStore["finish"]>>;
    /** The error of a run that ended without a result from the runtime, for its stream. */
    let unreported: { error: string; message: string } | undefined;
    /** How it ended, for whoever waits on it in this process (see RunEnding); none for a rollback. */
    let ending: RunEnding | undefined;
    if (cancel?.action === "rollback") {
      status = "interrupted";
      outcome = await runs.finish(fence, { kind: "rollback" });
      if (!outcome.fenced && !outcome.deleteThread) {
        const state = await settleFromRuntime(row).catch(() => undefined);
        if (state) {
          await runs.setThreadState(row.thread_id, {
            status: state.hasNext ? "interrupted" : "idle",
            valuesJson: state.valuesJson,
            interruptsJson: state.interruptsJson,
          });
        }
      }
    } else if (cancel || result?.outcome === RunOutcome.INTERRUPTED) {
      status = "interrupted";
      const state = await settleFromRuntime(row).catch(() => undefined);
      ending = { status, error: null, resultJson: state ? textBytes(state.valuesJson) : null };
      outcome = await runs.finish(fence, {
        kind: "done",
        status,
        resultJson: state?.valuesJson,
        thread: state
          ? { status: state.hasNext ? "interrupted" : "idle", valuesJson: state.valuesJson, interruptsJson: state.interruptsJson }
          : { status: "idle" },
      });
    } else if (result && result.outcome === RunOutcome.SUCCESS) {
      status = "success";
      // The values as the runtime sent them (they may be megabytes): stored and answered as they
      // are, decoded only to add the interrupts to them.
      const valuesJson = result.valuesJson.length > 0 ? result.valuesJson : textBytes("{}");
      const interruptsJson = jsonText(result.interruptsJson, "{}");
      const pending = interruptList(interruptsJson);
      // The run's result shows the interrupts it stopped at beside its values, as upstream does.
      const values = pending.length > 0 ? (JSON.parse(jsonText(valuesJson)) as unknown) : undefined;
      const withInterrupts =
        values && typeof values === "object" && !Array.isArray(values)
          ? JSON.stringify({ ...values, __interrupt__: pending })
          : valuesJson;
      ending = {
        status,
        error: null,
        resultJson: typeof withInterrupts === "string" ? textBytes(withInterrupts) : withInterrupts,
      };
      try {
        outcome = await runs.finish(fence, {
          kind: "done",
          status,
          resultJson: withInterrupts,
          thread: { status: result.hasNext || pending.length > 0 ? "interrupted" : "idle", valuesJson, interruptsJson },
        });
      } catch (err) {
        // The store refused the run's values (e.g. a NUL character, which Postgres text cannot
        // hold): retrying would meet the same refusal, so the run ends `error`, saying why.
        if (!(err instanceof ConnectError) || err.code !== Code.InvalidArgument) throw err;
        status = "error";
        unreported = { error: "UnstorableOutput", message: `the run's values could not be stored: ${err.rawMessage}` };
        ending = { status, error: unreported, resultJson: null };
        outcome = await runs.finish(fence, { kind: "done", status, error: unreported, thread: { status: "error" } });
        log.warn({ error: unreported }, "Run failed");
      }
    } else {
      status = failure instanceof RunTimeoutError ? "timeout" : "error";
      const error = result?.errorJson.length
        ? (JSON.parse(jsonText(result.errorJson)) as { error: string; message: string })
        : describeFailure(failure);
      // A result's error went on the stream with the run's events; one without a result did not.
      if (!result) unreported = error;
      ending = { status, error, resultJson: null };
      const valuesJson = result?.valuesJson.length ? jsonText(result.valuesJson) : undefined;
      outcome = await runs.finish(fence, {
        kind: "done",
        status,
        error,
        thread: {
          status: "error",
          valuesJson,
          interruptsJson: valuesJson ? jsonText(result?.interruptsJson ?? new Uint8Array(), "{}") : undefined,
        },
      });
      log.warn({ error }, "Run failed");
    }
    if (outcome.fenced) {
      sink.discard();
      metrics?.attemptEnded("lease_lost");
      log.warn("Refused to record the end of a run owned by a newer attempt");
      return true;
    }
    metrics?.attemptEnded(cancel ? "cancelled" : status, since(claimedAt));
    if (unreported) sink.push("error", jsonBytes(unreported));
    sink.push("end", jsonBytes({ run_id: row.run_id, status }));
    await sink.drain();
    // Both once the end is in the log; they need no order between them.
    await Promise.all([signals.expireEvents(row.run_id, deps.retentionSeconds), signals.publishRunDone(row.run_id, ending)]);
    // Only an end that queued a delivery wakes the dispatchers (their poll sends it otherwise).
    if (outcome.webhookQueued) await signals.publishWebhooksDue().catch(() => {});
    log.debug({ status }, "Finished run");
    // A deleted temporary thread took any run queued on it along (cascade): nothing new is runnable.
    return outcome.deleteThread ? false : (outcome.threadBusy ?? true);
  }

  function describeFailure(err: unknown): { error: string; message: string } {
    if (err instanceof ConnectError) {
      if (err.code === Code.Unavailable) return { error: "ServiceUnavailable", message: err.rawMessage };
      const info = errorInfo(err);
      // The runtime's NOT_FOUND for a graph id it does not have.
      if (err.code === Code.NotFound && info?.metadata.kind === "Graph") {
        return { error: "GraphNotFound", message: `graph '${info.metadata.id}' is not served by this deployment's runtime` };
      }
      return { error: err.name === "ConnectError" ? Code[err.code] : err.name, message: err.rawMessage };
    }
    if (err instanceof Error) return { error: err.name, message: err.message };
    return { error: "Error", message: "the run ended without a result" };
  }

  function untilSlotFreed(): Promise<void> {
    return new Promise<void>((resolve) => {
      slotFreed = resolve;
      stopping.signal.addEventListener("abort", () => resolve(), { once: true });
    });
  }

  async function loop(): Promise<void> {
    while (!stopping.signal.aborted) {
      try {
        const budget = deps.maxInflightInputBytes;
        // With runs in flight, only runs whose spec fits in what is left of the byte budget
        // (alone, any run may start).
        const room = budget === undefined || active.size === 0 ? undefined : budget - inflightBytes;
        if (active.size >= deps.concurrency || (room !== undefined && room <= 0)) {
          await untilSlotFreed();
          continue;
        }
        const claimedAt = Date.now();
        // As many as there are free slots, in one statement.
        const free = deps.concurrency - active.size;
        // A run created in this process comes with its spec: the claim need not read it back.
        const claimed = await runs.claim(owner, deps.leaseMs, free, (runId) => signals.takeSpec(runId), room);
        if (claimed.length > 0 && stopping.signal.aborted) {
          // Claimed while stopping: give them straight back.
          for (const row of claimed) await runs.handBack(row.run_id, row.epoch);
          break;
        }
        let started = 0;
        for (const row of claimed) {
          const specBytes = row.spec.byteLength;
          // Each fits the budget alone, not necessarily together: the rest go back to the queue.
          if (budget !== undefined && active.size > 0 && inflightBytes + specBytes > budget) {
            if (await runs.handBack(row.run_id, row.epoch)) await signals.wake().catch(() => {});
            continue;
          }
          started++;
          // Runnable since it was created, or since its after_seconds passed.
          const runnableAt = Math.max(row.created_at.getTime(), row.run_after.getTime());
          metrics?.started((claimedAt - runnableAt) / 1000, row.attempt === 1);
          const abort = new AbortController();
          const record = { abort, done: Promise.resolve() as Promise<void>, specBytes };
          active.set(row.run_id, record);
          inflightBytes += specBytes;
          const ended = collector.begin();
          record.done = execute(row, claimedAt)
            .catch(() => true)
            .then((runnable) => {
              ended();
              active.delete(row.run_id);
              inflightBytes -= specBytes;
              slotFreed();
              // The thread's next queued run is now runnable: any worker may take it.
              if (runnable) void signals.wake().catch(() => {});
            });
        }
        if (started < claimed.length) {
          // Over the byte budget: claim again once a run has ended.
          await untilSlotFreed();
          continue;
        }
        // Every slot filled: wait for one to free. Fewer runs than slots: none was left to claim.
        if (claimed.length === free) continue;
        await signals.waitForWake(deps.pollMs, stopping.signal);
      } catch (err) {
        logger.warn({ err }, "Worker loop failed; retrying");
        await sleep(500, stopping.signal);
      }
    }
  }

  async function reapLoop(): Promise<void> {
    while (!stopping.signal.aborted) {
      await sleep(Math.max(250, deps.leaseMs / 2), stopping.signal);
      if (stopping.signal.aborted) break;
      try {
        const { requeued, failed } = await runs.reap(deps.maxAttempts);
        if (requeued.length > 0) {
          logger.warn({ runs: requeued }, "Returned runs with expired leases to the queue");
          await signals.wake();
        }
        for (const { runId, threadId } of failed) {
          await signals.appendEvents(runId, threadId, [
            {
              event: "error",
              data: jsonBytes({ error: "RunLeaseExpired", message: "the run lost its worker too many times" }),
            },
            { event: "end", data: jsonBytes({ run_id: runId, status: "error" }) },
          ]);
          await signals.publishRunDone(runId);
        }
        if (failed.length > 0) await signals.publishWebhooksDue().catch(() => {});
      } catch (err) {
        logger.debug({ err }, "Reaper pass failed");
      }
    }
  }

  const loops = Promise.all([loop(), reapLoop()]);
  logger.info({ owner, concurrency: deps.concurrency }, "Started worker");

  return {
    owner,
    inflight: () => active.size,
    async stop(graceMs) {
      stopping.abort();
      // Nothing new starts once the loops have ended.
      await loops;
      const all = Promise.all([...active.values()].map((r) => r.done));
      const timedOut = await Promise.race([
        all.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), graceMs)),
      ]);
      if (timedOut) for (const r of active.values()) r.abort.abort();
      await all;
      offCancel();
      logger.info({ owner }, "Stopped worker");
    },
  };
}
