import type { ServerResponse } from "node:http";
import { type CallOptions, type Client, createClient, type Transport } from "@connectrpc/connect";
import { CALLER_HEADER } from "@langopen/common";
import { Health } from "@langopen/gen/health/v1/health_pb";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { CronService } from "@langopen/gen/langopen/data/v1/cron_service_pb";
import { RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import type { FastifyRequest } from "fastify";
import fp from "fastify-plugin";

/** Typed clients of the api-server, one per service, all over the one transport. */
export interface RpcClients {
  assistants: Client<typeof AssistantService>;
  threads: Client<typeof ThreadService>;
  store: Client<typeof StoreService>;
  runs: Client<typeof RunService>;
  crons: Client<typeof CronService>;
  /** The standard grpc.health.v1 service of the api-server. */
  health: Client<typeof Health>;
}

export function createRpcClients(transport: Transport): RpcClients {
  return {
    assistants: createClient(AssistantService, transport),
    threads: createClient(ThreadService, transport),
    store: createClient(StoreService, transport),
    runs: createClient(RunService, transport),
    crons: createClient(CronService, transport),
    health: createClient(Health, transport),
  };
}

declare module "fastify" {
  interface FastifyInstance {
    rpc: RpcClients;
  }
  interface FastifyRequest {
    /** Aborts when the client goes away before it has its answer. */
    clientGone: AbortSignal;
  }
}

export interface RpcClientsOptions {
  transport: Transport;
}

/** Where a request keeps its reply's raw response and, once asked for, its clientGone controller. */
const kResponse = Symbol("rpc-clients.response");
const kGone = Symbol("rpc-clients.gone");
type RequestSlots = FastifyRequest & { [kResponse]: ServerResponse | null; [kGone]: AbortController | null };

/**
 * The request's clientGone signal, made on first use (reads and streams ask for it; writes
 * never do, so they pay for no controller and no listener).
 */
function clientGoneOf(request: RequestSlots): AbortSignal {
  let controller = request[kGone];
  if (!controller) {
    const made = new AbortController();
    controller = made;
    request[kGone] = made;
    const res = request[kResponse];
    if (res) {
      if (res.closed) {
        if (!res.writableFinished) made.abort();
      } else {
        res.once("close", () => {
          if (!res.writableFinished) made.abort();
        });
      }
    }
  }
  return controller.signal;
}

export const rpcClientsPlugin = fp<RpcClientsOptions>(
  async (fastify, { transport }) => {
    fastify.decorate("rpc", createRpcClients(transport));
    fastify.decorateRequest(kResponse as unknown as string, null);
    fastify.decorateRequest(kGone as unknown as string, null);
    fastify.decorateRequest("clientGone", {
      getter(this: FastifyRequest) {
        return clientGoneOf(this as RequestSlots);
      },
    });
    fastify.addHook("onRequest", (request, reply, done) => {
      (request as RequestSlots)[kResponse] = reply.raw;
      done();
    });
  },
  { name: "rpc-clients", fastify: "5.x" },
);

export interface RpcCallOptions {
  /**
   * Abort the call when the client goes away. Right for reads; writes run to completion so that
   * a dropped connection never leaves their outcome unknown.
   */
  abortOnDisconnect: boolean;
}

/** The headers of every RPC made for a request: its id, and its caller when auth is configured. */
function requestHeaders(request: FastifyRequest, caller = request.callerHeader): Record<string, string> {
  return caller === undefined ? { "x-request-id": request.id } : { "x-request-id": request.id, [CALLER_HEADER]: caller };
}

/** Options of an RPC made on behalf of a request: its headers, and the client's signal for reads. */
export function rpcOptions(request: FastifyRequest, { abortOnDisconnect }: RpcCallOptions): CallOptions {
  return {
    headers: requestHeaders(request),
    signal: abortOnDisconnect ? request.clientGone : undefined,
  };
}

/** For reads: aborted when the client goes away. */
export const readOptions = (request: FastifyRequest): CallOptions => rpcOptions(request, { abortOnDisconnect: true });

/** For writes: always carried through. */
export const writeOptions = (request: FastifyRequest): CallOptions => rpcOptions(request, { abortOnDisconnect: false });

/** For server-streaming reads: aborted by the given signal (the event stream's), not the request's. */
export const streamOptions = (request: FastifyRequest, signal: AbortSignal | undefined): CallOptions => ({
  headers: requestHeaders(request),
  signal,
});

/** Options of a call made for one event authorized with `request.authorizeCall` (its own caller header). */
export function callOptionsFor(
  request: FastifyRequest,
  callerHeader: string | undefined,
  signal: AbortSignal | undefined,
): CallOptions {
  return { headers: requestHeaders(request, callerHeader), signal };
}
