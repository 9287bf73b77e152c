import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, type ErrorInfo, ErrorInfoSchema } from "@langopen/gen/google/rpc/error_details_pb";

/**
 * Stable machine-readable reasons carried in ErrorInfo.reason. Messages may change; reasons may
 * not. The gateway picks public HTTP statuses from the Connect code, and from the reason for the
 * few endpoints whose contract says otherwise. This is the one table of reasons: every helper
 * below takes a `Reason`, so a reason written anywhere else does not compile.
 */
export const Reason = {
  NotFound: "NOT_FOUND",
  AlreadyExists: "ALREADY_EXISTS",
  InvalidArgument: "INVALID_ARGUMENT",
  MalformedInput: "MALFORMED_INPUT",
  /** A thread has a run pending or running where the operation needs it idle. */
  ThreadBusy: "THREAD_BUSY",
  /** A thread has no graph yet (never run, created without graph_id). */
  ThreadHasNoGraph: "THREAD_HAS_NO_GRAPH",
  /** A run is to resume a thread's interrupt, and the thread waits on none. */
  ThreadNotInterrupted: "THREAD_NOT_INTERRUPTED",
  /** A run on a thread names no assistant, and the thread has none (no run, none in its metadata). */
  ThreadAssistantUnknown: "THREAD_ASSISTANT_UNKNOWN",
  /** A resume answers an interrupt the thread does not wait on. */
  InterruptNotPending: "INTERRUPT_NOT_PENDING",
  /** A run is still pending or running where the operation needs it ended. */
  RunActive: "RUN_ACTIVE",
  /** A write refers to a parent (thread, assistant, cron) that does not exist. */
  MissingParent: "MISSING_PARENT",
  /** The operation collided with a concurrent one (serialization failure, deadlock): try it again. */
  Conflict: "CONFLICT",
  /** The operation took longer than the database allows. */
  Timeout: "TIMEOUT",
  /** A thread has as many runs waiting as it may queue: a new one must wait until some have run. */
  RunQueueFull: "RUN_QUEUE_FULL",
  /** The deployment has more runs waiting than its budget: new runs are refused until the backlog shrinks. */
  Overloaded: "OVERLOADED",
  /** A run's lease epoch moved on: a newer attempt owns the run. */
  StaleEpoch: "STALE_EPOCH",
  /** An assistant's graph is not one this deployment serves. */
  GraphNotServed: "GRAPH_NOT_SERVED",
  /** A graph of langgraph.json failed to load in the runtime. */
  GraphNotLoaded: "GRAPH_NOT_LOADED",
  /** A graph factory threw while building the graph for a run. */
  GraphFactoryFailed: "GRAPH_FACTORY_FAILED",
  /** A revision has no bundle to deploy (its build failed or has not finished). */
  RevisionNotBuilt: "REVISION_NOT_BUILT",
  /** A deployment's source cannot do what was asked (e.g. rebuild an upload without a new one). */
  SourceMismatch: "SOURCE_MISMATCH",
  Unavailable: "DEPENDENCY_UNAVAILABLE",
  Internal: "INTERNAL",
  Unimplemented: "UNIMPLEMENTED",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

export const ERROR_DOMAIN = "langopen.dev";

/**
 * The ErrorInfo metadata key of a RESOURCE_EXHAUSTED answer saying when to try again, in whole
 * seconds: the gateway sends it as the Retry-After header.
 */
export const RETRY_AFTER_METADATA = "retry_after_seconds";

type OutgoingDetails = NonNullable<ConstructorParameters<typeof ConnectError>[3]>;

function withInfo(
  message: string,
  code: Code,
  reason: Reason,
  metadata: Record<string, string> = {},
  extra: OutgoingDetails = [],
  cause?: unknown,
) {
  return new ConnectError(
    message,
    code,
    undefined,
    [{ desc: ErrorInfoSchema, value: { reason, domain: ERROR_DOMAIN, metadata } }, ...extra],
    cause,
  );
}

export interface ReasonedOptions {
  metadata?: Record<string, string>;
  /**
   * What caused it, for this process only: logs show it and code of this process may branch on
   * it (e.g. on a Postgres SQLSTATE); it never travels to the caller.
   */
  cause?: unknown;
}

/** A ConnectError with any code and a reason of the table, for the cases no helper below names. */
export function reasoned(code: Code, reason: Reason, message: string, options: ReasonedOptions = {}): ConnectError {
  return withInfo(message, code, reason, options.metadata, [], options.cause);
}

export function notFound(kind: string, id: string): ConnectError {
  return withInfo(`${kind} ${id} not found`, Code.NotFound, Reason.NotFound, { kind, id });
}

export function alreadyExists(kind: string, id: string): ConnectError {
  return withInfo(`${kind} ${id} already exists`, Code.AlreadyExists, Reason.AlreadyExists, { kind, id });
}

export interface FieldViolation {
  field: string;
  description: string;
}

export function invalidArgument(message: string, violations: FieldViolation[] = []): ConnectError {
  const extra: OutgoingDetails =
    violations.length > 0 ? [{ desc: BadRequestSchema, value: create(BadRequestSchema, { fieldViolations: violations }) }] : [];
  return withInfo(message, Code.InvalidArgument, Reason.InvalidArgument, {}, extra);
}

/** Input that is malformed rather than invalid (the public API answers 400 for these). */
export function malformed(message: string): ConnectError {
  return withInfo(message, Code.InvalidArgument, Reason.MalformedInput);
}

export function failedPrecondition(reason: Reason, message: string, metadata: Record<string, string> = {}): ConnectError {
  return withInfo(message, Code.FailedPrecondition, reason, metadata);
}

/** A dependency (postgres, redis, runtime) cannot be reached. The message names it. */
export function unavailable(dependency: string, cause?: unknown): ConnectError {
  return withInfo(`${dependency} is unavailable`, Code.Unavailable, Reason.Unavailable, { dependency }, [], cause);
}

export function unimplemented(message: string): ConnectError {
  return withInfo(message, Code.Unimplemented, Reason.Unimplemented);
}

export function internal(): ConnectError {
  return withInfo("internal error", Code.Internal, Reason.Internal);
}

/** The ErrorInfo of a ConnectError, if it carries one. */
export function errorInfo(err: ConnectError): ErrorInfo | undefined {
  return err.findDetails(ErrorInfoSchema)[0];
}
