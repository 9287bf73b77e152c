import { useQuery } from "@connectrpc/connect-query";
import type { Deployment } from "@langopen/gen/langopen/control/v1/deployment_pb";
import { DeploymentService } from "@langopen/gen/langopen/control/v1/deployment_service_pb";

/** The most deployments a choice (a select) lists. */
const CHOICES = 1000;

/** Every deployment the key may see, for choices and for naming deployments by their id. */
export function useDeploymentChoices() {
  const query = useQuery(DeploymentService.method.listDeployments, { limit: CHOICES });
  const deployments: Deployment[] = query.data?.deployments ?? [];
  const names = new Map(deployments.map((deployment) => [deployment.deploymentId, deployment.name]));
  return {
    query,
    deployments: [...deployments].sort((a, b) => a.name.localeCompare(b.name)),
    nameOf: (deploymentId: string) => names.get(deploymentId),
  };
}
