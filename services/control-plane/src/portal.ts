import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, createContextValues, type Interceptor } from "@connectrpc/connect";
import { codeToHttpStatus, codeToString } from "@connectrpc/connect/protocol-connect";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import { type Logger, peerAddressKey, RPC_RECURSION_LIMIT } from "@langopen/common";
import { PORTAL_PATH, PORTAL_RPC_PREFIX, portalAppPlugin } from "@langopen/gateway";
import { ApiKeyService } from "@langopen/gen/langopen/control/v1/api_key_service_pb";
import { AuditService } from "@langopen/gen/langopen/control/v1/audit_service_pb";
import { DeploymentService } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { SecretService } from "@langopen/gen/langopen/control/v1/secret_service_pb";
import Fastify, { type FastifyBaseLogger, type FastifyReply, LogController } from "fastify";
import {
  type Authenticator,
  authenticatedCallerKey,
  type Caller,
  CONTROL_READ_MAX_BYTES,
  callerOnHeaders,
  credentialOf,
} from "./service.js";

/**
 * What the portal may call, per service: what a person does with the platform. Not the calls of
 * data planes (VerifyApiKey, GetBundle) nor the builder's: a method missing here answers
 * Unimplemented on the portal's port, whatever the key.
 */
const PORTAL_METHODS = new Map<DescService, readonly string[]>([
  [
    DeploymentService,
    [
      "createDeployment",
      "getDeployment",
      "listDeployments",
      "updateDeployment",
      "deleteDeployment",
      "createRevision",
      "listRevisions",
      "getRevision",
      "getRevisionSbom",
      "rollback",
      "streamLogs",
    ],
  ],
  [ApiKeyService, ["createApiKey", "listApiKeys", "revokeApiKey"]],
  [SecretService, ["setSecret", "listSecrets", "unsetSecret"]],
  [AuditService, ["listAuditEvents"]],
]);

/** The methods that take a deployment's tarball, as the ends of their paths. */
const UPLOAD_METHODS = [DeploymentService.method.createDeployment, DeploymentService.method.createRevision].map(
  (method) => `/${DeploymentService.typeName}/${method.name}`,
);

/** Whether a call to `url` goes to a method that takes a tarball. */
function takesUploads(url: string): boolean {
  const path = url.split("?", 1)[0] as string;
  return UPLOAD_METHODS.some((method) => path.endsWith(method));
}

/** Calls with a body larger than this count as uploads, of which at most MAX_CONCURRENT_UPLOADS are read at once. */
const UPLOAD_BYTES = 1024 * 1024;
const MAX_CONCURRENT_UPLOADS = 4;

/** A Connect error as the protocol answers it, closing the connection so an unread body is not waited for. */
function refuse(reply: FastifyReply, error: ConnectError, headers: Record<string, string> = {}) {
  return reply
    .code(codeToHttpStatus(error.code))
    .headers({ connection: "close", ...headers })
    .send({ code: codeToString(error.code), message: error.rawMessage });
}

/** A router that takes the portal's methods of the portal's services and drops every other. */
function portalMethodsOnly(router: ConnectRouter): ConnectRouter {
  return {
    ...router,
    service(service, implementation, options) {
      const allowed = PORTAL_METHODS.get(service as DescService);
      if (!allowed) return this;
      const impl = implementation as Record<string, unknown>;
      const picked = Object.fromEntries(allowed.filter((name) => impl[name] !== undefined).map((name) => [name, impl[name]]));
      router.service(service, picked as typeof implementation, options);
      return this;
    },
  };
}

export interface PortalServerOptions {
  host: string;
  port: number;
  /** The built portal app (`portal/dist`); absent: its page answers 404 saying how to build it. */
  dir: string | undefined;
  /** Registers the control plane's services (the same implementations its RPC port serves). */
  routes: (router: ConnectRouter) => void;
  /** Checks a call's credential before its body is read (the services' own check, reused). */
  authenticate: Authenticator;
  /** The RPC port's interceptors (metrics, tracing, request scope). */
  interceptors: Interceptor[];
  logger: Logger;
  /** The OpenID Connect provider the app offers to sign in with, when the control plane accepts its tokens. */
  oidc?: { issuer: string; clientId: string };
}

export interface PortalServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The platform's portal over HTTP/1.1 (the RPC port speaks h2c, which browsers do not): the app at
 * /portal/ and, at /portal/rpc, the platform's services as a person uses them, with the key the
 * portal sends (`x-api-key`, or a bearer token: an API key or the OIDC provider's token). The key
 * is checked when the request's headers arrive, before its body is read: this port takes uploads
 * of up to CONTROL_READ_MAX_BYTES, which only a caller the platform knows may make it hold, a few
 * at a time. What the caller may do is checked by each call, as on the RPC port.
 */
export async function startPortalServer(options: PortalServerOptions): Promise<PortalServer> {
  const app = Fastify({
    // Connect reads the calls' bodies itself (within readMaxBytes); the same bound for anything else.
    bodyLimit: CONTROL_READ_MAX_BYTES,
    loggerInstance: options.logger.child({ component: "portal" }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  const callers = new WeakMap<object, Caller>();
  let uploads = 0;
  await app.register(async (scope) => {
    scope.addHook("onRequest", async (request, reply) => {
      const address = request.socket.remoteAddress ?? "unknown";
      try {
        const credential = credentialOf((name) => request.headers[name] as string);
        callers.set(request.raw, await callerOnHeaders(options.authenticate, credential, address, request.log as Logger));
      } catch (err) {
        return refuse(reply, ConnectError.from(err));
      }
      // A browser states the length of what it uploads; a body of unstated length (chunked) to a
      // method that takes uploads may be as large as readMaxBytes, so it counts as one too.
      const declared = request.headers["content-length"];
      const unstated = declared === undefined && request.headers["transfer-encoding"] !== undefined;
      if (!(unstated && takesUploads(request.url)) && Number(declared ?? 0) <= UPLOAD_BYTES) return;
      if (uploads >= MAX_CONCURRENT_UPLOADS)
        return refuse(
          reply,
          new ConnectError(`${MAX_CONCURRENT_UPLOADS} uploads are being read: try again shortly`, Code.ResourceExhausted),
          {
            "retry-after": "5",
          },
        );
      uploads++;
      reply.raw.once("close", () => uploads--);
    });
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_request, _payload, done) => done(null));
    await scope.register(fastifyConnectPlugin, {
      prefix: PORTAL_RPC_PREFIX,
      routes: (router) => options.routes(portalMethodsOnly(router)),
      interceptors: options.interceptors,
      readMaxBytes: CONTROL_READ_MAX_BYTES,
      binaryOptions: { recursionLimit: RPC_RECURSION_LIMIT },
      jsonOptions: { recursionLimit: RPC_RECURSION_LIMIT },
      // The audit log's source address, as on the RPC port.
      contextValues: (request) =>
        createContextValues()
          .set(peerAddressKey, request.socket.remoteAddress)
          .set(authenticatedCallerKey, callers.get(request.raw)),
    });
    scope.all(`${PORTAL_RPC_PREFIX}/*`, async (request, reply) =>
      reply.code(404).send({ code: "unimplemented", message: `${request.url} is not a portal RPC` }),
    );
  });
  await app.register(portalAppPlugin, { dir: options.dir, mode: "platform", oidc: options.oidc });
  app.get("/", async (_request, reply) => reply.redirect(PORTAL_PATH));
  const address = await app.listen({ host: options.host, port: options.port });
  return { url: `${address}${PORTAL_PATH}`, close: () => app.close() };
}
