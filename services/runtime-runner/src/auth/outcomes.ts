import { STATUS_CODES } from "node:http";

/** An answer of the project's auth other than success, as the gateway sends it to the client. */
export interface Rejection {
  status: number;
  message: string;
  headers: Record<string, string>;
}

/** What every failure of user code that is not an `HTTPException` becomes: details stay in the runtime's log. */
export const INTERNAL_ERROR: Rejection = Object.freeze({ status: 500, message: "Internal Server Error", headers: {} });

/** A handler that returned `false`. */
export const FORBIDDEN: Rejection = Object.freeze({ status: 403, message: "Forbidden", headers: {} });

/** User code returned something the auth contract does not allow; answered 500 and logged. */
export class InvalidAuthResult extends Error {
  override name = "InvalidAuthResult";
}

/** The user `authenticate` returned, normalized as upstream does. */
export interface NormalizedUser {
  identity: string;
  permissions: string[];
  /** The whole user, custom fields included (what graphs see as `langgraph_auth_user`). */
  user: Record<string, unknown>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** A `{...}` literal or `Object.create(null)`: not an array, a Date, a Map or a class instance. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (!isObject(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (isObject(value)) return `an object (${value.constructor?.name ?? "Object"})`;
  return `a ${typeof value}`;
}

/**
 * A string is the identity of a user with no permissions; an object needs a string `identity`,
 * may list `permissions` (strings), and keeps every other field, with `display_name` defaulting
 * to the identity and `is_authenticated` to true.
 */
export function normalizeUser(result: unknown): NormalizedUser {
  if (typeof result === "string") {
    return {
      identity: result,
      permissions: [],
      user: { identity: result, display_name: result, permissions: [], is_authenticated: true },
    };
  }
  if (!isObject(result) || Array.isArray(result) || typeof result.identity !== "string") {
    throw new InvalidAuthResult(
      `authenticate returned ${kindOf(result)}; expected a string or an object with a string "identity"`,
    );
  }
  const permissions = result.permissions ?? [];
  if (!Array.isArray(permissions) || !permissions.every((p) => typeof p === "string")) {
    throw new InvalidAuthResult(`authenticate returned "permissions" that is not a list of strings`);
  }
  const identity = result.identity;
  return {
    identity,
    permissions,
    user: {
      ...result,
      permissions,
      display_name: result.display_name ?? identity,
      is_authenticated: result.is_authenticated ?? true,
    },
  };
}

/** What a handler's return value means. */
export type Decision = { allow: true; filter?: Record<string, unknown> } | { allow: false };

/** undefined, null and true allow; false refuses; a plain object allows with that filter; anything else is invalid. */
export function decisionOf(result: unknown): Decision {
  if (result === undefined || result === null || result === true) return { allow: true };
  if (result === false) return { allow: false };
  if (isPlainObject(result)) return { allow: true, filter: result };
  throw new InvalidAuthResult(`the handler returned ${kindOf(result)}; expected a filter object, true, false, null or undefined`);
}

/**
 * Whether an error is an `HTTPException` of @langchain/langgraph-sdk/auth, judged by shape (a
 * numeric `status`, and the SDK's class name on its prototype chain, so subclasses count): the
 * project may use its own copy of the SDK, so `instanceof` would miss it.
 */
function isHttpException(err: unknown): err is { status: number; message?: unknown; headers?: unknown } {
  if (!isObject(err) || typeof err.status !== "number") return false;
  for (let proto = Object.getPrototypeOf(err); proto !== null; proto = Object.getPrototypeOf(proto)) {
    if (Object.hasOwn(proto, "constructor") && proto.constructor?.name === "HTTPException") return true;
  }
  return false;
}

/** Header values as one string per lower-cased name; undefined when they are not valid headers. */
function headersOf(init: unknown): Record<string, string> | undefined {
  if (init === undefined || init === null) return {};
  try {
    return Object.fromEntries(new Headers(init as ConstructorParameters<typeof Headers>[0]).entries());
  } catch {
    return undefined;
  }
}

/**
 * The rejection an `HTTPException` stands for: its status, its message (the status's reason
 * phrase when empty) and its headers. Undefined for any other error, and for an exception whose
 * status or headers could not be sent (upstream fails those with 500 too).
 */
export function rejectionOf(err: unknown): Rejection | undefined {
  if (!isHttpException(err)) return undefined;
  const { status } = err;
  // The statuses a response can carry (the WHATWG Response accepts 200-599, upstream builds one).
  if (!Number.isInteger(status) || status < 200 || status > 599) return undefined;
  const headers = headersOf(err.headers);
  if (headers === undefined) return undefined;
  const message = typeof err.message === "string" && err.message !== "" ? err.message : (STATUS_CODES[status] ?? "Unknown error");
  return { status, message, headers };
}
