import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { ERROR_DOMAIN, Reason } from "@langopen/common";
import { ErrorInfoSchema } from "@langopen/gen/google/rpc/error_details_pb";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "@langopen/gen/health/v1/health_pb";
import type { FastifyRequest } from "fastify";
import { queryBool } from "../../mappers/common.js";
import { API_SERVER } from "../../plugins/error-handler.js";
import { readOptions, type RpcClients } from "../../plugins/rpc-clients.js";
import { OkQuery } from "../../schemas/system.js";

/** What GET /info reports about this deployment. */
export interface GatewayInfo {
  /** The server version (of LangOpen). */
  version?: string;
  /** The @langchain/langgraph version of the runtime, when known. */
  langgraphJsVersion?: string;
  /** Overrides and additions to the advertised feature flags. */
  flags?: Record<string, boolean>;
  metadata?: JsonObject;
}

export interface SystemRoutesOptions {
  info?: GatewayInfo;
}

/** Features advertised by default: the LangGraph.js server's set, with crons on. */
export const DEFAULT_FLAGS: Readonly<Record<string, boolean>> = {
  assistants: true,
  crons: true,
  langsmith: false,
  langsmith_tracing_replicas: false,
};

/** The body of GET /info. */
export function infoBody(info: GatewayInfo = {}): JsonObject {
  const body: JsonObject = { version: info.version ?? "0.0.0" };
  if (info.langgraphJsVersion !== undefined) body.langgraph_js_version = info.langgraphJsVersion;
  body.context = "js";
  body.flags = { ...DEFAULT_FLAGS, ...info.flags };
  body.metadata = info.metadata ?? {};
  return body;
}

const HEALTH_TIMEOUT_MS = 5_000;

function apiServerDown(message: string): ConnectError {
  return new ConnectError(message, Code.Unavailable, undefined, [
    { desc: ErrorInfoSchema, value: { reason: Reason.Unavailable, domain: ERROR_DOMAIN, metadata: { dependency: API_SERVER } } },
  ]);
}

/** Asks the api-server's standard health service whether it serves; throws a 503-bound error if not. */
async function checkApiServer(health: RpcClients["health"], request: FastifyRequest): Promise<void> {
  let status: ServingStatus;
  try {
    status = (await health.check({ service: "" }, { ...readOptions(request), timeoutMs: HEALTH_TIMEOUT_MS })).status;
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.NotFound) status = ServingStatus.SERVICE_UNKNOWN;
    else if (err instanceof ConnectError && err.code === Code.DeadlineExceeded) {
      throw apiServerDown(`${API_SERVER} did not answer its health check within ${HEALTH_TIMEOUT_MS} ms`);
    } else throw err;
  }
  if (status !== ServingStatus.SERVING) {
    throw apiServerDown(`${API_SERVER} is not serving (health status ${ServingStatus[status] ?? status})`);
  }
}

/** GET /ok and GET /info. */
export const systemRoutes: FastifyPluginAsyncTypebox<SystemRoutesOptions> = async (fastify, options) => {
  const body = infoBody(options.info);

  fastify.get("/ok", { schema: { querystring: OkQuery } }, async (request) => {
    // Without check_db this only says the gateway answers; with it, the api-server (and through
    // its health, its database) must be serving too.
    if (queryBool(request.query.check_db)) await checkApiServer(fastify.rpc.health, request);
    return { ok: true };
  });

  fastify.get("/info", async () => body);
};
