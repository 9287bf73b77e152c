import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { Serialized } from "@langchain/core/load/serializable";
import type { LLMResult } from "@langchain/core/outputs";
import { endSpan, SpanKind, tracer, tracingActiveSpan } from "@langopen/common";
import { type Context, context, type Span, trace } from "@opentelemetry/api";

/*
 * A span per graph node a run executes, and per model call in it (GenAI semantic conventions),
 * children of the runtime's Execute span.
 *
 * Nodes are traced by wrapping each node's runnable, not by LangChain callbacks on the run: a
 * callback handler on the run's config makes every runnable of the graph (LangGraph's own channel
 * writers and sequences included) do the callback work, which cost 40 % of a three-node graph's CPU.
 * The wrapper costs one span per node, and only for runs whose trace is sampled. Model calls are
 * seen only through callbacks: a handler is added for the node's own code (where models are
 * called), never for the graph's machinery.
 */

type Metadata = Record<string, unknown> | undefined;
type Attributes = Record<string, string | number>;

/** The model's provider as LangChain names its class (`["langchain", "chat_models", "openai", "ChatOpenAI"]`). */
function providerOf(serialized: Serialized): string | undefined {
  const id = (serialized as { id?: unknown }).id;
  return Array.isArray(id) && id.length >= 3 ? String(id[id.length - 2]) : undefined;
}

function modelOf(extraParams: Record<string, unknown> | undefined, metadata: Metadata): string | undefined {
  const params = (extraParams?.invocation_params ?? {}) as Record<string, unknown>;
  const model = params.model ?? params.model_name ?? params.modelName ?? metadata?.ls_model_name;
  return typeof model === "string" ? model : undefined;
}

/** Token counts of an LLM call, as LangChain reports them (usage metadata of the message, or the LLM output). */
function usageOf(output: LLMResult): { input?: number; output?: number } {
  const message = (output.generations?.[0]?.[0] as { message?: { usage_metadata?: Record<string, number> } } | undefined)
    ?.message;
  const usage = message?.usage_metadata;
  if (usage) return { input: usage.input_tokens, output: usage.output_tokens };
  const tokens = (output.llmOutput?.tokenUsage ?? output.llmOutput?.usage) as Record<string, number> | undefined;
  return { input: tokens?.promptTokens ?? tokens?.input_tokens, output: tokens?.completionTokens ?? tokens?.output_tokens };
}

/** Spans of the model calls made by one node's code, children of that node's span. */
export class ModelSpans extends BaseCallbackHandler {
  name = "langopen_model_spans";
  override awaitHandlers = true;
  override ignoreChain = true;
  override ignoreAgent = true;
  override ignoreRetriever = true;
  readonly #node: Context;
  readonly #attributes: Attributes;
  readonly #spans = new Map<string, Span>();

  constructor(node: Context, attributes: Attributes) {
    super();
    this.#node = node;
    this.#attributes = attributes;
  }

  override handleChatModelStart(
    llm: Serialized,
    _messages: unknown[][],
    runId: string,
    _parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Metadata,
  ): void {
    this.#start(llm, runId, extraParams, metadata);
  }

  override handleLLMStart(
    llm: Serialized,
    _prompts: string[],
    runId: string,
    _parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Metadata,
  ): void {
    if (!this.#spans.has(runId)) this.#start(llm, runId, extraParams, metadata);
  }

  #start(llm: Serialized, runId: string, extraParams: Record<string, unknown> | undefined, metadata: Metadata): void {
    const model = modelOf(extraParams, metadata);
    const provider = providerOf(llm);
    const attributes: Attributes = { ...this.#attributes, "gen_ai.operation.name": "chat" };
    if (provider !== undefined) attributes["gen_ai.provider.name"] = provider;
    if (model !== undefined) attributes["gen_ai.request.model"] = model;
    const span = tracer().startSpan(`chat ${model ?? provider ?? "model"}`, { kind: SpanKind.CLIENT, attributes }, this.#node);
    this.#spans.set(runId, span);
  }

  override handleLLMEnd(output: LLMResult, runId: string): void {
    const span = this.#spans.get(runId);
    if (span) {
      const usage = usageOf(output);
      if (usage.input !== undefined) span.setAttribute("gen_ai.usage.input_tokens", usage.input);
      if (usage.output !== undefined) span.setAttribute("gen_ai.usage.output_tokens", usage.output);
    }
    this.#end(runId);
  }

  override handleLLMError(err: unknown, runId: string): void {
    this.#end(runId, err);
  }

  #end(runId: string, err?: unknown): void {
    const span = this.#spans.get(runId);
    this.#spans.delete(runId);
    if (span) endSpan(span, err);
  }
}

/** What this module needs of LangChain's callback managers (the user's copy of LangChain may differ from ours). */
interface CallbackManagerLike {
  handlers: unknown[];
  copy(): CallbackManagerLike;
  addHandler(handler: unknown, inherit?: boolean): void;
  removeHandler(handler: unknown): void;
}
type NodeConfig = { callbacks?: unknown; metadata?: Metadata; [key: string]: unknown } | undefined;

/**
 * The node's config with `handler` for the model calls of its code, in place of an enclosing
 * node's (a subgraph's node: its model calls are its own, not also its parent node's).
 */
function withModelHandler(config: NodeConfig, handler: ModelSpans): NodeConfig {
  const callbacks = config?.callbacks;
  if (callbacks === undefined || callbacks === null) return { ...config, callbacks: [handler] };
  if (Array.isArray(callbacks))
    return { ...config, callbacks: [...callbacks.filter((h) => !(h instanceof ModelSpans)), handler] };
  const manager = (callbacks as CallbackManagerLike).copy();
  for (const h of [...manager.handlers]) if (h instanceof ModelSpans) manager.removeHandler(h);
  manager.addHandler(handler, true);
  return { ...config, callbacks: manager };
}

type Invoke = (this: unknown, input: unknown, config?: NodeConfig) => Promise<unknown>;
interface NodeLike {
  bound?: { invoke?: Invoke; constructor?: { name?: string } };
}
interface GraphLike {
  nodes?: Record<string, NodeLike>;
  getSubgraphs?: (namespace?: string, recurse?: boolean) => Iterable<[string, unknown]>;
}

/** Marks a node's runnable whose invoke is wrapped (a compiled graph is wrapped once, whatever runs it). */
const TRACED = Symbol.for("langopen.traced-node");

/**
 * Wraps each node of `graph` and of its subgraphs so that, in a sampled trace, its execution is a
 * span (`node <name>`, with langgraph.node / langgraph.step and the run's ids) whose model calls
 * are spans under it. Unsampled or untraced runs call the node as before. A compiled graph's
 * nodes are shared by its copies: each is wrapped once.
 */
export function traceGraphNodes(graph: unknown): void {
  const g = graph as GraphLike;
  for (const [name, node] of Object.entries(g.nodes ?? {})) {
    const bound = node.bound as (NodeLike["bound"] & { [TRACED]?: true }) | undefined;
    // __start__ (and any node without a runnable of its own) only writes its input: nothing runs.
    if (name === "__start__" || !bound || typeof bound.invoke !== "function" || bound[TRACED]) continue;
    if (bound.constructor?.name === "RunnablePassthrough") continue;
    const original = bound.invoke;
    bound.invoke = function tracedInvoke(input, config) {
      if (!tracingActiveSpan()) return original.call(this, input, config);
      return invokeInSpan(name, config, (traced) => original.call(this, input, traced));
    };
    bound[TRACED] = true;
  }
  for (const [, subgraph] of g.getSubgraphs?.() ?? []) traceGraphNodes(subgraph);
}

async function invokeInSpan(name: string, config: NodeConfig, invoke: (config: NodeConfig) => Promise<unknown>) {
  const parent = context.active();
  // The run's ids, which the runtime puts in every run's metadata (run-config.ts).
  const metadata = config?.metadata ?? {};
  const run: Attributes = {};
  for (const key of ["run_id", "thread_id", "assistant_id", "graph_id"] as const) {
    const value = metadata[key];
    if (typeof value === "string" && value !== "") run[`langopen.${key}`] = value;
  }
  const attributes: Attributes = { ...run, "langgraph.node": name };
  const step = metadata.langgraph_step;
  if (typeof step === "number") attributes["langgraph.step"] = step;
  const span = tracer().startSpan(`node ${name}`, { kind: SpanKind.INTERNAL, attributes }, parent);
  const inNode = trace.setSpan(parent, span);
  try {
    const result = await context.with(inNode, () => invoke(withModelHandler(config, new ModelSpans(inNode, run))));
    endSpan(span);
    return result;
  } catch (err) {
    // An interrupt or a Command to the parent graph bubbles up through the node: no failure of it.
    endSpan(span, (err as { is_bubble_up?: boolean } | null)?.is_bubble_up === true ? undefined : err);
    throw err;
  }
}
