import { Code, ConnectError } from "@connectrpc/connect";

/** The RPC (Service/Method) each failed call was, noted by the transport's interceptor. */
const failedMethods = new WeakMap<ConnectError, string>();

export function noteFailedMethod(error: ConnectError, method: string): void {
  if (!failedMethods.has(error)) failedMethods.set(error, method);
}

/** How browsers word a fetch() that reached no server. */
const NETWORK_FAILURE = /failed to fetch|networkerror|load failed|network connection/i;

export interface ErrorText {
  title: string;
  detail: string;
  code?: Code;
}

const TITLES: Partial<Record<Code, string>> = {
  [Code.Canceled]: "Cancelled",
  [Code.InvalidArgument]: "Invalid request",
  [Code.DeadlineExceeded]: "The server took too long",
  [Code.NotFound]: "Not found",
  [Code.AlreadyExists]: "Already exists",
  [Code.ResourceExhausted]: "Too many requests or too much data",
  [Code.FailedPrecondition]: "Not possible now",
  [Code.Aborted]: "Conflict",
  [Code.OutOfRange]: "Out of range",
  [Code.Unimplemented]: "Not offered by this server",
  [Code.Internal]: "Server error",
  [Code.Unavailable]: "Server unavailable",
  [Code.DataLoss]: "Data loss",
};

/** An error (usually a ConnectError) as a title and a sentence a user can act on. */
export function describeError(error: unknown): ErrorText {
  if (!(error instanceof ConnectError)) {
    const detail = error instanceof Error ? error.message : String(error);
    return { title: "Something went wrong", detail };
  }
  const method = failedMethods.get(error);
  const message = error.rawMessage;
  switch (error.code) {
    case Code.Unauthenticated:
      return {
        title: "Sign-in needed",
        detail: "This server requires an API key, and the call was made without a valid one.",
        code: error.code,
      };
    case Code.PermissionDenied:
      // The project's auth handler gives its reason in the message: that is what is missing.
      return {
        title: "Permission denied",
        detail: `${method ? `Not allowed to call ${method}` : "Not allowed"}${message ? `: ${message}` : "."}`,
        code: error.code,
      };
    case Code.Unimplemented:
      return {
        title: TITLES[error.code] ?? "Not offered",
        detail: `${method ?? "This call"} is not served at /portal/rpc${message ? ` (${message})` : ""}.`,
        code: error.code,
      };
    case Code.Unknown:
    case Code.Unavailable:
      // fetch() failing (server down, network gone) surfaces as a TypeError's message.
      if (NETWORK_FAILURE.test(message)) {
        return {
          title: "Server unreachable",
          detail: "The LangOpen server could not be reached. Is it running?",
          code: error.code,
        };
      }
      return {
        title: TITLES[error.code] ?? "Unexpected error",
        detail: message || "The server gave no reason.",
        code: error.code,
      };
    default:
      return { title: TITLES[error.code] ?? "Error", detail: message || "The server gave no reason.", code: error.code };
  }
}

/** Whether a retry may help: the failure was the network or a busy server, not the request. */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof ConnectError)) return false;
  if (error.code === Code.Unavailable || error.code === Code.DeadlineExceeded) return true;
  return error.code === Code.Unknown && NETWORK_FAILURE.test(error.rawMessage);
}

/** Whether the error is the caller's own cancellation (an aborted stream), not a failure. */
export function isCancellation(error: unknown): boolean {
  return (
    (error instanceof ConnectError && error.code === Code.Canceled) ||
    (error instanceof DOMException && error.name === "AbortError")
  );
}
