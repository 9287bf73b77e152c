import {
  BaseConfigSchema,
  configDefaults,
  InternalSecretConfigSchema,
  PortSchema,
  UrlListSchema,
  UrlSchema,
} from "@langopen/common";
import { type Static, Type } from "typebox";

export const ApiServerConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  /** Required (one of them): callers must send the secret, the runtime its token derived from it. */
  ...InternalSecretConfigSchema.properties,
  DATABASE_URL: UrlSchema(["postgres", "postgresql"]),
  /** Absent: signals stay in this process (only useful when the worker runs in it too). */
  REDIS_URL: Type.Optional(UrlSchema(["redis", "rediss"])),
  /** The runtime-runner answering graph-aware questions. */
  RUNTIME_URL: Type.Optional(UrlListSchema()),
  RPC_HOST: Type.String({ default: "127.0.0.1" }),
  RPC_PORT: PortSchema(8124),
  /** The langgraph.json whose graphs get default assistants. */
  LANGOPEN_CONFIG: Type.Optional(Type.String({ minLength: 1 })),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 500, default: 10 }),
  STORE_REFRESH_TTL_ON_READ: Type.Boolean({ default: true }),
});

export type ApiServerConfig = Static<typeof ApiServerConfigSchema>;

/** The defaults declared above, for callers that pass options in code (the launcher, tests). */
export const API_SERVER_DEFAULTS = configDefaults(ApiServerConfigSchema);
