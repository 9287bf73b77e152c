import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { invalidArgument, jsonBytes, type Logger, requestLogger, textBytes } from "@langopen/common";
import type {
  AuthenticateRequest,
  AuthenticateResponseSchema,
  AuthorizeRequest,
  AuthorizeResponseSchema,
  AuthService,
  AuthUser,
} from "@langopen/gen/langopen/runtime/v1/auth_service_pb";
import { AUTH_ACTIONS, chooseHandler, isKnownAction, isKnownResource } from "./events.js";
import type { ProjectAuth } from "./load.js";
import { decisionOf, FORBIDDEN, INTERNAL_ERROR, isPlainObject, normalizeUser, type Rejection, rejectionOf } from "./outcomes.js";

export interface AuthServiceDeps {
  /** The project's auth; undefined when langgraph.json declares none. */
  auth: ProjectAuth | undefined;
  logger: Logger;
}

type AuthenticateResponseInit = MessageInitShape<typeof AuthenticateResponseSchema>;
type AuthorizeResponseInit = MessageInitShape<typeof AuthorizeResponseSchema>;

const decoder = new TextDecoder("utf-8", { fatal: true });

function notConfigured(): ConnectError {
  // No Reason of the common table names this case yet; the code alone says it (the caller asked
  // DescribeAuth, which answered `configured: false`).
  return new ConnectError("The project declares no custom auth (langgraph.json has no auth.path)", Code.FailedPrecondition);
}

/** A JSON object from bytes, or INVALID_ARGUMENT naming the field. */
function jsonObject(bytes: Uint8Array, field: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch {
    throw invalidArgument(`${field} must be a JSON object`, [{ field, description: "not valid JSON" }]);
  }
  if (!isPlainObject(parsed)) {
    throw invalidArgument(`${field} must be a JSON object`, [{ field, description: "not a JSON object" }]);
  }
  return parsed;
}

/** The WHATWG Request user code sees, from what the gateway forwarded; INVALID_ARGUMENT when it cannot be built. */
function toRequest(req: AuthenticateRequest): Request {
  if (req.method === "") throw invalidArgument("method is required", [{ field: "method", description: "required" }]);
  let url: URL;
  try {
    url = new URL(req.url, req.origin === "" ? undefined : req.origin);
  } catch {
    throw invalidArgument(`url ${JSON.stringify(req.url)} with origin ${JSON.stringify(req.origin)} is not a valid URL`, [
      { field: "url", description: "not a valid URL, or a path without an origin" },
    ]);
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    try {
      headers.append(name, value);
    } catch {
      throw invalidArgument(`Header ${JSON.stringify(name)} is not a valid header`, [
        { field: `headers[${name}]`, description: "invalid header name or value" },
      ]);
    }
  }
  try {
    return new Request(url, { method: req.method, headers });
  } catch (err) {
    throw invalidArgument(`method ${JSON.stringify(req.method)} cannot be used: ${(err as Error).message}`, [
      { field: "method", description: "not a usable HTTP method" },
    ]);
  }
}

/** The user a handler sees: the whole object authenticate answered, else one made of identity and permissions. */
function handlerUser(user: AuthUser): Record<string, unknown> {
  if (user.userJson.length === 0) {
    return { identity: user.identity, display_name: user.identity, permissions: [...user.permissions], is_authenticated: true };
  }
  return jsonObject(user.userJson, "user.user_json");
}

function rejected(rejection: Rejection): { outcome: { case: "rejection"; value: Rejection } } {
  return { outcome: { case: "rejection", value: rejection } };
}

/**
 * AuthService over the project's `Auth` instance. User code runs here, in the runtime: what it
 * throws as an `HTTPException` becomes a rejection with that status, message and headers; any
 * other failure (a throw, an answer the contract does not allow) becomes a 500 whose cause is
 * logged here and never sent.
 */
export function createAuthServiceImpl(deps: AuthServiceDeps): ServiceImpl<typeof AuthService> {
  const { auth, logger } = deps;

  /** A failure of user code: the rejection an HTTPException asks for, else 500 with the cause logged. */
  function failure(err: unknown, log: Logger, what: string, fields: Record<string, string> = {}): Rejection {
    const rejection = rejectionOf(err);
    if (rejection) {
      log.debug({ ...fields, status: rejection.status }, `Rejected Request: ${what} threw an HTTPException`);
      return rejection;
    }
    log.warn({ ...fields, err }, `Answered 500: ${what} failed`);
    return INTERNAL_ERROR;
  }

  return {
    describeAuth() {
      if (!auth) return { configured: false };
      return {
        configured: true,
        authenticates: typeof auth.handlers.authenticate === "function",
        handlers: Object.keys(auth.handlers.callbacks ?? {}),
        cache: auth.cache,
        disableStudioAuth: auth.disableStudioAuth,
      };
    },

    async authenticate(req, ctx): Promise<AuthenticateResponseInit> {
      if (!auth) throw notConfigured();
      const request = toRequest(req);
      const callback = auth.handlers.authenticate;
      // Upstream: without `authenticate` a request has no auth context (no user) and no handler
      // runs for it. Answered as neither a user nor a rejection; DescribeAuth says so beforehand.
      if (typeof callback !== "function") return {};
      try {
        const user = normalizeUser(await callback(request));
        return {
          outcome: {
            case: "user",
            value: { identity: user.identity, permissions: user.permissions, userJson: jsonBytes(user.user) },
          },
        };
      } catch (err) {
        return rejected(failure(err, requestLogger(ctx.values, logger), "authenticate"));
      }
    },

    async authorize(req: AuthorizeRequest, ctx): Promise<AuthorizeResponseInit> {
      if (!auth) throw notConfigured();
      const { resource, action } = req;
      if (!isKnownResource(resource)) {
        throw invalidArgument(
          `Unknown auth resource ${JSON.stringify(resource)}: expected one of ${Object.keys(AUTH_ACTIONS).join(", ")}`,
          [{ field: "resource", description: "unknown resource" }],
        );
      }
      if (!isKnownAction(resource, action)) {
        throw invalidArgument(
          `Unknown action ${JSON.stringify(action)} of ${resource}: expected one of ${AUTH_ACTIONS[resource]?.join(", ")}`,
          [{ field: "action", description: "unknown action" }],
        );
      }
      const value = jsonObject(req.valueJson, "value_json");
      // Upstream lets an event without an auth context through unchecked; that choice is the
      // caller's (it knows whether the request was authenticated), never a default of this RPC.
      if (!req.user) throw invalidArgument("user is required", [{ field: "user", description: "required" }]);
      const user = handlerUser(req.user);

      const key = chooseHandler(auth.handlers.callbacks, resource, action);
      const handler = key === undefined ? undefined : auth.handlers.callbacks?.[key];
      if (key === undefined || !handler) return { outcome: { case: "grant", value: { valueJson: req.valueJson } } };

      try {
        const decision = decisionOf(
          await handler({
            event: `${resource}:${action}`,
            resource,
            action,
            value,
            user,
            permissions: [...req.user.permissions],
          }),
        );
        if (!decision.allow) return rejected(FORBIDDEN);
        // Serialized here so that a value or filter that is not JSON fails as the handler's fault.
        const valueJson = textBytes(JSON.stringify(value));
        const filterJson = decision.filter ? textBytes(JSON.stringify(decision.filter)) : new Uint8Array();
        return { outcome: { case: "grant", value: { filterJson, valueJson } } };
      } catch (err) {
        const fields = { auth_event: `${resource}:${action}`, auth_handler: key };
        return rejected(failure(err, requestLogger(ctx.values, logger), `the auth handler "${key}"`, fields));
      }
    },
  };
}
