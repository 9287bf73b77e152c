import { ConfigError, configDefaults, loadConfig } from "@langopen/common";
import { GATEWAY_DEFAULTS } from "@langopen/gateway";
import { WORKER_DEFAULTS } from "@langopen/worker";
import { describe, expect, it } from "vitest";
import { LauncherConfigSchema } from "./config.js";

describe("the launcher's configuration", () => {
  it("takes each service's defaults as that service declares them", () => {
    const config = configDefaults(LauncherConfigSchema);
    expect(config.PORT).toBe(GATEWAY_DEFAULTS.PORT);
    expect(config.HOST).toBe(GATEWAY_DEFAULTS.HOST);
    expect(config.BODY_LIMIT_BYTES).toBe(GATEWAY_DEFAULTS.BODY_LIMIT_BYTES);
    expect(config.WORKER_CONCURRENCY).toBe(WORKER_DEFAULTS.WORKER_CONCURRENCY);
    expect(config.STREAM_RETENTION_SECONDS).toBe(WORKER_DEFAULTS.STREAM_RETENTION_SECONDS);
    expect(config.WEBHOOK_MAX_ATTEMPTS).toBe(WORKER_DEFAULTS.WEBHOOK_MAX_ATTEMPTS);
    expect(config).toMatchObject({ PORT: 8123, HOST: "127.0.0.1", BODY_LIMIT_BYTES: 10 * 1024 * 1024, WORKER_CONCURRENCY: 10 });
  });

  it("refuses what a service on its own refuses, naming the variable", () => {
    for (const env of [{ BODY_LIMIT_BYTES: "1" }, { WORKER_CONCURRENCY: "0" }, { PORT: "70000" }]) {
      const [name] = Object.keys(env);
      expect(() => loadConfig(LauncherConfigSchema, env)).toThrow(ConfigError);
      expect(() => loadConfig(LauncherConfigSchema, env)).toThrow(new RegExp(`${name}`));
    }
    expect(loadConfig(LauncherConfigSchema, { BODY_LIMIT_BYTES: "2048", WORKER_CONCURRENCY: "3" })).toMatchObject({
      BODY_LIMIT_BYTES: 2048,
      WORKER_CONCURRENCY: 3,
    });
  });
});
