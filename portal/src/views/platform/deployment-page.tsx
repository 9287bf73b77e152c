import { useQuery } from "@connectrpc/connect-query";
import type { Deployment } from "@langopen/gen/langopen/control/v1/deployment_pb";
import { DeploymentService } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { Link, Outlet, useParams } from "react-router";
import { Page } from "../../components/page";
import { QueryView } from "../../components/query-view";
import { Tabs } from "../../components/tabs";
import type { DeploymentContext } from "./deployment-context";
import { deploymentBusy } from "./deployments-page";
import { DeploymentStatusBadge } from "./status";

const TABS = [
  { to: "overview", label: "Overview" },
  { to: "revisions", label: "Revisions" },
  { to: "logs", label: "Logs" },
  { to: "settings", label: "Settings" },
];

/** How often the deployment is read again while it changes, and otherwise. */
const BUSY_POLL_MS = 2_000;
const IDLE_POLL_MS = 10_000;

/** One deployment (by name or id) and its tabs, each at its own URL. */
export function DeploymentPage() {
  const { deployment: idOrName = "" } = useParams();
  const query = useQuery(
    DeploymentService.method.getDeployment,
    { deployment: idOrName },
    {
      refetchInterval: (current) => {
        const deployment = current.state.data?.deployment;
        if (current.state.status === "error" || !deployment) return false;
        return deploymentBusy(deployment) ? BUSY_POLL_MS : IDLE_POLL_MS;
      },
    },
  );
  return (
    <QueryView query={query} loading="Loading the deployment…" errorContext={`Could not load the deployment ${idOrName}`}>
      {({ deployment }) =>
        deployment ? (
          <DeploymentLoaded deployment={deployment} refresh={() => void query.refetch()} />
        ) : (
          <Page title="Deployment not found">
            <p>
              The server answered no deployment. <Link to="/deployments">Back to the deployments</Link>.
            </p>
          </Page>
        )
      }
    </QueryView>
  );
}

function DeploymentLoaded({ deployment, refresh }: { deployment: Deployment; refresh: () => void }) {
  const context: DeploymentContext = { deployment, refresh };
  return (
    <Page
      title={deployment.name}
      subtitle={
        <>
          <span>
            <Link to="/deployments">Deployments</Link>
          </span>
          <DeploymentStatusBadge status={deployment.status} />
          <code>{deployment.deploymentId}</code>
        </>
      }
      actions={
        deployment.url && (
          <a className="button" href={`${deployment.url.replace(/\/+$/, "")}/portal/`} target="_blank" rel="noopener noreferrer">
            Open its portal<span className="visually-hidden"> (opens in a new tab)</span>
          </a>
        )
      }
    >
      <Tabs tabs={TABS} label="Deployment" />
      <div className="tab-panel">
        <Outlet context={context} />
      </div>
    </Page>
  );
}
