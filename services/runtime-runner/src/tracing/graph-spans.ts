import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { Serialized } from "@langchain/core/load/serializable";
import type { LLMResult } from "@langchain/core/outputs";
import type { ChainValues } from "@langchain/core/utils/types";
import { endSpan, SpanKind, tracer } from "@langopen/common";
import { type Context, context, type Span, trace } from "@opentelemetry/api";

type Metadata = Record<string, unknown> | undefined;

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

/**
 * LangChain callbacks that make a span of each graph node a run executes and of each model call in
 * it (with the GenAI semantic conventions: operation, provider, model, token usage), children of
 * the span active when the run started (the runtime's Execute). Other chains (a node's inner
 * runnables) make no span: their children attach to the nearest node.
 */
export class GraphSpans extends BaseCallbackHandler {
  name = "langopen_graph_spans";
  override awaitHandlers = true;
  readonly #root: Context;
  readonly #spans = new Map<string, Span>();
  /** Each chain's parent run, to find the nearest span of a run that has none of its own. */
  readonly #parents = new Map<string, string | undefined>();
  readonly #attributes: Record<string, string>;

  constructor(attributes: Record<string, string>) {
    super();
    this.#root = context.active();
    this.#attributes = attributes;
  }

  #parentContext(parentRunId: string | undefined): Context {
    let id = parentRunId;
    for (let hops = 0; id !== undefined && hops < 100; hops++) {
      const span = this.#spans.get(id);
      if (span) return trace.setSpan(this.#root, span);
      id = this.#parents.get(id);
    }
    return this.#root;
  }

  #start(runId: string, parentRunId: string | undefined, name: string, kind: SpanKind, attributes: Record<string, unknown>) {
    const defined = Object.fromEntries(Object.entries(attributes).filter(([, v]) => v !== undefined)) as Record<
      string,
      string | number
    >;
    const span = tracer().startSpan(
      name,
      { kind, attributes: { ...this.#attributes, ...defined } },
      this.#parentContext(parentRunId),
    );
    this.#spans.set(runId, span);
  }

  #end(runId: string, err?: unknown): void {
    const span = this.#spans.get(runId);
    this.#spans.delete(runId);
    this.#parents.delete(runId);
    if (span) endSpan(span, err);
  }

  override handleChainStart(
    _chain: Serialized,
    _inputs: ChainValues,
    runId: string,
    parentRunId?: string,
    _tags?: string[],
    metadata?: Metadata,
    _runType?: string,
    runName?: string,
  ): void {
    this.#parents.set(runId, parentRunId);
    const node = metadata?.langgraph_node;
    // The node's own chain (its inner runnables carry the same metadata under other names).
    if (typeof node !== "string" || runName !== node) return;
    this.#start(runId, parentRunId, `node ${node}`, SpanKind.INTERNAL, {
      "langgraph.node": node,
      "langgraph.step": typeof metadata?.langgraph_step === "number" ? metadata.langgraph_step : undefined,
    });
  }

  override handleChainEnd(_outputs: ChainValues, runId: string): void {
    this.#end(runId);
  }

  override handleChainError(err: unknown, runId: string): void {
    this.#end(runId, err);
  }

  override handleChatModelStart(
    llm: Serialized,
    _messages: unknown[][],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Metadata,
  ): void {
    this.#startModel(llm, runId, parentRunId, extraParams, metadata);
  }

  override handleLLMStart(
    llm: Serialized,
    _prompts: string[],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Metadata,
  ): void {
    if (!this.#spans.has(runId)) this.#startModel(llm, runId, parentRunId, extraParams, metadata);
  }

  #startModel(
    llm: Serialized,
    runId: string,
    parentRunId: string | undefined,
    extraParams: Record<string, unknown> | undefined,
    metadata: Metadata,
  ): void {
    const model = modelOf(extraParams, metadata);
    this.#start(runId, parentRunId, `chat ${model ?? providerOf(llm) ?? "model"}`, SpanKind.CLIENT, {
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": providerOf(llm),
      "gen_ai.request.model": model,
    });
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
}
