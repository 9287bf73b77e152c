import { type HealthState, type Logger, type Pool, ServingStatus } from "@langopen/common";
import { type Signals } from "@langopen/data-plane";

/** Health service names under which each dependency's reachability is reported. */
export const DEPENDENCY_SERVICES = {
  postgres: "langopen.dependency.postgres",
  redis: "langopen.dependency.redis",
} as const;

export interface DependencyHealthDeps {
  health: HealthState;
  pool: Pool;
  signals: Signals;
  logger: Logger;
  intervalMs?: number;
}

/**
 * Probes Postgres and Redis on an interval and reports each through the standard health
 * service (service names above), so `grpc.health.v1.Health/Check` and the gateway's `/ok` can
 * say which dependency is down. Returns a function that stops the probing.
 */
export function watchDependencies(deps: DependencyHealthDeps): () => void {
  const { health, pool, signals, logger } = deps;
  const last = new Map<string, boolean>();
  const report = (name: keyof typeof DEPENDENCY_SERVICES, up: boolean) => {
    health.set(DEPENDENCY_SERVICES[name], up ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    if (last.get(name) !== up) {
      if (last.has(name)) (up ? logger.info : logger.error).call(logger, { dependency: name }, up ? "Dependency is back" : "Dependency is down");
      last.set(name, up);
    }
  };
  const probe = async () => {
    const pg = pool
      .query("SELECT 1")
      .then(() => true)
      .catch(() => false);
    const redis = signals.healthy().catch(() => false);
    report("postgres", await pg);
    report("redis", await redis);
  };
  void probe();
  const timer = setInterval(() => void probe(), deps.intervalMs ?? 2_000);
  timer.unref();
  return () => clearInterval(timer);
}
