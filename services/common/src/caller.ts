import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { decodeBinaryHeader, encodeBinaryHeader } from "@connectrpc/connect";
import { type Caller, CallerSchema } from "@langopen/gen/langopen/data/v1/caller_pb";
import { invalidArgument } from "./errors.js";

/**
 * The header that says whom a call to the data plane acts for: a `Caller` (identity, permissions,
 * user, and the auth filter of the call's event), binary protobuf, base64 as Connect carries
 * `-bin` headers. A call without it is not restricted (no auth configured, or a service acting
 * on its own behalf).
 */
export const CALLER_HEADER = "langopen-caller-bin";

/** A caller as the value of CALLER_HEADER. */
export function encodeCaller(caller: MessageInitShape<typeof CallerSchema>): string {
  return encodeBinaryHeader(create(CallerSchema, caller), CallerSchema);
}

/** The headers of a call made for a caller, to pass as a call option: `{ headers: callerHeaders(caller) }`. */
export function callerHeaders(caller: MessageInitShape<typeof CallerSchema>): Record<string, string> {
  return { [CALLER_HEADER]: encodeCaller(caller) };
}

/** The caller a call's headers carry; undefined when they carry none. INVALID_ARGUMENT when the header cannot be read. */
export function readCallerHeader(headers: Headers): Caller | undefined {
  const value = headers.get(CALLER_HEADER);
  if (value === null) return undefined;
  try {
    return decodeBinaryHeader(value, CallerSchema);
  } catch {
    throw malformedCaller();
  }
}

/** The answer to a caller header that is not a Caller as the contract writes it. */
export function malformedCaller() {
  return invalidArgument("Malformed caller header", [{ field: CALLER_HEADER, description: "not a Caller" }]);
}
