import { BuildSettingsSchema } from "@langopen/builder";
import { BaseConfigSchema, MetricsConfigSchema, PortSchema, UrlSchema } from "@langopen/common";
import { type Static, Type } from "typebox";

/** `npm run platform`: the control plane, the builder and the local driver in one process. */
export const PlatformConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  /** METRICS_HOST and METRICS_PORT: /metrics over HTTP/1.1 (the RPC port speaks h2c). */
  ...MetricsConfigSchema.properties,
  CONTROL_HOST: Type.String({ default: "127.0.0.1" }),
  /** The control plane's Connect/gRPC port (the CLI's LANGOPEN_CONTROL_URL). */
  CONTROL_PORT: PortSchema(8130),
  /** The portal's port (HTTP/1.1, on CONTROL_HOST): the app at /portal/ and the calls it makes. */
  PORTAL_PORT: PortSchema(8131),
  /** The built portal app; absent: the workspace's `portal/dist`, when there is one. */
  LANGOPEN_PORTAL_DIR: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * An OpenID Connect provider whose users may use the platform (the portal signs in there: authorization
   * code with PKCE): its issuer URL; with LANGOPEN_OIDC_CLIENT_ID. Its tokens are accepted as `Authorization: Bearer`.
   */
  LANGOPEN_OIDC_ISSUER: Type.Optional(UrlSchema(["http", "https"])),
  /** The client the portal signs in as at that provider (a public client: no secret). */
  LANGOPEN_OIDC_CLIENT_ID: Type.Optional(Type.String({ minLength: 1 })),
  /** The audience tokens must name; absent: the client id (the ID tokens the portal holds). */
  LANGOPEN_OIDC_AUDIENCE: Type.Optional(Type.String({ minLength: 1 })),
  /** The claim of a token holding the user's platform role: viewer, developer or admin (any case). */
  LANGOPEN_OIDC_ROLE_CLAIM: Type.String({ minLength: 1, default: "langopen_role" }),
  /** A Postgres for the platform (it needs CREATEDB and CREATEROLE for deployments' databases); absent: an embedded one. */
  DATABASE_URL: Type.Optional(UrlSchema(["postgres", "postgresql"])),
  /** Where the platform keeps its Postgres, keys, bundles, builds and deployments' folders. */
  LANGOPEN_PLATFORM_DIR: Type.String({ default: ".langopen-platform" }),
  /** The first admin key (at least 32 characters), used when the platform has no key yet; absent: one is generated and printed once. */
  LANGOPEN_ADMIN_KEY: Type.Optional(Type.String({ minLength: 32 })),
  /** The key secrets are encrypted with (32 bytes, base64 or hex); absent: LANGOPEN_SECRETS_KEY_FILE, else one made in the platform folder. */
  LANGOPEN_SECRETS_KEY: Type.Optional(Type.String({ minLength: 32 })),
  LANGOPEN_SECRETS_KEY_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** Whether builds may clone file:// URLs and local paths; absent: only when the control plane listens on loopback. */
  BUILDER_ALLOW_FILE_URLS: Type.Optional(Type.Boolean()),
  ...BuildSettingsSchema.properties,
  /** The sandbox of deployments that choose none (kata: Kubernetes only). */
  LANGOPEN_DEFAULT_SANDBOX: Type.Union(
    [Type.Literal("node"), Type.Literal("gvisor"), Type.Literal("none"), Type.Literal("kata")],
    {
      default: "node",
    },
  ),
  /** How long a data plane may drain its runs when a revision replaces it. */
  LANGOPEN_DRAIN_MS: Type.Integer({ minimum: 0, default: 10_000 }),
  /** How long data planes may cache the answer about an API key (a revoked key works at most this long). */
  LANGOPEN_KEY_CACHE_SECONDS: Type.Integer({ minimum: 0, maximum: 3_600, default: 10 }),
  /** What runs deployments: processes on this machine, or AgentDeployment resources an operator runs on Kubernetes. */
  LANGOPEN_DRIVER: Type.Union([Type.Literal("local"), Type.Literal("kubernetes")], { default: "local" }),
  /** Where the AgentDeployments and their Secrets go; absent: the pod's own namespace, else "default". */
  LANGOPEN_KUBE_NAMESPACE: Type.Optional(Type.String({ pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", maxLength: 63 })),
  /** A Secret in that namespace holding the Redis URL data planes use; absent: none (each data plane signals in process). */
  LANGOPEN_KUBE_REDIS_SECRET: Type.Optional(Type.String({ pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", maxLength: 253 })),
  /** The key of that Secret holding the URL. */
  LANGOPEN_KUBE_REDIS_SECRET_KEY: Type.String({ pattern: "^[-._a-zA-Z0-9]+$", default: "url" }),
  /** The ConfigMap the platform's public key is written to (data planes verify bundles with it). */
  LANGOPEN_PUBLIC_KEY_CONFIGMAP: Type.String({ pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", default: "langopen-signing-key" }),
  /** The control plane's URL as data planes reach it (bundles, API keys); absent: http://CONTROL_HOST:CONTROL_PORT. */
  LANGOPEN_PUBLIC_CONTROL_URL: Type.Optional(UrlSchema(["http", "https"])),
});

export type PlatformConfig = Static<typeof PlatformConfigSchema>;
