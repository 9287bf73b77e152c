import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { createContextValues, type Transport } from "@connectrpc/connect";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import fastifyStatic from "@fastify/static";
import { type LanggraphHttpConfig, RPC_RECURSION_LIMIT } from "@langopen/common";
import type { FastifyPluginAsync, FastifyReply } from "fastify";
import type { JsonLimits } from "../../plugins/json-body.js";
import { PORTAL_SERVICES } from "./guards.js";
import { kFastifyRequest, portalRpcRoutes } from "./rpc.js";

/** Where the portal's app is served, and under it, the Connect RPCs it calls. */
export const PORTAL_PATH = "/portal/";
export const PORTAL_RPC_PREFIX = "/portal/rpc";

export interface PortalRoutesOptions {
  /** The api-server transport (the same one the REST routes use). */
  transport: Transport;
  /** The built app (`portal/dist`); absent or missing: its paths answer 404 saying so, the RPCs still work. */
  dir: string | undefined;
  bodyLimitBytes: number;
  jsonLimits: JsonLimits;
  http: LanggraphHttpConfig;
  /** Sign-in with an OpenID Connect provider, when the gateway accepts its tokens. */
  oidc?: PortalOidc;
}

/** The built portal of this installation, when the workspace has one (`npm run build` makes it). */
export function defaultPortalDir(): string | undefined {
  try {
    const manifest = createRequire(import.meta.url).resolve("@langopen/portal/package.json");
    return path.join(path.dirname(manifest), "dist");
  } catch {
    return undefined;
  }
}

/**
 * The portal's page may load only what this server serves, and nothing may frame it. No inline
 * script or style: the graph view positions its nodes through the DOM's style properties, which
 * the policy does not restrict.
 */
function pageHeaders(oidc: PortalOidc | undefined): Record<string, string> {
  // Signing in with OIDC, the app fetches the provider's discovery document and exchanges its code there.
  const connect = oidc ? `connect-src 'self' ${new URL(oidc.issuer).origin}` : "connect-src 'self'";
  const policy = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    connect,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join("; ");
  return {
    "content-security-policy": policy,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
  };
}

/** The OpenID Connect provider the app offers to sign in with (authorization code with PKCE). */
export interface PortalOidc {
  issuer: string;
  clientId: string;
}

export interface PortalAppOptions {
  /** The built app (`portal/dist`); absent or missing: its paths answer 404 saying how to build it. */
  dir: string | undefined;
  /** What the app shows: one deployment's agents, or the platform's deployments (its /portal/config.json). */
  mode: "deployment" | "platform";
  /** Sign-in with an OpenID Connect provider, when the server accepts its tokens. */
  oidc?: PortalOidc;
}

/**
 * The portal's app as static files at /portal/: any other path under it answers the app's page
 * (whose router shows the view), a missing asset 404. Served by the gateway for one deployment's
 * agents and by the control plane for the platform; `/portal/config.json` tells the app which.
 */
export const portalAppPlugin: FastifyPluginAsync<PortalAppOptions> = async (fastify, options) => {
  const dir = options.dir;
  const config = {
    mode: options.mode,
    ...(options.oidc && { oidc: { issuer: options.oidc.issuer, clientId: options.oidc.clientId } }),
  };
  const headers = pageHeaders(options.oidc);
  await fastify.register(
    async (scope) => {
      scope.get("/config.json", async (_request, reply) => reply.header("cache-control", "no-cache").send(config));
      if (dir === undefined || !existsSync(path.join(dir, "index.html"))) {
        const notBuilt = async (_request: unknown, reply: FastifyReply) =>
          reply.code(404).send({ detail: "The portal is not built: run `npm run build`" });
        scope.get("/", notBuilt);
        scope.get("/*", notBuilt);
        return;
      }
      await scope.register(fastifyStatic, {
        root: dir,
        prefix: "/",
        // Files are looked up when asked for, so a rebuild is served without a restart.
        wildcard: true,
        // The headers below say how long each file may be kept.
        cacheControl: false,
        index: "index.html",
        setHeaders(res, file) {
          for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
          // Vite names assets by their content: they never change; the page always revalidates.
          const asset = file.includes(`${path.sep}assets${path.sep}`);
          res.setHeader("cache-control", asset ? "public, max-age=31536000, immutable" : "no-cache");
        },
      });
      // A view's URL (shared, bookmarked, reloaded) answers the page; its router shows the view.
      scope.setNotFoundHandler(async (request, reply) => {
        // A missing asset is missing (answering it the page would hand a script HTML); so is any non-GET.
        const method = request.method === "GET" || request.method === "HEAD";
        if (!method || request.url.startsWith(`${PORTAL_PATH}assets/`)) {
          return reply.code(404).send({ detail: "Not Found" });
        }
        reply.headers({ ...headers, "cache-control": "no-cache" });
        return reply.sendFile("index.html");
      });
    },
    { prefix: "/portal" },
  );
};

/**
 * The portal of one deployment: its app at /portal/ (portalAppPlugin), and the RPCs it makes at
 * /portal/rpc, over HTTP/1.1 as browsers speak Connect. Every RPC is authenticated as any request
 * (auth plugin) and authorized per method with the project's handlers (guards.ts) before it is
 * forwarded to the api-server.
 */
export const portalPlugin: FastifyPluginAsync<PortalRoutesOptions> = async (fastify, options) => {
  const disabled = (name: string) => options.http[`disable_${name}` as keyof LanggraphHttpConfig] === true;
  const services = PORTAL_SERVICES.filter((entry) => {
    if (entry.switch === "webhooks") return !disabled("runs") && !disabled("webhooks");
    return !disabled(entry.switch);
  });
  await fastify.register(async (scope) => {
    // Connect reads its bodies itself (within readMaxBytes); the API's JSON parser stays outside.
    scope.removeAllContentTypeParsers();
    // A path no method serves is answered without reading its body, whatever its type.
    scope.addContentTypeParser("*", (_request, _payload, done) => done(null));
    await scope.register(fastifyConnectPlugin, {
      prefix: PORTAL_RPC_PREFIX,
      routes: portalRpcRoutes(services, options.transport, {
        dropWebhooks: options.http.disable_webhooks === true,
        limits: options.jsonLimits,
      }),
      readMaxBytes: options.bodyLimitBytes,
      // The services' decoding depth: what the JSON limits refuse is answered by the check of each
      // call (InvalidArgument, naming the limit); deeper than the decoders go, Connect refuses
      // the message it cannot decode (Internal).
      binaryOptions: { recursionLimit: RPC_RECURSION_LIMIT },
      jsonOptions: { recursionLimit: RPC_RECURSION_LIMIT },
      contextValues: (request) => createContextValues().set(kFastifyRequest, request),
    });
    // A method of no portal service: Unimplemented, in Connect's shape.
    scope.all(`${PORTAL_RPC_PREFIX}/*`, async (request, reply) =>
      reply.code(404).send({ code: "unimplemented", message: `${request.url} is not a portal RPC` }),
    );
  });

  await fastify.register(portalAppPlugin, { dir: options.dir, mode: "deployment", oidc: options.oidc });
};
