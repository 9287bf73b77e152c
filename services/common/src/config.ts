import { type Static, type TObject, type TProperties, Type } from "typebox";
import { Value } from "typebox/value";

/**
 * Environment variables shared by every service. Each service extends this with its own keys
 * and reads the environment once, in its main.ts, through loadConfig.
 */
export const BaseConfigSchema = Type.Object({
  LOG_LEVEL: Type.Union(
    [
      Type.Literal("fatal"),
      Type.Literal("error"),
      Type.Literal("warn"),
      Type.Literal("info"),
      Type.Literal("debug"),
      Type.Literal("trace"),
      Type.Literal("silent"),
    ],
    { default: "info" },
  ),
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, default: 10_000 }),
});

export type BaseConfig = Static<typeof BaseConfigSchema>;

/**
 * Where a service that has no HTTP/1.1 port of its own (api-server, worker, runtime-runner)
 * serves `GET /metrics` for Prometheus. No METRICS_PORT: no metrics server.
 */
export const MetricsConfigSchema = Type.Object({
  METRICS_HOST: Type.String({ minLength: 1, default: "127.0.0.1" }),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
});

/** Thrown when the environment does not satisfy a service's config schema. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

/**
 * Validates the environment against a schema: applies defaults, converts strings to the
 * declared types, and fails with every bad variable named. Unknown variables are ignored.
 */
export function loadConfig<P extends TProperties>(
  schema: TObject<P>,
  env: Record<string, string | undefined>,
): Readonly<Static<TObject<P>>> {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const raw = env[key];
    if (raw !== undefined && raw !== "") picked[key] = raw;
  }
  const withDefaults = Value.Default(schema, picked);
  const converted = Value.Convert(schema, withDefaults);
  const problems: string[] = [];
  for (const error of Value.Errors(schema, converted)) {
    const name = error.instancePath.replace(/^\//, "") || missingName(error.params);
    const got = name && env[name] !== undefined ? ` (got ${JSON.stringify(env[name])})` : "";
    problems.push(`${name || "environment"}: ${error.message}${got}`);
  }
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  return Object.freeze(converted as Static<TObject<P>>);
}

function missingName(params: unknown): string {
  if (params && typeof params === "object" && "requiredProperties" in params) {
    const props = (params as { requiredProperties: unknown }).requiredProperties;
    if (Array.isArray(props)) return props.join(", ");
  }
  return "";
}

/**
 * The defaults a config schema declares, by variable. Code that takes an option a service's
 * environment also sets falls back to these, so each default is declared once: in the schema.
 */
export function configDefaults<P extends TProperties>(schema: TObject<P>): Readonly<Static<TObject<P>>> {
  return Object.freeze(Value.Default(schema, {}) as Static<TObject<P>>);
}

/** A TCP port, 0 meaning any free port. */
export const PortSchema = (defaultPort: number) => Type.Integer({ minimum: 0, maximum: 65535, default: defaultPort });

/** A URL with one of the given schemes. */
export const UrlSchema = (schemes: string[]) =>
  Type.String({ pattern: `^(${schemes.join("|")})://`, description: `a ${schemes.join(" or ")} URL` });

/** One or more http(s) URLs, comma-separated (replicas of a service). */
export const UrlListSchema = () =>
  Type.String({ pattern: "^https?://[^,\\s]+(\\s*,\\s*https?://[^,\\s]+)*$", description: "http URLs, comma-separated" });
