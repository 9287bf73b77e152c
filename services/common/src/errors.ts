import { Code, ConnectError } from "@connectrpc/connect";
import { type ErrorInfo, ErrorInfoSchema, BadRequestSchema } from "@langopen/gen/google/rpc/error_details_pb";
import { create } from "@bufbuild/protobuf";

/**
 * Stable machine-readable reasons carried in ErrorInfo.reason. Messages may change; reasons may
 * not. The gateway picks public HTTP statuses from the Connect code, and from the reason for the
 * few endpoints whose contract says otherwise.
 */
export const Reason = {
  NotFound: "NOT_FOUND",
  AlreadyExists: "ALREADY_EXISTS",
  InvalidArgument: "INVALID_ARGUMENT",
  MalformedInput: "MALFORMED_INPUT",
  ThreadBusy: "THREAD_BUSY",
  Conflict: "CONFLICT",
  Unavailable: "DEPENDENCY_UNAVAILABLE",
  Internal: "INTERNAL",
  Unimplemented: "UNIMPLEMENTED",
  StaleEpoch: "STALE_EPOCH",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

export const ERROR_DOMAIN = "langopen.dev";

type OutgoingDetails = NonNullable<ConstructorParameters<typeof ConnectError>[3]>;

function withInfo(message: string, code: Code, reason: string, metadata: Record<string, string> = {}, extra: OutgoingDetails = []) {
  return new ConnectError(message, code, undefined, [
    { desc: ErrorInfoSchema, value: { reason, domain: ERROR_DOMAIN, metadata } },
    ...extra,
  ]);
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
    violations.length > 0
      ? [{ desc: BadRequestSchema, value: create(BadRequestSchema, { fieldViolations: violations }) }]
      : [];
  return withInfo(message, Code.InvalidArgument, Reason.InvalidArgument, {}, extra);
}

/** Input that is malformed rather than invalid (the public API answers 400 for these). */
export function malformed(message: string): ConnectError {
  return withInfo(message, Code.InvalidArgument, Reason.MalformedInput);
}

export function failedPrecondition(reason: string, message: string, metadata: Record<string, string> = {}): ConnectError {
  return withInfo(message, Code.FailedPrecondition, reason, metadata);
}

/** A dependency (postgres, redis, runtime) cannot be reached. The message names it. */
export function unavailable(dependency: string, cause?: unknown): ConnectError {
  const err = withInfo(`${dependency} is unavailable`, Code.Unavailable, Reason.Unavailable, { dependency });
  if (cause !== undefined) (err as { cause?: unknown }).cause = cause;
  return err;
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
