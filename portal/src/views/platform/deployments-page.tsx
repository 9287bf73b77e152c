import { useQuery } from "@connectrpc/connect-query";
import { type Deployment, DeploymentStatus } from "@langopen/gen/langopen/control/v1/deployment_pb";
import { DeploymentService } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { keepPreviousData } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { ErrorBox } from "../../components/error-box";
import { Loading } from "../../components/loading";
import { Page } from "../../components/page";
import { Pager, usePage } from "../../components/pager";
import { Time } from "../../components/time";
import { TypedSearchField, useTypedParam } from "../../components/url-filters";
import { DeleteDeploymentDialog } from "./delete-deployment";
import { sourceSummary } from "./format";
import { DeploymentStatusBadge, Trouble } from "./status";

const PAGE_SIZE = 50;
/** How long typing pauses before the search runs (and the URL changes). */
const TYPING_PAUSE_MS = 300;
/** How often the list refreshes while a deployment is on its way, and otherwise. */
const BUSY_POLL_MS = 2_000;
const IDLE_POLL_MS = 15_000;

/** Something is changing: a first revision, or a newer one than the one serving. */
export function deploymentBusy(deployment: Deployment): boolean {
  return deployment.status === DeploymentStatus.PROVISIONING || deployment.currentRevisionId !== deployment.latestRevisionId;
}

/** Failed or degraded: <Trouble> shows its message with the conditions' reasons. */
function troubled(deployment: Deployment): boolean {
  return deployment.status === DeploymentStatus.FAILED || deployment.status === DeploymentStatus.DEGRADED;
}

/** The deployments, newest first, with their status and why they fail; ?q= searches by name. */
export function DeploymentsPage() {
  const nameSearch = useTypedParam("q", TYPING_PAUSE_MS);
  const name = nameSearch.value;
  const page = usePage();
  const [deleting, setDeleting] = useState<Deployment>();

  const list = useQuery(
    DeploymentService.method.listDeployments,
    { nameContains: name, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE },
    {
      placeholderData: keepPreviousData,
      refetchInterval: (query) =>
        query.state.data?.deployments.some(deploymentBusy) ? BUSY_POLL_MS : query.state.status === "error" ? false : IDLE_POLL_MS,
    },
  );

  return (
    <Page
      title="Deployments"
      subtitle="Agents built from git and served by the platform"
      actions={
        <Link to="/deployments/new" className="button button-primary">
          New deployment
        </Link>
      }
    >
      <search className="toolbar">
        <TypedSearchField label="Name" placeholder="Search by name" search={nameSearch} />
        {list.isFetching && !list.isPending && <Loading inline label="Updating…" />}
      </search>
      {list.isPending ? (
        <Loading label="Loading deployments…" />
      ) : list.isError ? (
        <ErrorBox error={list.error} context="Could not load the deployments" onRetry={() => void list.refetch()} />
      ) : list.data.deployments.length === 0 ? (
        <p className="empty">
          {name ? (
            "No deployment matches."
          ) : (
            <>
              No deployments yet. <Link to="/deployments/new">Deploy a git repository</Link>.
            </>
          )}
        </p>
      ) : (
        <>
          <ul className="card-list" aria-label="Deployments">
            {list.data.deployments.map((deployment) => (
              <li key={deployment.deploymentId} className="card deployment-card">
                <div className="deployment-card-head">
                  <Link to={`/deployments/${encodeURIComponent(deployment.name)}/overview`} className="card-title">
                    {deployment.name}
                  </Link>
                  <DeploymentStatusBadge status={deployment.status} />
                  <button
                    type="button"
                    className="button button-small button-danger deployment-card-delete"
                    onClick={() => setDeleting(deployment)}
                  >
                    Delete <span className="visually-hidden">{deployment.name}</span>
                  </button>
                </div>
                {deployment.statusMessage && !troubled(deployment) && (
                  <p className="card-description muted">{deployment.statusMessage}</p>
                )}
                <Trouble deployment={deployment} />
                <div className="card-meta">
                  <span className="cell-wrap-text">{sourceSummary(deployment.source)}</span>
                  {deployment.conditions.length > 0 && (
                    <span>{deployment.conditions.map((condition) => `${condition.type}=${condition.status}`).join(" · ")}</span>
                  )}
                  <span>
                    created <Time value={deployment.createTime} />
                  </span>
                  <span>
                    updated <Time value={deployment.updateTime} />
                  </span>
                </div>
              </li>
            ))}
          </ul>
          <Pager page={page} pageSize={PAGE_SIZE} shown={list.data.deployments.length} />
        </>
      )}
      {deleting && (
        <DeleteDeploymentDialog
          deployment={deleting}
          onClose={() => setDeleting(undefined)}
          onDeleted={() => setDeleting(undefined)}
        />
      )}
    </Page>
  );
}
