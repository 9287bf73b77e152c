import type { Deployment } from "@langopen/gen/langopen/control/v1/deployment_pb";
import { useOutletContext } from "react-router";

/** What a deployment's tabs share: the deployment as last read (refreshed while it changes). */
export interface DeploymentContext {
  deployment: Deployment;
  /** Reads it again now (after a change made from a tab). */
  refresh: () => void;
}

export function useDeploymentContext(): DeploymentContext {
  return useOutletContext<DeploymentContext>();
}

/** The deployment's pages, e.g. deploymentPath(d, "revisions"). */
export function deploymentPath(deployment: Deployment | string, ...rest: string[]): string {
  const name = typeof deployment === "string" ? deployment : deployment.name;
  return [`/deployments/${encodeURIComponent(name)}`, ...rest.map(encodeURIComponent)].join("/");
}
