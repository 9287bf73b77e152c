import {
  BaseConfigSchema,
  configDefaults,
  InternalSecretConfigSchema,
  MAX_JSON_DEPTH,
  PortSchema,
  StartupError,
  UrlListSchema,
  UrlSchema,
} from "@langopen/common";
import { type Static, Type } from "typebox";
import type { OidcSettings } from "./auth/oidc.js";
import { DEFAULT_JSON_LIMITS } from "./plugins/json-body.js";

/** Environment of the gateway process, read once by main.ts (or by a launcher that embeds the gateway). */
export const GatewayConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  /** The installation's internal secret, sent on every call to the api-servers and the auth runtime. */
  ...InternalSecretConfigSchema.properties,
  PORT: PortSchema(8123),
  HOST: Type.String({ minLength: 1, default: "127.0.0.1" }),
  /** The api-servers' gRPC endpoints, comma-separated; calls spread over them. */
  API_SERVER_URL: UrlListSchema(),
  /** Largest accepted request body; larger bodies get 413. */
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, default: 10 * 1024 * 1024 }),
  /** Most levels of nested objects and arrays in a JSON body; deeper bodies get 413. */
  LANGOPEN_JSON_MAX_DEPTH: Type.Integer({ minimum: 1, maximum: MAX_JSON_DEPTH, default: DEFAULT_JSON_LIMITS.maxDepth }),
  /** Most object keys plus array elements in a JSON body; bodies with more get 413. */
  LANGOPEN_JSON_MAX_ITEMS: Type.Integer({ minimum: 1, default: DEFAULT_JSON_LIMITS.maxItems }),
  /** Most keys in any one object of a JSON body; bodies with a larger object get 413. */
  LANGOPEN_JSON_MAX_OBJECT_KEYS: Type.Integer({ minimum: 1, default: DEFAULT_JSON_LIMITS.maxObjectKeys }),
  /** Most JSON-RPC requests in one MCP batch; larger batches get a JSON-RPC invalid-request error. */
  LANGOPEN_MCP_MAX_BATCH: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  /** Idle milliseconds after which an open event stream gets a heartbeat comment. */
  SSE_HEARTBEAT_MS: Type.Integer({ minimum: 100, default: 5_000 }),
  /** API keys accepted in `x-api-key`: `name=key` or `name=sha256:<hex>` entries, comma-separated. */
  LANGOPEN_API_KEYS: Type.Optional(Type.String()),
  /** A file of such entries, one per line (`#` comments); hashes keep the keys out of the file. */
  LANGOPEN_API_KEYS_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** The control plane that issues this deployment's API keys (instead of LANGOPEN_API_KEYS). */
  LANGOPEN_CONTROL_URL: Type.Optional(UrlSchema(["http", "https"])),
  /** The deployment this data plane serves, as the control plane knows it; with LANGOPEN_CONTROL_URL. */
  LANGOPEN_DEPLOYMENT_ID: Type.Optional(Type.String({ minLength: 1 })),
  /** The runtime serving the project's custom auth (langgraph.json `auth.path`); absent: no custom auth. */
  AUTH_RUNTIME_URL: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * The runtime serving the project's custom routes (langgraph.json `http.app`); absent: AUTH_RUNTIME_URL.
   * With neither, a project declaring `http.app` is refused at start.
   */
  HTTP_APP_RUNTIME_URL: Type.Optional(Type.String({ minLength: 1 })),
  /** How long a custom route may take to send its status and headers; longer: 504. */
  LANGOPEN_CUSTOM_ROUTE_HEAD_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 60_000 }),
  /** The project's langgraph.json, for its `http` section (CORS, `disable_*`, allowed hosts); absent: defaults. */
  LANGOPEN_CONFIG: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * Hosts requests may name in `Host` besides loopback names and the listen address, comma-separated:
   * `name`, `name:port` or `*.suffix`; `*` turns the check off (behind an ingress that routes by host).
   */
  LANGOPEN_ALLOWED_HOSTS: Type.Optional(Type.String()),
  /** Serve without authentication on a non-loopback HOST: without it the server refuses to start. */
  LANGOPEN_ALLOW_UNAUTHENTICATED: Type.Boolean({ default: false }),
  /**
   * An OpenID Connect provider whose users may sign in (the portal: authorization code with PKCE):
   * its issuer URL; with LANGOPEN_OIDC_CLIENT_ID. Its tokens are accepted as `Authorization: Bearer`.
   */
  LANGOPEN_OIDC_ISSUER: Type.Optional(UrlSchema(["http", "https"])),
  /** The client the portal signs in as at that provider (a public client: no secret). */
  LANGOPEN_OIDC_CLIENT_ID: Type.Optional(Type.String({ minLength: 1 })),
  /** The audience tokens must name; absent: the client id (the ID tokens the portal holds). */
  LANGOPEN_OIDC_AUDIENCE: Type.Optional(Type.String({ minLength: 1 })),
  /** A claim of the token holding the user's permissions (an array of strings). */
  LANGOPEN_OIDC_PERMISSIONS_CLAIM: Type.Optional(Type.String({ minLength: 1 })),
  /** The built portal app served at /portal/; absent: the workspace's `portal/dist`, when there is one. */
  LANGOPEN_PORTAL_DIR: Type.Optional(Type.String({ minLength: 1 })),
  /** Where clients reach this server (e.g. https://agents.example.com), for the URLs it hands out (A2A cards). */
  LANGOPEN_PUBLIC_URL: Type.Optional(UrlSchema(["http", "https"])),
});

export type GatewayConfig = Static<typeof GatewayConfigSchema>;

/** The defaults declared above, for callers that pass options in code (the launcher, tests). */
export const GATEWAY_DEFAULTS = configDefaults(GatewayConfigSchema);

/** The OIDC settings of a gateway's (or a launcher's) environment; both the issuer and the client, or neither. */
export function oidcSettingsOf(config: {
  LANGOPEN_OIDC_ISSUER?: string;
  LANGOPEN_OIDC_CLIENT_ID?: string;
  LANGOPEN_OIDC_AUDIENCE?: string;
  LANGOPEN_OIDC_PERMISSIONS_CLAIM?: string;
}): OidcSettings | undefined {
  const { LANGOPEN_OIDC_ISSUER: issuer, LANGOPEN_OIDC_CLIENT_ID: clientId } = config;
  if ((issuer === undefined) !== (clientId === undefined)) {
    throw new StartupError("LANGOPEN_OIDC_ISSUER and LANGOPEN_OIDC_CLIENT_ID go together: set both or neither");
  }
  if (issuer === undefined || clientId === undefined) return undefined;
  return {
    issuer,
    clientId,
    audience: config.LANGOPEN_OIDC_AUDIENCE,
    permissionsClaim: config.LANGOPEN_OIDC_PERMISSIONS_CLAIM,
  };
}
