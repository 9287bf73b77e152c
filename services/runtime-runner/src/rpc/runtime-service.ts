import { create, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { RunnableConfig } from "@langchain/core/runnables";
import { MemorySaver } from "@langchain/langgraph-checkpoint";
import { createIdleCollector, invalidArgument, type Logger, parseJsonBytes, textBytes, tracingEnabled } from "@langopen/common";
import { type RunEventSchema, RunSpecSchema } from "@langopen/gen/langopen/data/v1/run_pb";
import type { CheckpointRefSchema } from "@langopen/gen/langopen/data/v1/thread_pb";
import {
  type ExecuteRequest,
  type ExecuteRunRequest,
  RunOutcome,
  type RunResultSchema,
  type RuntimeService,
} from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { type CallerCall, CallerLink, OutgoingCall } from "../domain/caller-link.js";
import { errorBody, plainJsonBytes, samePlainJson, toPlain } from "../domain/plain-json.js";
import { buildRunConfig, fromPublicConfig, runInput, stateConfig } from "../domain/run-config.js";
import { graphSchemas, type SchemaModule } from "../domain/schemas.js";
import { SnapshotSerde } from "../domain/snapshot-serde.js";
import { EventEncoder, KNOWN_MODES, type OutEvent, planStream, StreamTranslator } from "../domain/stream-translator.js";
import { interruptsByTask, toThreadState } from "../domain/thread-state.js";
import type { GraphRegistry } from "../graphs/registry.js";
import type { CompiledGraphLike } from "../graphs/types.js";
import { callerCheckpoints } from "../remote/caller-checkpoints.js";
import { type CheckpointClient, type FenceInit, RemoteCheckpointer, type StateWriteGrantInit } from "../remote/checkpointer.js";
import { RemoteStore, type StoreClient } from "../remote/store.js";
import { traceGraphNodes } from "../tracing/graph-spans.js";

export interface RuntimeServiceDeps {
  graphs: GraphRegistry;
  checkpoints: CheckpointClient;
  store: StoreClient;
  logger: Logger;
  /** Longest wait of a checkpoint write for the caller's acknowledgement of the events before it. */
  ackTimeoutMs?: number;
}

/** One message of a run's response stream: ExecuteRun's shape, and Execute's without its checkpoint calls. */
type ExecuteRunResponseInit = {
  kind:
    | { case: "event"; value: MessageInitShape<typeof RunEventSchema> }
    | { case: "result"; value: MessageInitShape<typeof RunResultSchema> };
};
type ExecuteResponseInit = ExecuteRunResponseInit | { kind: { case: "checkpointCall"; value: CallerCall } };
type CheckpointRefInit = MessageInitShape<typeof CheckpointRefSchema>;

function eventResponse(out: OutEvent, encoder: EventEncoder): ExecuteRunResponseInit {
  // The translator's data is plain JSON already. The worker numbers the events; ids stay empty.
  const dataJson = encoder.encode(out.data);
  return { kind: { case: "event", value: { id: "", event: out.event, dataJson } } };
}

function callMessage(outgoing: OutgoingCall): ExecuteResponseInit {
  return { kind: { case: "checkpointCall", value: outgoing.call } };
}

function requireField(value: string, field: string): string {
  if (value === "") throw invalidArgument(`${field} is required`, [{ field, description: "required" }]);
  return value;
}

function refFromConfig(config: RunnableConfig): CheckpointRefInit {
  const c = config.configurable ?? {};
  const map = c.checkpoint_map;
  return {
    threadId: typeof c.thread_id === "string" ? c.thread_id : "",
    checkpointNs: typeof c.checkpoint_ns === "string" ? c.checkpoint_ns : "",
    checkpointId: typeof c.checkpoint_id === "string" ? c.checkpoint_id : "",
    checkpointMap: map && typeof map === "object" ? (map as JsonObject) : undefined,
  };
}

/** The summary of a thread's latest root state that the data plane mirrors on the thread. */
async function latestSummary(graph: CompiledGraphLike, threadId: string) {
  const state = toThreadState(await graph.getState({ configurable: { thread_id: threadId, checkpoint_ns: "" } }));
  return { values: state.values, interrupts: interruptsByTask(state), hasNext: state.next.length > 0 };
}

function xrayOption(xray: number): boolean | number {
  if (xray === 0) return false;
  return xray < 0 ? true : xray;
}

/**
 * RuntimeService: runs graphs and answers graph-aware state questions. Each run works on its
 * own copy of the graph whose checkpointer and store carry the run's fence, so concurrent runs
 * in one process never share them.
 */
export function createRuntimeServiceImpl(deps: RuntimeServiceDeps): ServiceImpl<typeof RuntimeService> {
  const { graphs, logger } = deps;
  // Gives back what finished runs left to collect once no run is in flight, or at once past
  // 192 MiB of growth (see IdleCollector): a 9 MB run in four stream modes leaves about that.
  const collector = createIdleCollector({ logger, pressureBytes: 192 * 1024 * 1024 });

  /** A copy of the graph wired to the data plane; a run's copy carries its fence. */
  function wire(
    graph: CompiledGraphLike,
    options: {
      fence?: FenceInit;
      /** The api-server's grant to write the thread outside a run (a state update). */
      grant?: StateWriteGrantInit;
      stateful: boolean;
      onWriteFailed?: (err: unknown) => void;
      beforeWrite?: () => Promise<void>;
      signal?: AbortSignal;
      /** The thread goes when the run ends: checkpoints stay in this process's memory. */
      ephemeral?: boolean;
      /** Where the checkpointer reads and writes; the data plane when absent. */
      checkpoints?: CheckpointClient;
    },
  ): CompiledGraphLike {
    const copy = graph.withConfig({});
    copy.checkpointer = !options.stateful
      ? undefined
      : options.ephemeral
        ? new MemorySaver(new SnapshotSerde())
        : new RemoteCheckpointer({
            client: options.checkpoints ?? deps.checkpoints,
            fence: options.fence,
            grant: options.grant,
            onWriteFailed: options.onWriteFailed,
            beforeWrite: options.beforeWrite,
            signal: options.signal,
          });
    copy.store = new RemoteStore({ client: deps.store, fence: options.fence });
    return copy;
  }

  async function stateGraph(graphId: string, config: RunnableConfig, grant?: StateWriteGrantInit): Promise<CompiledGraphLike> {
    return wire(await graphs.resolve(requireField(graphId, "graph_id"), config), { stateful: true, grant });
  }

  let schemaModule: Promise<SchemaModule | undefined> | undefined;
  const schemaExtraction = () => (schemaModule ??= graphs.importLanggraph("./zod/schema") as Promise<SchemaModule | undefined>);

  /**
   * Runs a graph for a caller. With an acknowledging link (Execute), every checkpoint and pending
   * write waits until the events before it are acknowledged, and the run stops when its lease lapses.
   */
  async function* runGraph(
    req: ExecuteRunRequest,
    ctx: HandlerContext,
    acknowledged: boolean,
    feed?: (link: CallerLink) => Promise<void>,
  ): AsyncGenerator<ExecuteResponseInit> {
    const graphId = requireField(req.graphId, "graph_id");
    const runId = requireField(req.runId, "run_id");
    const spec = req.spec ?? create(RunSpecSchema);
    const ids = { runId, threadId: req.threadId, graphId, assistantId: req.assistantId };
    const log = logger.child({ run_id: runId, thread_id: req.threadId, graph_id: graphId, assistant_id: req.assistantId });
    const requested = spec.streamModes.length > 0 ? spec.streamModes : ["values"];
    const unknown = requested.filter((mode) => !KNOWN_MODES.has(mode));
    if (unknown.length > 0) log.warn({ stream_modes: unknown }, "Ignored unknown stream modes");
    const modes = new Set(requested.filter((mode) => KNOWN_MODES.has(mode)));
    const config = buildRunConfig(spec, ids, { langgraphVersion: graphs.langgraphVersion });
    const stateful = req.threadId !== "";
    const started = Date.now();
    // The data of the last root `values` event handed over: the final values most often are the
    // same, and a caller that keeps it (takes_values_from_events) is then told so instead of being
    // sent them again.
    let lastRootValues: { data: unknown } | undefined;

    const finish = (
      outcome: RunOutcome,
      values: unknown,
      extra: { error?: unknown; interrupts?: unknown; hasNext?: boolean } = {},
    ) => {
      log.info({ outcome: RunOutcome[outcome], duration_ms: Date.now() - started }, "Finished Run");
      const plainValues = toPlain(values ?? null) ?? null;
      const asLastEvent =
        req.takesValuesFromEvents && lastRootValues !== undefined && samePlainJson(plainValues, lastRootValues.data);
      const result: ExecuteRunResponseInit = {
        kind: {
          case: "result",
          value: {
            outcome,
            valuesJson: asLastEvent ? new Uint8Array() : textBytes(JSON.stringify(plainValues)),
            errorJson: extra.error === undefined ? new Uint8Array() : plainJsonBytes(extra.error),
            interruptsJson: plainJsonBytes(extra.interrupts ?? {}),
            hasNext: extra.hasNext ?? false,
            valuesAreLastEvent: asLastEvent,
          },
        },
      };
      return result;
    };

    // The run stops when the caller goes away, and also at the first write the data plane
    // refuses or fails (a stale fence, a lost database): that error then ends the RPC.
    const runAbort = new AbortController();
    const onCallerGone = () => runAbort.abort(ctx.signal.reason);
    ctx.signal.addEventListener("abort", onCallerGone, { once: true });
    let writeFailure: unknown;
    const onWriteFailed = (err: unknown) => {
      writeFailure ??= err;
      runAbort.abort(err);
    };
    const link = new CallerLink({ acknowledged, ackTimeoutMs: deps.ackTimeoutMs, onLost: onWriteFailed });
    runAbort.signal.addEventListener("abort", () => link.close(runAbort.signal.reason), { once: true });
    void feed?.(link).catch((err: unknown) => log.debug({ err }, "The caller's request stream ended with an error"));
    // One per run: the big strings its events share are encoded once.
    const encoder = new EventEncoder();
    const handOver = (out: OutEvent): ExecuteRunResponseInit => {
      link.handedOne();
      if (out.event === "values") lastRootValues = { data: out.data };
      return eventResponse(out, encoder);
    };

    // A caller that serves the run's checkpoint calls gets them on the stream, in order after the
    // events before them: no write waits for an acknowledgement then.
    const callerServes = acknowledged && req.servesCheckpoints;
    let graph: CompiledGraphLike;
    try {
      const built = await graphs.build(graphId, config);
      // With traces on: a span per node (and per model call in it) when the run's trace is sampled.
      if (tracingEnabled()) traceGraphNodes(built);
      graph = wire(built, {
        fence: req.fence,
        stateful,
        onWriteFailed,
        beforeWrite: callerServes ? undefined : () => link.settled(),
        signal: runAbort.signal,
        ephemeral: req.ephemeral,
        checkpoints: callerServes ? callerCheckpoints(link, deps.checkpoints) : undefined,
      });
    } catch (err) {
      if (err instanceof ConnectError) throw err;
      const body = errorBody(err);
      link.close(err);
      yield handOver({ event: "error", data: body });
      yield finish(RunOutcome.ERROR, {}, { error: body });
      return;
    }
    const input = runInput(spec, graphs.langgraph);
    const plan = planStream(modes);
    const translator = new StreamTranslator({ modes, subgraphs: spec.streamSubgraphs, runId });
    const options = {
      ...config,
      streamMode: plan.libModes,
      subgraphs: spec.streamSubgraphs,
      signal: runAbort.signal,
    };
    log.debug({ stream_modes: [...modes] }, "Started Run");

    try {
      if (plan.useEvents) {
        for await (const event of link.track(graph.streamEvents(input, { ...options, version: "v2" }))) {
          if (event instanceof OutgoingCall) yield callMessage(event);
          else for (const out of translator.fromEvent(event)) yield handOver(out);
        }
      } else {
        // Opening the stream already runs the graph up to its first chunk (and, with durability
        // "sync", through the input checkpoint's write): the reader counts as waiting from here.
        const chunks = (async function* () {
          yield* await graph.stream(input, options);
        })();
        for await (const chunk of link.track(chunks)) {
          if (chunk instanceof OutgoingCall) yield callMessage(chunk);
          else for (const out of translator.fromStreamChunk(chunk)) yield handOver(out);
        }
      }
    } catch (err) {
      link.close(err);
      if (writeFailure) throw writeFailure;
      if (ctx.signal.aborted) {
        yield finish(RunOutcome.INTERRUPTED, translator.lastValues);
        return;
      }
      // The data plane refused a write (a stale fence) or could not be reached: that is no
      // fault of the graph, so the RPC fails with it and the worker decides what follows.
      if (err instanceof ConnectError) throw err;
      const body = errorBody(err);
      log.warn({ err }, "Failed Run: the graph raised an error");
      yield handOver({ event: "error", data: body });
      const summary = stateful ? await latestSummary(graph, req.threadId).catch(() => undefined) : undefined;
      yield finish(RunOutcome.ERROR, summary?.values ?? translator.lastValues ?? {}, {
        error: body,
        interrupts: summary?.interrupts,
        hasNext: summary?.hasNext,
      });
      return;
    }
    ctx.signal.removeEventListener("abort", onCallerGone);
    link.close(new Error("the run ended"));
    if (writeFailure) throw writeFailure;
    if (ctx.signal.aborted) {
      yield finish(RunOutcome.INTERRUPTED, translator.lastValues);
      return;
    }
    if (!stateful) {
      yield finish(RunOutcome.SUCCESS, translator.lastValues ?? {});
      return;
    }
    const summary = await latestSummary(graph, req.threadId);
    yield finish(RunOutcome.SUCCESS, summary.values, { interrupts: summary.interrupts, hasNext: summary.hasNext });
  }

  return {
    async *executeRun(req, ctx) {
      // Without an acknowledging caller, no checkpoint call goes on the stream.
      const ended = collector.begin();
      try {
        for await (const message of runGraph(req, ctx, false))
          if (message.kind.case !== "checkpointCall") yield message as ExecuteRunResponseInit;
      } finally {
        ended();
      }
    },

    async *execute(requests: AsyncIterable<ExecuteRequest>, ctx: HandlerContext): AsyncGenerator<ExecuteResponseInit> {
      const iterator = requests[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done || first.value.kind.case !== "start") {
        throw invalidArgument("the first message of Execute must be start", [{ field: "start", description: "required first" }]);
      }
      // The rest of the caller's stream: acknowledgements and lease renewals, read beside the run.
      const feed = async (link: CallerLink) => {
        for (;;) {
          const next = await iterator.next();
          if (next.done) return;
          const { kind } = next.value;
          if (kind.case === "ack") link.acknowledge(Number(kind.value.durableEvents));
          else if (kind.case === "lease") link.renewLease(Number(kind.value.validForMs));
          else if (kind.case === "checkpointReply") link.reply(kind.value);
        }
      };
      const ended = collector.begin();
      try {
        yield* runGraph(first.value.kind.value, ctx, true, feed);
      } finally {
        ended();
      }
    },

    async getState(req) {
      const threadId = requireField(req.threadId, "thread_id");
      const config = stateConfig(req.config, threadId, req.checkpoint);
      const graph = await stateGraph(req.graphId, config);
      const snapshot = await graph.getState(config, { subgraphs: req.subgraphs });
      return { stateJson: plainJsonBytes(toThreadState(snapshot)) };
    },

    async updateState(req) {
      const threadId = requireField(req.threadId, "thread_id");
      const config = stateConfig(req.config, threadId, req.checkpoint);
      // The update's checkpoint is written with the api-server's grant for this thread.
      const graph = await stateGraph(req.graphId, config, req.grant);
      let values: unknown;
      try {
        values = parseJsonBytes<unknown>(req.valuesJson, null);
      } catch {
        throw invalidArgument("values is not valid JSON", [{ field: "values", description: "invalid JSON" }]);
      }
      const next = await graph.updateState(config, values, req.asNode || undefined).catch((err: unknown) => {
        // LangGraph refuses updates it cannot attribute to a node, or to a node that does not exist.
        if (err instanceof ConnectError || !(err instanceof Error)) throw err;
        throw invalidArgument(`Cannot update the state: ${err.message}`, [{ field: "as_node", description: err.message }]);
      });
      const summary = await latestSummary(graph, threadId);
      return {
        checkpoint: refFromConfig(next),
        valuesJson: plainJsonBytes(summary.values),
        interruptsJson: plainJsonBytes(summary.interrupts),
        hasNext: summary.hasNext,
      };
    },

    async getHistory(req) {
      const threadId = requireField(req.threadId, "thread_id");
      const config = stateConfig(req.config, threadId, req.checkpoint);
      const graph = await stateGraph(req.graphId, config);
      const filter = req.metadata && Object.keys(req.metadata).length > 0 ? req.metadata : undefined;
      const before = req.before?.checkpointId ? { configurable: { checkpoint_id: req.before.checkpointId } } : undefined;
      const states: Uint8Array[] = [];
      for await (const snapshot of graph.getStateHistory(config, { limit: req.limit > 0 ? req.limit : 10, before, filter })) {
        states.push(plainJsonBytes(toThreadState(snapshot)));
      }
      return { statesJson: states };
    },

    async describeGraph(req) {
      const config = fromPublicConfig(req.config);
      const graph = await graphs.resolve(requireField(req.graphId, "graph_id"), config);
      const drawable = await graph.getGraphAsync({ ...config, xray: xrayOption(req.xray) });
      return { graphJson: plainJsonBytes(drawable.toJSON()) };
    },

    async getSchemas(req) {
      const graphId = requireField(req.graphId, "graph_id");
      const graph = await graphs.resolve(graphId, fromPublicConfig(req.config));
      const module = await schemaExtraction();
      if (req.subgraphNamespace === undefined) {
        // The public GraphSchema: the graph's id beside its schemas.
        const typed = await graphs.typedSchemas(graphId);
        return { schemasJson: plainJsonBytes({ graph_id: graphId, ...graphSchemas(graph, graphId, module, typed) }) };
      }
      const out: Record<string, unknown> = {};
      for await (const [namespace, subgraph] of graph.getSubgraphsAsync(req.subgraphNamespace || undefined, req.recurse)) {
        out[namespace] = graphSchemas(subgraph, namespace, module, await graphs.typedSchemas(graphId, namespace));
      }
      return { schemasJson: plainJsonBytes(out) };
    },

    async listGraphs() {
      return { graphs: graphs.list().map((g) => ({ graphId: g.graphId, loaded: g.loaded, error: g.error ?? "" })) };
    },
  };
}
