import type { DescMessage, DescMethod, DescService } from "@bufbuild/protobuf";
import { ScalarType, toJsonString } from "@bufbuild/protobuf";
import { type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import {
  type CallOptions,
  Code,
  ConnectError,
  type ConnectRouter,
  createClient,
  createContextKey,
  type HandlerContext,
  type ServiceImpl,
  type Transport,
} from "@connectrpc/connect";
import { CALLER_HEADER } from "@langopen/common";
import type { FastifyRequest } from "fastify";
import type { JsonLimits } from "../../plugins/json-body.js";
import { exceededJsonLimit } from "../../plugins/json-body.js";
import type { GuardedService, MethodGuard } from "./guards.js";

/** The fastify request a portal call arrived on (its user, its id, its authorize). */
export const kFastifyRequest = createContextKey<FastifyRequest | undefined>(undefined, {
  description: "the fastify request of a portal call",
});

const decoder = new TextDecoder();

/**
 * The JSON a message carries, each document as text: its Struct and Value fields, and the bytes
 * fields that hold JSON (`*_json`). The REST routes check every body against the JSON limits
 * before parsing it; a portal call is parsed by Connect (bounded by the byte limit), and what it
 * would hand on is checked here, before any of it is authorized or sent.
 */
function* jsonDocuments(message: ReflectMessage): Generator<string> {
  for (const field of message.fields) {
    if (!message.isSet(field)) continue;
    if (field.fieldKind === "scalar") {
      if (field.scalar === ScalarType.BYTES && field.name.endsWith("_json")) {
        yield decoder.decode(message.get(field) as Uint8Array);
      }
    } else if (field.fieldKind === "message") {
      yield* documentsOf(field.message, message.get(field));
    } else if (field.fieldKind === "list" && field.listKind === "message") {
      for (const item of message.get(field)) yield* documentsOf(field.message, item as ReflectMessage);
    } else if (field.fieldKind === "map" && field.mapKind === "message") {
      for (const [, item] of message.get(field)) yield* documentsOf(field.message, item as ReflectMessage);
    }
  }
}

const JSON_TYPES = new Set(["google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"]);

function* documentsOf(desc: DescMessage, value: ReflectMessage): Generator<string> {
  if (JSON_TYPES.has(desc.typeName)) yield toJsonString(desc, value.message);
  else yield* jsonDocuments(value);
}

/** The first JSON limit a request goes over, if any. */
export function exceededMessageLimit(desc: DescMessage, message: object, limits: JsonLimits): string | undefined {
  for (const text of jsonDocuments(reflect(desc, message as never))) {
    const exceeded = exceededJsonLimit(text, limits);
    if (exceeded) return exceeded.replace("Request body", "A JSON field of the request");
  }
  return undefined;
}

/** What a portal call may not set, whatever it sends. */
export interface PortalPolicy {
  /** `http.disable_webhooks`: runs and crons are created without their webhook. */
  dropWebhooks: boolean;
  limits: JsonLimits;
}

type Spec = { webhook: string; traceParent: string };

/**
 * Fields of the internal messages that the public API has no way to set: a store write's fence
 * (a runtime's proof that its run still holds the thread) and a run's trace parent (the
 * api-server takes it from the call). Cleared, so that the portal can do what the REST API can
 * and nothing more.
 */
function clearInternalFields(message: Record<string, unknown>, policy: PortalPolicy): void {
  if ("fence" in message) message.fence = undefined;
  const specs: (Spec | undefined)[] = [
    message.spec as Spec | undefined,
    (message.run as { spec?: Spec } | undefined)?.spec,
    message.payload as Spec | undefined,
  ];
  for (const spec of specs) {
    if (!spec) continue;
    spec.traceParent = "";
    if (policy.dropWebhooks) spec.webhook = "";
  }
}

/** An error of the api-server as the browser gets it: its code, message and details, none of its headers. */
function publicError(err: unknown, request: FastifyRequest, method: DescMethod): ConnectError {
  const error = ConnectError.from(err);
  if (error.code === Code.Internal || error.code === Code.Unknown) {
    request.log.error({ err, rpc: `${method.parent.typeName}/${method.name}` }, "A portal call failed");
  }
  const answer = new ConnectError(error.rawMessage, error.code);
  answer.details.push(...error.details);
  return answer;
}

/**
 * Authorizes a call as its guard says (the project's handlers may refuse it, edit it, or restrict
 * it with a filter) and answers the options of the call it makes: the filter of its first event,
 * the request's id, and the browser's signal unless it writes.
 */
async function prepare<I extends object>(
  method: DescMethod,
  guard: MethodGuard<I>,
  input: I,
  context: HandlerContext,
  policy: PortalPolicy,
): Promise<{ request: FastifyRequest; options: CallOptions }> {
  const request = context.values.get(kFastifyRequest);
  if (!request) throw new ConnectError("no request", Code.Internal);
  const exceeded = exceededMessageLimit(method.input, input, policy.limits);
  if (exceeded) throw new ConnectError(exceeded, Code.InvalidArgument);
  clearInternalFields(input as Record<string, unknown>, policy);
  let caller = request.callerHeader;
  for (const [i, event] of guard.events.entries()) {
    const authorized = await request.authorizeCall(event.resource, event.action, event.value(input));
    event.apply?.(input, authorized.value);
    if (i === 0) caller = authorized.callerHeader;
  }
  const headers: Record<string, string> = { "x-request-id": request.id };
  if (caller !== undefined) headers[CALLER_HEADER] = caller;
  return { request, options: { headers, signal: guard.write ? undefined : context.signal } };
}

type Call = (input: object, options: CallOptions) => unknown;

/**
 * The portal's routes: each guarded method of each service, forwarded to the api-server with the
 * caller's identity and filter. Methods without a guard are not routed (the browser gets
 * Unimplemented), so that a new internal method is never reachable by accident.
 */
export function portalRpcRoutes(services: readonly GuardedService[], transport: Transport, policy: PortalPolicy) {
  return (router: ConnectRouter) => {
    for (const { service, guards } of services) {
      const impl = implOf(service, guards as Record<string, MethodGuard<object> | undefined>, transport, policy);
      router.service(service, impl as Partial<ServiceImpl<DescService>>);
    }
  };
}

function implOf(
  service: DescService,
  guards: Record<string, MethodGuard<object> | undefined>,
  transport: Transport,
  policy: PortalPolicy,
) {
  const client = createClient(service, transport) as unknown as Record<string, Call>;
  const impl: Record<string, unknown> = {};
  for (const method of service.methods) {
    const guard = guards[method.localName];
    const call = client[method.localName];
    if (!guard || !call) continue;
    if (method.methodKind === "unary") {
      impl[method.localName] = async (input: object, context: HandlerContext) => {
        const { request, options } = await prepare(method, guard, input, context, policy);
        try {
          return await (call(input, options) as Promise<unknown>);
        } catch (err) {
          throw publicError(err, request, method);
        }
      };
    } else if (method.methodKind === "server_streaming") {
      impl[method.localName] = async function* (input: object, context: HandlerContext) {
        const { request, options } = await prepare(method, guard, input, context, policy);
        try {
          yield* call(input, options) as AsyncIterable<unknown>;
        } catch (err) {
          throw publicError(err, request, method);
        }
      };
    }
  }
  return impl;
}
