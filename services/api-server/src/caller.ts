import type { DescService, JsonObject, JsonValue } from "@bufbuild/protobuf";
import { createContextKey, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { malformedCaller, readCallerHeader } from "@langopen/common";
import { type AuthCondition, type AuthFilter, restricts } from "@langopen/data-plane";
import { type Caller, FilterOperator } from "@langopen/gen/langopen/data/v1/caller_pb";

/*
 * Whom a call acts for. The gateway authenticates a request with the project's custom auth and
 * sends, with each call it makes for it, the user and the filter the project's handler returned
 * for the call's event (the `langopen-caller-bin` header). Handlers read it from their context
 * values (`callerKey`): the filter restricts what the call may see and change (in SQL), the user
 * goes into the runs it creates. A call without the header is not restricted.
 */

/** The caller of a call, as its header says. */
export interface RequestCaller {
  identity: string;
  permissions: string[];
  /** The user object as the project's auth returned it (what graphs see as `langgraph_auth_user`). */
  user: JsonObject;
  /** The auth filter of the call's event; empty when the handler returned none. */
  filter: AuthFilter;
}

/** Where handlers find the caller of the call they serve; undefined for a call without one. */
export const callerKey = createContextKey<RequestCaller | undefined>(undefined, { description: "langopen caller" });

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

const OPERATORS: Partial<Record<FilterOperator, AuthCondition["operator"]>> = {
  [FilterOperator.EQ]: "eq",
  [FilterOperator.CONTAINS]: "contains",
};

const decoder = new TextDecoder();

function parseJson(bytes: Uint8Array | string): JsonValue {
  try {
    return JSON.parse(typeof bytes === "string" ? bytes : decoder.decode(bytes)) as JsonValue;
  } catch {
    throw malformedCaller();
  }
}

/** The caller of a decoded header, checked: INVALID_ARGUMENT when its user or filter cannot be read. */
export function toRequestCaller(caller: Caller): RequestCaller {
  let user: JsonObject = {
    identity: caller.identity,
    display_name: caller.identity,
    permissions: caller.permissions,
    is_authenticated: true,
  };
  if (caller.userJson.length > 0) {
    const parsed = parseJson(caller.userJson);
    if (!isObject(parsed)) throw malformedCaller();
    user = parsed;
  }
  const filter = caller.filter.map((condition): AuthCondition => {
    const operator = OPERATORS[condition.operator];
    if (operator === undefined) throw malformedCaller();
    return { field: condition.field, operator, value: parseJson(condition.valueJson) };
  });
  return { identity: caller.identity, permissions: [...caller.permissions], user, filter };
}

/** The caller a call's headers carry; undefined when none. INVALID_ARGUMENT "Malformed caller header" when unreadable. */
export function callerFromHeaders(headers: Headers): RequestCaller | undefined {
  const caller = readCallerHeader(headers);
  return caller && toRequestCaller(caller);
}

/** The caller of the call a handler serves. */
export const callerOf = (ctx: HandlerContext): RequestCaller | undefined => ctx.values.get(callerKey);

/** The auth filter of the call a handler serves; undefined when it restricts nothing. */
export function authOf(ctx: HandlerContext): AuthFilter | undefined {
  const filter = ctx.values.get(callerKey)?.filter;
  return restricts(filter) ? filter : undefined;
}

/** The context a handler runs in: the call's own, with its caller in a layer of values of its own. */
function withCallerValues(ctx: HandlerContext): HandlerContext {
  const caller = callerFromHeaders(ctx.requestHeader);
  if (caller === undefined) return ctx;
  const values = Object.create(ctx.values) as HandlerContext["values"];
  values.set(callerKey, caller);
  return { ...ctx, values };
}

type Method = (req: unknown, ctx: HandlerContext) => unknown;

/**
 * Serves a service with every call's caller in its context values (`callerKey`), read from the
 * call's header before the handler runs; a header that cannot be read fails the call with
 * INVALID_ARGUMENT "Malformed caller header" and nothing runs. The services of the data plane's
 * resources are registered through it (compose.ts), so it holds on the network port and in
 * process alike.
 */
export function withCallers<S extends DescService>(service: S, impl: ServiceImpl<S>): ServiceImpl<S> {
  const methods = impl as unknown as Record<string, Method>;
  const wrapped: Record<string, Method> = {};
  for (const method of service.methods) {
    const fn = methods[method.localName];
    if (typeof fn !== "function") continue;
    wrapped[method.localName] =
      method.methodKind === "server_streaming"
        ? async function* (req, ctx) {
            yield* fn.call(impl, req, withCallerValues(ctx)) as AsyncIterable<unknown>;
          }
        : async (req, ctx) => fn.call(impl, req, withCallerValues(ctx));
  }
  return wrapped as unknown as ServiceImpl<S>;
}

/**
 * A run's config with its caller in `configurable`, as upstream gives it to the graph:
 * `langgraph_auth_user` (the user object), `langgraph_auth_user_id` (the identity) and
 * `langgraph_auth_permissions`, over whatever the client sent under those keys (a client must not
 * be able to pass for someone else). Unchanged without a caller.
 */
export function configWithCaller(config: JsonObject | undefined, caller: RequestCaller | undefined): JsonObject | undefined {
  if (caller === undefined) return config;
  const configurable = isObject(config?.configurable) ? config.configurable : {};
  return {
    ...config,
    configurable: {
      ...configurable,
      langgraph_auth_user: caller.user,
      langgraph_auth_user_id: caller.identity,
      langgraph_auth_permissions: caller.permissions,
    },
  };
}
