import { BaseConfigSchema, configDefaults, PortSchema, UrlListSchema } from "@langopen/common";
import { type Static, Type } from "typebox";

/** Environment of the gateway process, read once by main.ts (or by a launcher that embeds the gateway). */
export const GatewayConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  PORT: PortSchema(8123),
  HOST: Type.String({ minLength: 1, default: "127.0.0.1" }),
  /** The api-servers' gRPC endpoints, comma-separated; calls spread over them. */
  API_SERVER_URL: UrlListSchema(),
  /** Largest accepted request body; larger bodies get 413. */
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, default: 10 * 1024 * 1024 }),
  /** Idle milliseconds after which an open event stream gets a heartbeat comment. */
  SSE_HEARTBEAT_MS: Type.Integer({ minimum: 100, default: 5_000 }),
  /** API keys accepted in `x-api-key`: `name=key` or `name=sha256:<hex>` entries, comma-separated. */
  LANGOPEN_API_KEYS: Type.Optional(Type.String()),
  /** A file of such entries, one per line (`#` comments); hashes keep the keys out of the file. */
  LANGOPEN_API_KEYS_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** The runtime serving the project's custom auth (langgraph.json `auth.path`); absent: no custom auth. */
  AUTH_RUNTIME_URL: Type.Optional(Type.String({ minLength: 1 })),
});

export type GatewayConfig = Static<typeof GatewayConfigSchema>;

/** The defaults declared above, for callers that pass options in code (the launcher, tests). */
export const GATEWAY_DEFAULTS = configDefaults(GatewayConfigSchema);
