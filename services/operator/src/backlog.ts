import type { LiveAgentDeployment } from "./reconcile.js";

const METRIC = "langopen_runs_runnable";

/**
 * The runnable backlog as a data plane's api-server reports it (`langopen_runs_runnable` on its
 * metrics port, the number KEDA scales the workers on), read from its Service. Undefined when it
 * does not answer in time (no replica ready yet): the status then keeps no figure rather than a wrong one.
 */
export function backlogFromMetrics(
  options: { port?: number; timeoutMs?: number; urlOf?: (agd: LiveAgentDeployment) => string } = {},
) {
  const urlOf =
    options.urlOf ??
    ((agd: LiveAgentDeployment) =>
      `http://${agd.metadata.name}-api-server.${agd.metadata.namespace}.svc:${options.port ?? 9464}/metrics`);
  return async (agd: LiveAgentDeployment): Promise<number | undefined> => {
    const res = await fetch(urlOf(agd), { signal: AbortSignal.timeout(options.timeoutMs ?? 2_000) }).catch(() => undefined);
    if (!res?.ok) return undefined;
    return sampleOf(await res.text(), METRIC);
  };
}

/** The value of an unlabelled sample in a Prometheus text exposition. */
export function sampleOf(text: string, name: string): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== " ") continue;
    const value = Number(rest.trim().split(" ")[0]);
    return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
  }
  return undefined;
}
