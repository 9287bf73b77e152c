import { BaseConfigSchema, UrlSchema } from "@langopen/common";
import { Type, type Static } from "typebox";

/** The worker's environment. The worker itself (claiming and running runs) arrives with the run engine. */
export const WorkerConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  DATABASE_URL: UrlSchema(["postgres", "postgresql"]),
  REDIS_URL: Type.Optional(UrlSchema(["redis", "rediss"])),
  /** Comma-separated base URLs of runtime-runners. */
  RUNTIME_URLS: Type.String({ minLength: 1, default: "http://127.0.0.1:8125" }),
  WORKER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
});

export type WorkerConfig = Static<typeof WorkerConfigSchema>;
