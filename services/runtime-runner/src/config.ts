import { BaseConfigSchema, HexDigestSchema, PortSchema, UrlListSchema } from "@langopen/common";
import { type Static, Type } from "typebox";

/**
 * The runtime-runner's environment: where its graphs are and how to reach the data plane. It
 * takes no database or Redis credentials.
 */
export const RuntimeConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  LANGOPEN_CONFIG: Type.String({ minLength: 1 }),
  RPC_HOST: Type.String({ default: "127.0.0.1" }),
  RPC_PORT: PortSchema(8125),
  /** The api-server that serves CheckpointService and StoreService. */
  API_SERVER_URL: UrlListSchema(),
  /** A graph whose module takes longer than this to load is reported as failed (startup waits at most this long). */
  GRAPH_LOAD_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 30_000 }),
  /*
   * Split mode (no launcher): the runtime's credentials, both required. Derived from the
   * installation's secret, which the runtime never gets (it runs the user's graph code):
   * LANGOPEN_RUNTIME_TOKEN = hex HMAC-SHA256(secret, "langopen runtime v1")
   *   (`printf %s "langopen runtime v1" | openssl dgst -sha256 -hmac "$SECRET"`), and
   * LANGOPEN_INTERNAL_SECRET_SHA256 = hex SHA-256 of the secret (`printf %s "$SECRET" | sha256sum`).
   * The environment is visible to graph code until the sandbox isolates it; the token only lets it
   * read and write checkpoints and store items of the runs it executes. A launcher passes them
   * on its IPC channel instead.
   */
  /** What the runtime sends the data plane: it may read, and write for its runs only. */
  LANGOPEN_RUNTIME_TOKEN: Type.Optional(HexDigestSchema),
  /** The SHA-256 of the secret its callers (workers, api-servers, gateways) send. */
  LANGOPEN_INTERNAL_SECRET_SHA256: Type.Optional(HexDigestSchema),
});

export type RuntimeConfig = Static<typeof RuntimeConfigSchema>;
