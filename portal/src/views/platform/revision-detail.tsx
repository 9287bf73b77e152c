import { useQuery } from "@connectrpc/connect-query";
import { DeploymentService } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { Link, useParams } from "react-router";
import { Section } from "../../components/page";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { deploymentPath, useDeploymentContext } from "./deployment-context";
import { revisionInProgress, sourceSummary } from "./format";
import { RevisionSbom } from "./revision-sbom";
import { RollbackButton } from "./rollback";
import { RevisionStatusBadge } from "./status";

const BUSY_POLL_MS = 2_000;

/** One revision: its status, source and commit, bundle, graphs, egress and the defects its build found. */
export function RevisionDetail() {
  const { deployment } = useDeploymentContext();
  const { revisionId = "" } = useParams();
  const query = useQuery(
    DeploymentService.method.getRevision,
    { revisionId },
    {
      refetchInterval: (current) => {
        const status = current.state.data?.revision?.status;
        return status !== undefined && revisionInProgress(status) ? BUSY_POLL_MS : false;
      },
    },
  );
  return (
    <QueryView query={query} loading="Loading the revision…" errorContext="Could not load the revision">
      {({ revision }) =>
        !revision ? (
          <p className="empty">The server answered no revision.</p>
        ) : (
          <>
            <p>
              <Link to={deploymentPath(deployment, "revisions")}>All revisions</Link>
            </p>
            <Section
              title={
                <>
                  Revision {revision.number}{" "}
                  {revision.revisionId === deployment.currentRevisionId && <span className="badge badge-success">serving</span>}
                </>
              }
              actions={<RollbackButton deployment={deployment} revision={revision} />}
            >
              <dl className="facts">
                <dt>Status</dt>
                <dd>
                  <RevisionStatusBadge status={revision.status} /> {revision.statusMessage}
                </dd>
                <dt>Id</dt>
                <dd>
                  <code>{revision.revisionId}</code>
                </dd>
                <dt>Source</dt>
                <dd className="wrap">{sourceSummary(revision.source)}</dd>
                <dt>Config path</dt>
                <dd>
                  <code>{revision.source?.configPath || "langgraph.json"}</code>
                </dd>
                <dt>Commit</dt>
                <dd>{revision.commitSha ? <code>{revision.commitSha}</code> : <span className="muted">—</span>}</dd>
                <dt>Bundle</dt>
                <dd>{revision.bundleDigest ? <code>{revision.bundleDigest}</code> : <span className="muted">not built</span>}</dd>
                {revision.redeployOf && (
                  <>
                    <dt>Redeploys</dt>
                    <dd>
                      <Link to={deploymentPath(deployment, "revisions", revision.redeployOf)}>
                        <code>{revision.redeployOf}</code>
                      </Link>
                    </dd>
                  </>
                )}
                <dt>Created</dt>
                <dd>
                  <Time value={revision.createTime} absolute />
                </dd>
                <dt>Deployed</dt>
                <dd>
                  <Time value={revision.deployTime} absolute />
                </dd>
              </dl>
              <p>
                <Link to={`${deploymentPath(deployment, "logs")}?kind=build&revision=${encodeURIComponent(revision.revisionId)}`}>
                  Its build log
                </Link>
              </p>
            </Section>
            <Section title="Graphs">
              {revision.graphIds.length > 0 ? (
                <ul className="plain-list">
                  {revision.graphIds.map((graph) => (
                    <li key={graph}>
                      <code>{graph}</code>
                    </li>
                  ))}
                </ul>
              ) : (
                <p className="muted">None known yet.</p>
              )}
            </Section>
            <Section title="Egress">
              {revision.egress.length > 0 ? (
                <ul className="plain-list">
                  {revision.egress.map((destination) => (
                    <li key={destination}>
                      <code>{destination}</code>
                    </li>
                  ))}
                </ul>
              ) : (
                <p className="muted">No egress declared in its langgraph.json.</p>
              )}
            </Section>
            {revision.bundleDigest && <RevisionSbom revisionId={revision.revisionId} />}
            <Section title="Defects">
              {revision.defects.length > 0 ? (
                <ul className="defects">
                  {revision.defects.map((defect) => (
                    <li key={defect}>
                      <code>{defect}</code>
                    </li>
                  ))}
                </ul>
              ) : (
                <p className="muted">The build found none.</p>
              )}
            </Section>
          </>
        )
      }
    </QueryView>
  );
}
