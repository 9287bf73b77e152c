import { BaseConfigSchema, InternalSecretConfigSchema, PortSchema } from "@langopen/common";
import { type Static, Type } from "typebox";

/** How builds run: shared by the builder's own process and the platform's (which embeds it). */
export const BuildSettingsSchema = Type.Object({
  BUILDER_TIMEOUT_SECONDS: Type.Integer({ minimum: 10, default: 900 }),
  BUILDER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 16, default: 2 }),
  /** npm's cache for builds (a warm one makes installs fast); absent: a scratch one per build. */
  NPM_CACHE: Type.Optional(Type.String({ minLength: 1 })),
  /** The user and group git and npm run as when the builder is started as root (65534: nobody). */
  BUILDER_UID: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, default: 65534 }),
  BUILDER_GID: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, default: 65534 }),
});

/** The user a build's tools run as: the configured one when this process is root, else none (its own). */
export function buildUserOf(settings: { BUILDER_UID: number; BUILDER_GID: number }, uid: number | undefined) {
  return uid === 0 ? { uid: settings.BUILDER_UID, gid: settings.BUILDER_GID } : undefined;
}

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
  ...BuildSettingsSchema.properties,
});

export type BuilderConfig = Static<typeof BuilderConfigSchema>;
