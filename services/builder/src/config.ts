import { BaseConfigSchema, InternalSecretConfigSchema, PortSchema } from "@langopen/common";
import { type Static, Type } from "typebox";

/** The builder as a process of its own (`node services/builder/dist/main.js`). */
export const BuilderConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  /** Callers must send the installation's secret; needed when the builder listens beyond loopback. */
  ...InternalSecretConfigSchema.properties,
  BUILDER_HOST: Type.String({ minLength: 1, default: "127.0.0.1" }),
  BUILDER_PORT: PortSchema(8131),
  /** Builds (`builds/`), bundles (`bundles/`) and the signing key (`signing-key.pem`). */
  LANGOPEN_DATA_DIR: Type.String({ minLength: 1, default: ".langopen" }),
  /** Whether builds may clone file:// URLs and local paths (only where the sources are this machine's). */
  BUILDER_ALLOW_FILE_URLS: Type.Boolean({ default: false }),
  BUILDER_TIMEOUT_SECONDS: Type.Integer({ minimum: 10, default: 900 }),
  BUILDER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 16, default: 2 }),
  /** npm's cache for builds (a warm one makes installs fast); absent: a scratch one per build. */
  NPM_CACHE: Type.Optional(Type.String({ minLength: 1 })),
});

export type BuilderConfig = Static<typeof BuilderConfigSchema>;
