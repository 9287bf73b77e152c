import { BaseConfigSchema, PortSchema, UrlListSchema } from "@langopen/common";
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
});

export type RuntimeConfig = Static<typeof RuntimeConfigSchema>;
