import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { ERROR_DOMAIN, Reason } from "@langopen/common";
import { ErrorInfoSchema } from "@langopen/gen/google/rpc/error_details_pb";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "@langopen/gen/health/v1/health_pb";
import type { FastifyRequest } from "fastify";
import { queryBool } from "../../mappers/common.js";
import { API_SERVER } from "../../plugins/error-handler.js";
import { type RpcClients, readOptions } from "../../plugins/rpc-clients.js";
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
  /**
   * Serve /info and let /ok check dependencies (default true). langgraph.json's
   * `http.disable_meta` turns both off: /info is gone and /ok only says the gateway answers.
   */
  meta?: boolean;
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

function dependencyDown(message: string, dependency: string = API_SERVER): ConnectError {
  return new ConnectError(message, Code.Unavailable, undefined, [
    { desc: ErrorInfoSchema, value: { reason: Reason.Unavailable, domain: ERROR_DOMAIN, metadata: { dependency } } },
  ]);
}

/** The data plane's dependencies, as the api-server reports them through its health service. */
const DEPENDENCIES = {
  postgres: "langopen.dependency.postgres",
  redis: "langopen.dependency.redis",
  runtime: "langopen.dependency.runtime",
} as const;

/**
 * Each dependency's status ("ok", "down" or "unknown") as the api-server sees it. A dependency the
 * api-server does not report on (a runtime when it has none) is left out.
 */
async function dependencyStatuses(health: RpcClients["health"], request: FastifyRequest): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, service] of Object.entries(DEPENDENCIES)) {
    try {
      const { status } = await health.check({ service }, { ...readOptions(request), timeoutMs: HEALTH_TIMEOUT_MS });
      out[name] = status === ServingStatus.SERVING ? "ok" : "down";
    } catch (err) {
      if (name === "runtime" && err instanceof ConnectError && err.code === Code.NotFound) continue;
      out[name] = "unknown";
    }
  }
  return out;
}

/** Asks the api-server's standard health service whether it serves; throws a 503-bound error if not. */
async function checkApiServer(health: RpcClients["health"], request: FastifyRequest): Promise<void> {
  let status: ServingStatus;
  try {
    status = (await health.check({ service: "" }, { ...readOptions(request), timeoutMs: HEALTH_TIMEOUT_MS })).status;
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.NotFound) status = ServingStatus.SERVICE_UNKNOWN;
    else if (err instanceof ConnectError && err.code === Code.DeadlineExceeded) {
      throw dependencyDown(`${API_SERVER} did not answer its health check within ${HEALTH_TIMEOUT_MS} ms`);
    } else throw err;
  }
  if (status !== ServingStatus.SERVING) {
    throw dependencyDown(`${API_SERVER} is not serving (health status ${ServingStatus[status] ?? status})`);
  }
}

/** GET /ok, GET /health and GET /info. */
export const systemRoutes: FastifyPluginAsyncTypebox<SystemRoutesOptions> = async (fastify, options) => {
  const body = infoBody(options.info);
  const meta = options.meta ?? true;

  fastify.get("/ok", { schema: { querystring: OkQuery } }, async (request) => {
    // Without check_db this only says the gateway answers; with it, the api-server (and through
    // its health, its database) must be serving too.
    if (meta && queryBool(request.query.check_db)) {
      await checkApiServer(fastify.rpc.health, request);
      const deps = await dependencyStatuses(fastify.rpc.health, request);
      if (deps.postgres === "down") throw dependencyDown("postgres is unavailable", "postgres");
    }
    return { ok: true };
  });

  // Every dependency's state: 200 when all are up, else 503 naming what is down.
  fastify.get("/health", async (request, reply) => {
    let apiServer = "ok";
    try {
      await checkApiServer(fastify.rpc.health, request);
    } catch {
      apiServer = "down";
    }
    const deps =
      apiServer === "ok" ? await dependencyStatuses(fastify.rpc.health, request) : { postgres: "unknown", redis: "unknown" };
    const body = { gateway: "ok", "api-server": apiServer, ...deps };
    const down = Object.entries(body)
      .filter(([, v]) => v !== "ok")
      .map(([k]) => k);
    return reply
      .code(down.length > 0 ? 503 : 200)
      .send({ ...body, ...(down.length > 0 && { detail: `${down.join(", ")} unavailable` }) });
  });

  if (meta) fastify.get("/info", async () => body);
};
