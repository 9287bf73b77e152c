import { Code, ConnectError } from "@connectrpc/connect";
import type { Thread } from "@langopen/gen/langopen/data/v1/thread_pb";
import { ThreadStatus } from "@langopen/gen/langopen/data/v1/thread_pb";
import { Compile } from "typebox/compile";
import { fromConnectError } from "../plugins/error-handler.js";
import { RunCreateBody, type STREAM_MODES } from "../schemas/runs.js";
import { describeErrors, type SchemaError } from "../validation.js";
import { jsonFromBytes } from "./common.js";
import type { AgentStatus } from "./protocol-v2-events.js";

/*
 * Protocol v2 commands (POST /threads/{thread_id}/commands): the answers' shapes, and the run
 * creates that run.start and input.respond make.
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

/** A run-create body checked against the public schema; refusals name the command's params. */
function checkedRunBody(body: Record<string, unknown>): RunCreateBody {
  if (runCreateCheck.Check(body)) return body;
  const errors = [...runCreateCheck.Errors(body)] as SchemaError[];
  const message = describeErrors(RunCreateBody, "body", errors, body).replace(/^Invalid body/, "Invalid params");
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

/** The interrupts a thread waits on, by interrupt id (ids made up by position when absent). */
export function pendingInterruptIds(thread: Thread): Set<string> {
  const ids = new Set<string>();
  const byTask = jsonFromBytes(thread.interruptsJson, {});
  if (!isObject(byTask)) return ids;
  for (const interrupts of Object.values(byTask)) {
    for (const interrupt of Array.isArray(interrupts) ? interrupts : []) {
      if (isObject(interrupt) && typeof interrupt.id === "string") ids.add(interrupt.id);
    }
  }
  return ids;
}

/** Whether a thread waits on an interrupt. */
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
 * update and goto, config and metadata.
 */
export function inputRespondBody(
  params: Record<string, unknown>,
  assistantId: string,
  pending: ReadonlySet<string>,
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
  if (pending.size > 0) {
    const unknown = answers.find(([id]) => !pending.has(id));
    if (unknown !== undefined)
      throw new CommandError("no_such_interrupt", `No pending interrupt has the id ${JSON.stringify(unknown[0])}`);
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

/** A run status (public name) as the status of its agent-tree node. */
export function agentStatusOfRun(status: string | undefined): AgentStatus {
  switch (status) {
    case undefined:
      return "started";
    case "pending":
    case "running":
      return "running";
    case "success":
      return "completed";
    case "interrupted":
      return "interrupted";
    default:
      return "failed";
  }
}
