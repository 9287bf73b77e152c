import { create } from "@bufbuild/protobuf";
import { encodeCaller } from "@langopen/common";
import { type AuthUser, AuthUserSchema } from "@langopen/gen/langopen/runtime/v1/auth_service_pb";
import type { FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { ApiKeyVerifier } from "../auth/api-keys.js";
import { type CustomAuth, isAuthRejected } from "../auth/custom-auth.js";
import { type AuthResource, guardOf, type RouteGuard } from "../auth/events.js";
import { filterConditions, UnsupportedFilterError } from "../auth/filter.js";
import { OidcUnavailableError, type OidcVerifier } from "../auth/oidc.js";

/** One authorized event: the value as the handler left it, and the caller header its calls carry. */
export interface AuthorizedCall {
  value: Record<string, unknown>;
  callerHeader: string | undefined;
}

/** Who may call the API: keys, OIDC tokens, the project's custom auth, any of them, or none (everyone). */
export interface AuthOptions {
  apiKeys?: ApiKeyVerifier;
  /** Bearer tokens of an OpenID Connect provider (the portal's sign-in), beside or instead of keys. */
  oidc?: OidcVerifier;
  customAuth?: CustomAuth;
}

declare module "fastify" {
  interface FastifyInstance {
    /** Routes with no entry in the auth guards (auth/events.ts): none, or they are refused. */
    unguardedRoutes: readonly string[];
  }
  interface FastifyRequest {
    /** The authenticated user; undefined when no authentication is configured or the route is open. */
    authUser: AuthUser | undefined;
    /** The `Caller` header this request's RPCs carry: its user and the filter of its event. */
    callerHeader: string | undefined;
    /**
     * Authorizes one event of this request with the project's handler for it (if any): refuses
     * (throws the handler's answer), or returns the value as the handler left it; its filter then
     * goes with the request's calls (`callerHeader`). Routes that make calls concurrently for
     * different events use `authorizeCall` instead.
     */
    authorize(resource: AuthResource, action: string, value: Record<string, unknown>): Promise<Record<string, unknown>>;
    /** As authorize, without changing the request: the caller header of this one event is returned. */
    authorizeCall(resource: AuthResource, action: string, value: Record<string, unknown>): Promise<AuthorizedCall>;
  }
}

const encoder = new TextEncoder();

function callerHeaderOf(user: AuthUser, filterJson = ""): string {
  const filter = filterJson === "" ? [] : filterConditions(JSON.parse(filterJson));
  return encodeCaller({ identity: user.identity, permissions: user.permissions, userJson: user.userJson, filter });
}

/** The user of a request made with an API key and no custom auth: the key's name. */
function keyUser(name: string): AuthUser {
  const user = { identity: name, display_name: name, permissions: [], is_authenticated: true };
  return create(AuthUserSchema, { identity: name, permissions: [], userJson: encoder.encode(JSON.stringify(user)) });
}

/** Header values as one string each (repeated headers joined), names lower-case as Node gives them. */
function flatHeaders(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/** Connect's name of the code a refusal's status maps to (the portal's RPCs answer in Connect's error shape). */
function connectCodeOf(status: number): string {
  if (status === 401) return "unauthenticated";
  if (status === 403) return "permission_denied";
  if (status === 404) return "not_found";
  if (status === 429) return "resource_exhausted";
  if (status === 503) return "unavailable";
  return status >= 500 ? "internal" : "invalid_argument";
}

function refuse(reply: FastifyReply, status: number, detail: string, headers: Record<string, string> = {}) {
  if (reply.request.routeOptions.url?.startsWith("/portal/rpc/")) {
    return reply
      .code(status)
      .headers(headers)
      .send({ code: connectCodeOf(status), message: detail });
  }
  return reply.code(status).headers(headers).send({ detail });
}

/**
 * Authentication and authorization of the public API. Every request to a route that is not open
 * is authenticated (API key, then the project's `authenticate`) before its body is read; each
 * route's events (auth/events.ts) are authorized with the project's handlers once the body is
 * parsed and validated, and what a handler edits is put back into the request. A route missing
 * from the table is refused: forgetting to list one cannot leave it open.
 */
export const authPlugin = fp<AuthOptions>(
  async (fastify, { apiKeys, oidc, customAuth }) => {
    // Routes registered without a guard: refused when auth is on; listed so a test can insist on none.
    const unguarded: string[] = [];
    fastify.decorate("unguardedRoutes", unguarded);
    fastify.addHook("onRoute", (route) => {
      const routeGuard = (route.config as { authGuard?: RouteGuard } | undefined)?.authGuard;
      for (const method of [route.method].flat()) {
        if (method !== "HEAD" && method !== "OPTIONS" && (routeGuard ?? guardOf(method, route.url)) === undefined) {
          unguarded.push(`${method} ${route.url}`);
        }
      }
    });
    fastify.decorateRequest("authUser", undefined);
    fastify.decorateRequest("callerHeader", undefined);
    fastify.decorateRequest("authorizeCall", async function (this: FastifyRequest, resource, action, value) {
      const user = this.authUser;
      if (!customAuth || !user || customAuth.handlerFor(resource, action) === undefined) {
        return { value, callerHeader: user && callerHeaderOf(user) };
      }
      const grant = await customAuth.authorize(user, resource, action, value, { headers: { "x-request-id": this.id } });
      return { value: grant.value, callerHeader: callerHeaderOf(user, grant.filterJson) };
    });
    fastify.decorateRequest("authorize", async function (this: FastifyRequest, resource, action, value) {
      const authorized = await this.authorizeCall(resource, action, value);
      this.callerHeader = authorized.callerHeader;
      return authorized.value;
    });
    if (!apiKeys && !oidc && !customAuth) return;
    const credentialsWanted = [apiKeys && "an API key (x-api-key)", oidc && "an OIDC token (Authorization: Bearer)"]
      .filter(Boolean)
      .join(" or ");
    const challenge = [apiKeys && "ApiKey", oidc && `Bearer realm="${oidc.settings.issuer}"`].filter(Boolean).join(", ");

    fastify.addHook("onRequest", async (request, reply) => {
      // A route may carry its own guard (custom routes: open or authenticated as langgraph.json says).
      const guard =
        (request.routeOptions.config as { authGuard?: RouteGuard }).authGuard ??
        guardOf(request.method, request.routeOptions.url);
      // Unknown paths reach the 404 handler; CORS preflights carry no credentials by design.
      if (request.routeOptions.url === undefined || request.method === "OPTIONS" || guard === "open") return;
      if (guard === undefined) {
        request.log.error({ route: request.routeOptions.url }, "Refused a request: its route has no auth guard");
        return refuse(reply, 403, "Forbidden");
      }
      try {
        let user: AuthUser | undefined;
        if (apiKeys || oidc) {
          const presented = request.headers["x-api-key"];
          const principal =
            apiKeys && typeof presented === "string" && presented !== "" ? await apiKeys.verify(presented) : undefined;
          if (principal) user = keyUser(principal.name);
          const bearer = oidc && !principal ? /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? "")?.[1] : undefined;
          if (oidc && bearer) user = await oidc.verify(bearer);
          if (!user) {
            const detail = oidc ? `Missing or invalid credentials: send ${credentialsWanted}` : "Missing or invalid API key";
            return refuse(reply, 401, detail, { "www-authenticate": challenge });
          }
        }
        if (customAuth?.authenticates) {
          user = await customAuth.authenticate(
            {
              method: request.method,
              url: request.url,
              origin: `${request.protocol}://${request.host}`,
              headers: flatHeaders(request),
            },
            { headers: { "x-request-id": request.id } },
          );
        }
        if (user) {
          request.authUser = user;
          request.callerHeader = callerHeaderOf(user);
        }
      } catch (err) {
        if (isAuthRejected(err)) return refuse(reply, err.status, err.detail, err.headers);
        if (err instanceof OidcUnavailableError) {
          request.log.warn({ err }, "Refused a request: the OIDC issuer did not answer");
          return refuse(reply, 503, err.message, { "retry-after": "5" });
        }
        throw err;
      }
    });

    if (!customAuth) return;
    fastify.addHook("preHandler", async (request, reply) => {
      const guard = guardOf(request.method, request.routeOptions.url);
      if (!Array.isArray(guard) || !request.authUser) return;
      try {
        for (const [i, event] of guard.entries()) {
          if (customAuth.handlerFor(event.resource, event.action) === undefined) continue;
          const filterBefore = request.callerHeader;
          const edited = await request.authorize(event.resource, event.action, event.value(request));
          event.apply?.(request, edited);
          // The first event's filter governs the route's calls; later events may only refuse.
          if (i > 0) request.callerHeader = filterBefore;
        }
      } catch (err) {
        if (isAuthRejected(err)) return refuse(reply, err.status, err.detail, err.headers);
        if (err instanceof UnsupportedFilterError) {
          request.log.error({ err }, "Refused a request: the auth handler returned a filter that cannot be applied");
          return refuse(reply, 500, "Internal Server Error");
        }
        throw err;
      }
    });
  },
  { name: "auth", fastify: "5.x" },
);
