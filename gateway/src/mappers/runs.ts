import { create, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { jsonBytes } from "@langopen/common";
import {
  Durability,
  MultitaskStrategy,
  type Run,
  type RunSpec,
  RunSpecSchema,
  RunStatus,
} from "@langopen/gen/langopen/data/v1/run_pb";
import {
  CancelAction,
  type CancelRunsRequest,
  CancelRunsRequestSchema,
  type CreateRunRequest,
  CreateRunRequestSchema,
  IfNotExists,
  OnCompletion,
} from "@langopen/gen/langopen/data/v1/run_service_pb";
import { type CheckpointRef, CheckpointRefSchema } from "@langopen/gen/langopen/data/v1/thread_pb";
import type { CheckpointConfig, CheckpointSelector, RunCreateBody, RunsCancelBody } from "../schemas/runs.js";
import { RequestValidationError } from "../validation.js";
import { isoTimestamp, jsonFromBytes, objectOrEmpty } from "./common.js";
import { type ApiRunStatus, fromApiRunStatus, toApiRunStatus } from "./run-status.js";

// Run statuses have one mapping, in run-status.ts; these are its names for the run mappers' users.
export { type ApiRunStatus, fromApiRunStatus, toApiRunStatus } from "./run-status.js";
export type ApiMultitaskStrategy = "reject" | "interrupt" | "rollback" | "enqueue";

/** The public Run object. */
export interface ApiRun {
  run_id: string;
  /** Null for a stateless run whose temporary thread is gone. */
  thread_id: string | null;
  assistant_id: string;
  created_at: string | null;
  updated_at: string | null;
  status: ApiRunStatus;
  metadata: JsonObject;
  /** The stored create body: input, command, config, context, stream_mode, ... */
  kwargs: JsonValue;
  multitask_strategy: ApiMultitaskStrategy;
}

const STRATEGY_NAMES: Record<MultitaskStrategy, ApiMultitaskStrategy> = {
  // The public default.
  [MultitaskStrategy.UNSPECIFIED]: "enqueue",
  [MultitaskStrategy.REJECT]: "reject",
  [MultitaskStrategy.INTERRUPT]: "interrupt",
  [MultitaskStrategy.ROLLBACK]: "rollback",
  [MultitaskStrategy.ENQUEUE]: "enqueue",
};

const STRATEGY_VALUES: Record<ApiMultitaskStrategy, MultitaskStrategy> = {
  reject: MultitaskStrategy.REJECT,
  interrupt: MultitaskStrategy.INTERRUPT,
  rollback: MultitaskStrategy.ROLLBACK,
  enqueue: MultitaskStrategy.ENQUEUE,
};

const DURABILITY_VALUES: Record<"sync" | "async" | "exit", Durability> = {
  sync: Durability.SYNC,
  async: Durability.ASYNC,
  exit: Durability.EXIT,
};

export function toApiRun(r: Run): ApiRun {
  return {
    run_id: r.runId,
    thread_id: r.threadId === "" ? null : r.threadId,
    assistant_id: r.assistantId,
    created_at: isoTimestamp(r.createTime),
    updated_at: isoTimestamp(r.updateTime),
    status: toApiRunStatus(r.status),
    metadata: objectOrEmpty(r.metadata),
    kwargs: jsonFromBytes(r.kwargsJson, {}),
    multitask_strategy: STRATEGY_NAMES[r.multitaskStrategy] ?? "enqueue",
  };
}

/**
 * The URL of a run: the thread form for stateless runs too (they have a temporary thread), so
 * that the SDKs' reconnect, which needs `/threads/<t>/runs/<r>/stream`, works for them.
 */
export function runPath(run: Pick<Run, "runId" | "threadId">): string {
  const runId = encodeURIComponent(run.runId);
  return run.threadId === "" ? `/runs/${runId}` : `/threads/${encodeURIComponent(run.threadId)}/runs/${runId}`;
}

/** The headers of a created run's answer: `Content-Location` always, `Location` for /stream and /wait. */
export function runLocationHeaders(run: Run, kind?: "stream" | "join"): Record<string, string> {
  const path = runPath(run);
  const headers: Record<string, string> = { "content-location": path };
  if (kind !== undefined) headers.location = `${path}/${kind}`;
  return headers;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A CheckpointConfig (null fields as absent); undefined when it names nothing. */
export function toCheckpointRef(config: CheckpointConfig | null | undefined): CheckpointRef | undefined {
  if (config === null || config === undefined) return undefined;
  const ref = create(CheckpointRefSchema, {
    threadId: config.thread_id ?? "",
    checkpointNs: config.checkpoint_ns ?? "",
    checkpointId: config.checkpoint_id ?? "",
    checkpointMap: config.checkpoint_map ?? undefined,
  });
  const empty = ref.threadId === "" && ref.checkpointNs === "" && ref.checkpointId === "" && ref.checkpointMap === undefined;
  return empty ? undefined : ref;
}

/** A checkpoint given as an id, a CheckpointConfig or a RunnableConfig `{configurable}`. */
export function selectorToCheckpointRef(selector: CheckpointSelector | undefined): CheckpointRef | undefined {
  if (selector === null || selector === undefined) return undefined;
  if (typeof selector === "string") return selector === "" ? undefined : create(CheckpointRefSchema, { checkpointId: selector });
  if (isObject(selector.configurable)) return toCheckpointRef(selector.configurable);
  return toCheckpointRef(selector);
}

/**
 * A checkpoint given both as an object and as a bare id (the SDKs send `checkpoint` and
 * `checkpoint_id`); the object's own id wins.
 */
export function checkpointWithId(
  config: CheckpointConfig | null | undefined,
  checkpointId: string | null | undefined,
): CheckpointRef | undefined {
  const ref = toCheckpointRef(config);
  const id = checkpointId ?? "";
  if (id === "") return ref;
  if (ref === undefined) return create(CheckpointRefSchema, { checkpointId: id });
  if (ref.checkpointId === "") ref.checkpointId = id;
  return ref;
}

function nodeList(value: "*" | string[] | undefined): string[] {
  if (value === undefined) return [];
  return value === "*" ? ["*"] : value;
}

/** JSON bytes of an optional value; empty (absent) for undefined and null. */
function optionalJson(value: unknown): Uint8Array {
  return value === undefined || value === null ? new Uint8Array() : jsonBytes(value);
}

/** What the run executes and how it streams, from a public run-create body. */
export function toRunSpec(body: RunCreateBody): RunSpec {
  const modes = body.stream_mode;
  return create(RunSpecSchema, {
    assistantId: body.assistant_id,
    inputJson: optionalJson(body.input),
    commandJson: optionalJson(body.command),
    config: body.config,
    context: body.context,
    metadata: body.metadata,
    // Empty: the api-server applies the default ["values"].
    streamModes: modes === undefined ? [] : typeof modes === "string" ? [modes] : modes,
    streamSubgraphs: body.stream_subgraphs ?? false,
    streamResumable: body.stream_resumable ?? false,
    interruptBefore: nodeList(body.interrupt_before),
    interruptAfter: nodeList(body.interrupt_after),
    checkpoint: checkpointWithId(body.checkpoint, body.checkpoint_id),
    webhook: body.webhook ?? "",
    durability:
      body.durability !== undefined
        ? DURABILITY_VALUES[body.durability]
        : body.checkpoint_during === undefined
          ? Durability.UNSPECIFIED
          : DURABILITY_VALUES[body.checkpoint_during ? "async" : "exit"],
    feedbackKeys: body.feedback_keys ?? [],
  });
}

/** A run create on a thread, or a stateless one when threadId is empty. */
export function fromApiRunCreate(threadId: string, body: RunCreateBody): CreateRunRequest {
  return create(CreateRunRequestSchema, {
    threadId,
    spec: toRunSpec(body),
    multitaskStrategy:
      body.multitask_strategy === undefined ? MultitaskStrategy.UNSPECIFIED : STRATEGY_VALUES[body.multitask_strategy],
    ifNotExists:
      body.if_not_exists === undefined
        ? IfNotExists.UNSPECIFIED
        : body.if_not_exists === "create"
          ? IfNotExists.CREATE
          : IfNotExists.REJECT,
    onCompletion:
      body.on_completion === undefined
        ? OnCompletion.UNSPECIFIED
        : body.on_completion === "keep"
          ? OnCompletion.KEEP
          : OnCompletion.DELETE,
    afterSeconds: body.after_seconds ?? 0,
  });
}

/** `?action=`: interrupt (the default) or rollback. */
export function toCancelAction(action: "interrupt" | "rollback" | undefined): CancelAction {
  return action === "rollback" ? CancelAction.ROLLBACK : CancelAction.INTERRUPT;
}

/** POST /runs/cancel: by status, or by thread and run ids. Selecting nothing is refused, never "all". */
export function fromApiRunsCancel(body: RunsCancelBody, action: "interrupt" | "rollback" | undefined): CancelRunsRequest {
  if (body.status === undefined && (body.run_ids === undefined || body.run_ids.length === 0)) {
    throw new RequestValidationError("Invalid body: give either 'status' or 'thread_id' and 'run_ids'", "body");
  }
  const statuses =
    body.status === undefined
      ? []
      : body.status === "all"
        ? [RunStatus.PENDING, RunStatus.RUNNING]
        : [fromApiRunStatus(body.status)];
  return create(CancelRunsRequestSchema, {
    threadId: body.thread_id ?? "",
    runIds: body.run_ids ?? [],
    statuses,
    action: toCancelAction(action),
  });
}

/**
 * The camelCase keys the JS SDK's `runs.createBatch` leaves in each item (it spreads the
 * caller's payload and only adds `assistant_id`), with their snake_case names.
 */
const BATCH_KEYS: Readonly<Record<string, string>> = {
  assistantId: "assistant_id",
  streamMode: "stream_mode",
  streamSubgraphs: "stream_subgraphs",
  streamResumable: "stream_resumable",
  interruptBefore: "interrupt_before",
  interruptAfter: "interrupt_after",
  multitaskStrategy: "multitask_strategy",
  onCompletion: "on_completion",
  onDisconnect: "on_disconnect",
  afterSeconds: "after_seconds",
  ifNotExists: "if_not_exists",
  checkpointId: "checkpoint_id",
  checkpointDuring: "checkpoint_during",
  feedbackKeys: "feedback_keys",
  strictResume: "strict_resume",
};

/** One batch item with its known camelCase keys renamed; a snake_case key given too wins. */
export function snakeCaseRunKeys(item: unknown): unknown {
  if (!isObject(item)) return item;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(item)) {
    const snake = BATCH_KEYS[key];
    if (snake === undefined) out[key] = value;
    else if (!Object.hasOwn(item, snake)) out[snake] = value;
  }
  return out;
}

/**
 * The body of /wait and /join: the api-server's result JSON as is. The JS SDK looks for
 * `__error__` with the `in` operator, which throws on null, so an absent or null result is `{}`.
 */
export function joinResultBody(resultJson: Uint8Array): Buffer {
  const bytes = Buffer.from(resultJson.buffer, resultJson.byteOffset, resultJson.byteLength);
  const isNull = bytes.length === 0 || (bytes.length <= 16 && bytes.toString("utf8").trim() === "null");
  return isNull ? Buffer.from("{}") : bytes;
}
