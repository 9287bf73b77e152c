import { BaseConfigSchema, PortSchema, UrlSchema } from "@langopen/common";
import { Type, type Static } from "typebox";

/**
 * The runtime-runner's environment: where its graphs are and how to reach the data plane. It
 * takes no database or Redis credentials. The runner itself arrives with the run engine.
 */
export const RuntimeConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  LANGOPEN_CONFIG: Type.String({ minLength: 1 }),
  RPC_HOST: Type.String({ default: "127.0.0.1" }),
  RPC_PORT: PortSchema(8125),
  /** The api-server that serves CheckpointService and StoreService. */
  API_SERVER_URL: UrlSchema(["http", "https"]),
});

export type RuntimeConfig = Static<typeof RuntimeConfigSchema>;
