import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorInfo, jsonBytes, Reason } from "@langopen/common";
import {
  type CreateOrResumeRunRequest,
  CreateOrResumeRunRequestSchema,
  InterruptedWhen,
} from "@langopen/gen/langopen/data/v1/run_service_pb";
import type { Thread } from "@langopen/gen/langopen/data/v1/thread_pb";
import { ThreadStatus } from "@langopen/gen/langopen/data/v1/thread_pb";
import { Type } from "typebox";
import { Compile } from "typebox/compile";
import { fromConnectError } from "../plugins/error-handler.js";
import { RunCreateBody, type STREAM_MODES } from "../schemas/runs.js";
import { describeErrors, type SchemaError } from "../validation.js";
import { jsonFromBytes } from "./common.js";
import { type AgentStatus, type ApiRunStatus, lifecycleOfRunStatus } from "./run-status.js";
import { fromApiRunCreate } from "./runs.js";

/*
 * Protocol v2 commands (POST /threads/{thread_id}/commands): the answers' shapes, and the run
 * creates that run.start and input.respond make. Both are one CreateOrResumeRun each: whether
 * the run resumes the thread's interrupt (and, for input.respond, whose assistant it runs and
 * whether the answered interrupts are pending) is decided by the api-server under the thread's
 * lock, not read here first.
 */

/** The error codes of the protocol. */
export type ProtocolErrorCode =
  | "invalid_argument"
  | "unknown_command"
  | "unknown_error"
  | "no_such_run"
  | "no_such_subscription"
  | "no_such_namespace"
  | "no_such_interrupt"
  | "no_such_checkpoint"
  | "permission_denied"
  | "not_supported";

export interface ProtocolSuccess {
  type: "success";
  id: number;
  result: Record<string, unknown>;
  meta?: Record<string, unknown>;
}

export interface ProtocolError {
  type: "error";
  /** Null when the envelope could not be read. */
  id: number | null;
  error: ProtocolErrorCode;
  message: string;
}

export const success = (id: number, result: Record<string, unknown>, meta?: Record<string, unknown>): ProtocolSuccess => ({
  type: "success",
  id,
  result,
  ...(meta === undefined ? {} : { meta }),
});

export const failure = (id: number | null, error: ProtocolErrorCode, message: string): ProtocolError => ({
  type: "error",
  id,
  error,
  message,
});

/** A command that cannot be carried out, answered as a protocol error (HTTP 200). */
export class CommandError extends Error {
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "CommandError";
  }
}

/** The protocol code of a refusal from the api-server. */
const CODES: Partial<Record<Code, ProtocolErrorCode>> = {
  [Code.InvalidArgument]: "invalid_argument",
  [Code.OutOfRange]: "invalid_argument",
  [Code.FailedPrecondition]: "invalid_argument",
  [Code.AlreadyExists]: "invalid_argument",
  [Code.Aborted]: "invalid_argument",
  [Code.ResourceExhausted]: "invalid_argument",
  [Code.NotFound]: "invalid_argument",
  [Code.PermissionDenied]: "permission_denied",
  [Code.Unauthenticated]: "permission_denied",
  [Code.Unimplemented]: "not_supported",
};

/**
 * A refusal of the api-server as a protocol error; undefined for failures of the service
 * itself (unavailable, internal, ...), which stay HTTP errors the client may retry.
 */
export function commandErrorOf(err: unknown, notFound: ProtocolErrorCode = "invalid_argument"): CommandError | undefined {
  if (err instanceof CommandError) return err;
  if (!(err instanceof ConnectError)) return undefined;
  const code = err.code === Code.NotFound ? notFound : CODES[err.code];
  return code === undefined ? undefined : new CommandError(code, fromConnectError(err).detail);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** What runs started through the protocol stream: every mode a v2 channel is made from. */
export const PROTOCOL_RUN_STREAM_MODES = [
  "values",
  "updates",
  "messages-tuple",
  "custom",
  "tools",
  "tasks",
] as const satisfies readonly (typeof STREAM_MODES)[number][];

const runCreateCheck = Compile(RunCreateBody);
/** The check of an input.respond's body that names no assistant (the api-server takes the thread's). */
const RunCreateBodyOfThreadAssistant = Type.Omit(RunCreateBody, ["assistant_id"]);
const threadAssistantCheck = Compile(RunCreateBodyOfThreadAssistant);

/** A run-create body checked against the public schema (`assistant_id` aside when empty); refusals name the command's params. */
function checkedRunBody(body: Record<string, unknown>): RunCreateBody {
  const [schema, check] =
    body.assistant_id === "" ? [RunCreateBodyOfThreadAssistant, threadAssistantCheck] : [RunCreateBody, runCreateCheck];
  if (check.Check(body)) return body as RunCreateBody;
  const errors = [...check.Errors(body)] as SchemaError[];
  const message = describeErrors(schema, "body", errors, body).replace(/^Invalid body/, "Invalid params");
  throw new CommandError("invalid_argument", message);
}

const MULTITASK = new Set(["reject", "interrupt", "rollback", "enqueue"]);

/** The fork point of a run.start: `checkpoint_id`, or `config.configurable.checkpoint_id` (SDK's forkFrom). */
function forkCheckpointId(params: Record<string, unknown>): string | undefined {
  if (typeof params.checkpoint_id === "string" && params.checkpoint_id !== "") return params.checkpoint_id;
  const config = isObject(params.config) ? params.config : undefined;
  const configurable = config && isObject(config.configurable) ? config.configurable : undefined;
  const id = configurable?.checkpoint_id;
  return typeof id === "string" && id !== "" ? id : undefined;
}

/** The params keys of run.start that go into the run as they are. */
const PASSED_THROUGH = ["config", "context", "metadata", "interrupt_before", "interrupt_after", "webhook", "durability"] as const;

/**
 * The run create of a run.start: the protocol's stream modes with subgraphs, the thread
 * created when missing (the SDK makes up thread ids), and the input as a resume value when the
 * thread waits on an interrupt (the protocol's run.start resumes an interrupted thread).
 */
export function runStartBody(params: Record<string, unknown>, resume: boolean): RunCreateBody {
  const assistantId = params.assistant_id;
  if (typeof assistantId !== "string" || assistantId === "") {
    throw new CommandError("invalid_argument", "run.start requires an assistant_id");
  }
  const strategy = params.multitask_strategy ?? params.multitaskStrategy;
  if (strategy !== undefined && strategy !== null && !(typeof strategy === "string" && MULTITASK.has(strategy))) {
    throw new CommandError(
      "invalid_argument",
      `Invalid params: 'multitask_strategy' must be one of ${[...MULTITASK].join(", ")}`,
    );
  }
  const body: Record<string, unknown> = {
    assistant_id: assistantId,
    stream_mode: [...PROTOCOL_RUN_STREAM_MODES],
    stream_subgraphs: true,
    stream_resumable: true,
    if_not_exists: "create",
  };
  const input = params.input;
  if (resume && input !== undefined && input !== null) body.command = { resume: input };
  else if (input !== undefined) body.input = input;
  if (typeof strategy === "string") body.multitask_strategy = strategy;
  for (const key of PASSED_THROUGH) if (params[key] !== undefined && params[key] !== null) body[key] = params[key];
  const checkpointId = forkCheckpointId(params);
  if (checkpointId !== undefined) body.checkpoint_id = checkpointId;
  return checkedRunBody(body);
}

/**
 * The CreateOrResumeRun of a run.start: the run as runStartBody makes it, which resumes with the
 * input instead when the thread waits on an interrupt (its status, or the interrupts it records).
 */
export function runStartRequest(threadId: string, params: Record<string, unknown>): CreateOrResumeRunRequest {
  const fresh = runStartBody(params, false);
  const { command } = runStartBody(params, true);
  return create(CreateOrResumeRunRequestSchema, {
    run: fromApiRunCreate(threadId, fresh),
    resumeCommandJson: command === undefined || command === null ? new Uint8Array() : jsonBytes(command),
    interruptedWhen: InterruptedWhen.PENDING,
  });
}

/** Whether a thread waits on an interrupt (what agent.getTree shows; commands leave it to the api-server). */
export function isInterrupted(thread: Thread): boolean {
  if (thread.status === ThreadStatus.INTERRUPTED) return true;
  const byTask = jsonFromBytes(thread.interruptsJson, {});
  return isObject(byTask) && Object.values(byTask).some((list) => Array.isArray(list) && list.length > 0);
}

/** LangGraph addresses a resume to an interrupt by its id, a 32-digit hex hash. */
const INTERRUPT_ID = /^[0-9a-f]{32}$/;

/**
 * The run create of an input.respond: a Command resuming the answered interrupts (by id when
 * LangGraph can address them, else the one answer as the resume value), with the optional
 * update and goto, config and metadata. An empty `assistantId` leaves the assistant to the
 * api-server (the thread's).
 */
export function inputRespondBody(
  params: Record<string, unknown>,
  assistantId: string,
): { body: RunCreateBody; interruptIds: string[] } {
  const answers: Array<[string, unknown]> = [];
  if (params.responses !== undefined) {
    if (!Array.isArray(params.responses) || params.responses.length === 0) {
      throw new CommandError("invalid_argument", "input.respond requires at least one response");
    }
    for (const entry of params.responses) {
      if (!isObject(entry) || typeof entry.interrupt_id !== "string") {
        throw new CommandError("invalid_argument", "input.respond responses entries require an interrupt_id");
      }
      answers.push([entry.interrupt_id, entry.response]);
    }
  } else if (typeof params.interrupt_id === "string") {
    answers.push([params.interrupt_id, params.response]);
  } else {
    throw new CommandError("invalid_argument", "input.respond requires an interrupt_id");
  }
  const addressable = answers.every(([id]) => INTERRUPT_ID.test(id));
  const resume = addressable || answers.length > 1 ? Object.fromEntries(answers) : answers[0]?.[1];
  const command: Record<string, unknown> = { resume };
  if (params.update !== undefined && params.update !== null) command.update = params.update;
  if (params.goto !== undefined && params.goto !== null) command.goto = params.goto;
  const body: Record<string, unknown> = {
    assistant_id: assistantId,
    command,
    stream_mode: [...PROTOCOL_RUN_STREAM_MODES],
    stream_subgraphs: true,
    stream_resumable: true,
  };
  if (params.config !== undefined && params.config !== null) body.config = params.config;
  if (params.metadata !== undefined && params.metadata !== null) body.metadata = params.metadata;
  return { body: checkedRunBody(body), interruptIds: answers.map(([id]) => id) };
}

/**
 * The CreateOrResumeRun of an input.respond: resume or refuse (resume_only), with the answered
 * interrupt ids for the api-server to check against those the thread waits on, and the given
 * assistant or (none given) the thread's.
 */
export function inputRespondRequest(threadId: string, params: Record<string, unknown>): CreateOrResumeRunRequest {
  const given = typeof params.assistant_id === "string" ? params.assistant_id : "";
  const { body, interruptIds } = inputRespondBody(params, given);
  return create(CreateOrResumeRunRequestSchema, {
    run: fromApiRunCreate(threadId, body),
    resumeCommandJson: jsonBytes(body.command),
    interruptedWhen: InterruptedWhen.PENDING,
    resumeOnly: true,
    interruptIds,
  });
}

/** input.respond's refusals, which the api-server decides under the thread's lock, as protocol errors. */
export function inputRespondError(err: unknown, threadId: string): CommandError | undefined {
  if (!(err instanceof ConnectError)) return undefined;
  const info = errorInfo(err);
  const noRun = () => new CommandError("no_such_run", `Thread ${threadId} has no run to respond to`);
  if (err.code === Code.NotFound) return info?.metadata.kind === "Thread" ? noRun() : undefined;
  switch (info?.reason) {
    case Reason.ThreadNotInterrupted:
      return new CommandError("invalid_argument", "input.respond can only be used while the thread waits on an interrupt");
    case Reason.ThreadAssistantUnknown:
      return noRun();
    case Reason.InterruptNotPending:
      return new CommandError(
        "no_such_interrupt",
        `No pending interrupt has the id ${JSON.stringify(info.metadata.interrupt_id ?? "")}`,
      );
    default:
      return undefined;
  }
}

/** A run status (public name) as the status of its agent-tree node: `started` when there is no run yet. */
export function agentStatusOfRun(status: ApiRunStatus | undefined): AgentStatus {
  return status === undefined ? "started" : lifecycleOfRunStatus(status);
}
