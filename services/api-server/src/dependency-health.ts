import type { Client } from "@connectrpc/connect";
import { Gauge, type HealthState, type Logger, type Pool, type Registry, ServingStatus } from "@langopen/common";
import type { Signals } from "@langopen/data-plane";
import type { Health } from "@langopen/gen/health/v1/health_pb";

/** Health service names under which each dependency's reachability is reported. */
export const DEPENDENCY_SERVICES = {
  postgres: "langopen.dependency.postgres",
  redis: "langopen.dependency.redis",
  runtime: "langopen.dependency.runtime",
} as const;

/** How long the runtime may take to answer its health check before it counts as down. */
const RUNTIME_CHECK_MS = 1_000;

export interface DependencyHealthDeps {
  health: HealthState;
  pool: Pool;
  signals: Signals;
  /** The runtime's health service; absent: no runtime to report (nothing is said about it). */
  runtime?: Client<typeof Health>;
  /**
   * How many runtime-runners answer through `runtime` (round robin): each probe asks that many
   * times at once, and the runtime is up when any of them serves. One busy with a CPU-bound graph
   * is not the runtime being down while another serves.
   */
  runtimeReplicas?: number;
  logger: Logger;
  intervalMs?: number;
  /** Where `langopen_dependency_up{dependency}` goes (1 up, 0 down, as last probed); absent: not exported. */
  metrics?: Registry;
}

/**
 * Probes Postgres, Redis and the runtime on an interval and reports each through the standard
 * health service (service names above), so `grpc.health.v1.Health/Check` and the gateway's `/ok`
 * and `/health` can say which dependency is down. A runtime whose graphs failed to load reports
 * NOT_SERVING, and so is down here. Returns a function that stops the probing.
 */
export function watchDependencies(deps: DependencyHealthDeps): () => void {
  const { health, pool, signals, runtime, logger } = deps;
  const last = new Map<string, boolean>();
  let stopped = false;
  const upGauge =
    deps.metrics &&
    new Gauge({
      name: "langopen_dependency_up",
      help: "1 when the dependency (postgres, redis, runtime) answered the api-server's last probe, else 0.",
      labelNames: ["dependency"] as const,
      registers: [deps.metrics],
    });
  const report = (name: keyof typeof DEPENDENCY_SERVICES, up: boolean) => {
    // A probe still in flight when the checks stopped says nothing: what it saw may be a stop.
    if (stopped) return;
    health.set(DEPENDENCY_SERVICES[name], up ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    upGauge?.set({ dependency: name }, up ? 1 : 0);
    if (last.get(name) !== up) {
      if (last.has(name))
        (up ? logger.info : logger.error).call(logger, { dependency: name }, up ? "Dependency is back" : "Dependency is down");
      last.set(name, up);
    }
  };
  const probe = async () => {
    const pg = pool
      .query("SELECT 1")
      .then(() => true)
      .catch(() => false);
    const redis = signals.healthy().catch(() => false);
    const graphs =
      runtime &&
      Promise.all(
        Array.from({ length: Math.max(1, deps.runtimeReplicas ?? 1) }, () =>
          runtime
            .check({ service: "" }, { timeoutMs: RUNTIME_CHECK_MS })
            .then((res) => res.status === ServingStatus.SERVING)
            .catch(() => false),
        ),
      ).then((answers) => answers.includes(true));
    report("postgres", await pg);
    report("redis", await redis);
    if (graphs) report("runtime", await graphs);
  };
  void probe();
  const timer = setInterval(() => void probe(), deps.intervalMs ?? 2_000);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
