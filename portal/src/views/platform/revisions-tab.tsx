import { createConnectQueryKey, useMutation, useQuery } from "@connectrpc/connect-query";
import { DeploymentService } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { keepPreviousData, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { DataTable } from "../../components/data-table";
import { Pager, usePage } from "../../components/pager";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { ActionError } from "./action-error";
import { deploymentPath, useDeploymentContext } from "./deployment-context";
import { revisionInProgress, shortSha } from "./format";
import { RollbackButton } from "./rollback";
import { RevisionStatusBadge } from "./status";

const PAGE_SIZE = 25;
const BUSY_POLL_MS = 2_000;
const IDLE_POLL_MS = 15_000;

/** The deployment's revisions, newest first: status, commit, when; each one's detail, log and rollback. */
export function RevisionsTab() {
  const { deployment } = useDeploymentContext();
  const page = usePage();
  const revisions = useQuery(
    DeploymentService.method.listRevisions,
    { deployment: deployment.deploymentId, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE },
    {
      placeholderData: keepPreviousData,
      refetchInterval: (query) => {
        if (query.state.status === "error") return false;
        return query.state.data?.revisions.some((revision) => revisionInProgress(revision.status)) ? BUSY_POLL_MS : IDLE_POLL_MS;
      },
    },
  );
  return (
    <>
      <Rebuild />
      <QueryView query={revisions} loading="Loading the revisions…" errorContext="Could not load the revisions">
        {({ revisions: list }) => {
          const numbers = new Map(list.map((revision) => [revision.revisionId, revision.number]));
          return list.length === 0 ? (
            <p className="empty">No revisions.</p>
          ) : (
            <>
              <DataTable
                caption={<>Revisions of {deployment.name}, newest first</>}
                columns={["Revision", "Status", "Commit", "Created", "Deployed", "Actions"]}
              >
                {list.map((revision) => {
                  const serving = revision.revisionId === deployment.currentRevisionId;
                  return (
                    <tr key={revision.revisionId}>
                      <th scope="row">
                        <Link to={deploymentPath(deployment, "revisions", revision.revisionId)}>#{revision.number}</Link>
                        {serving && <span className="badge badge-success revision-serving">serving</span>}
                      </th>
                      <td className="cell-wrap">
                        <RevisionStatusBadge status={revision.status} />
                        {revision.statusMessage && <div className="muted">{revision.statusMessage}</div>}
                        {revision.redeployOf && (
                          <div className="muted">
                            <Link to={deploymentPath(deployment, "revisions", revision.redeployOf)}>
                              redeploys{" "}
                              {numbers.has(revision.redeployOf) ? `#${numbers.get(revision.redeployOf)}` : "a built revision"}
                            </Link>
                          </div>
                        )}
                      </td>
                      <td>
                        {revision.commitSha ? (
                          <code title={revision.commitSha}>{shortSha(revision.commitSha)}</code>
                        ) : (
                          <span className="muted">—</span>
                        )}
                      </td>
                      <td>
                        <Time value={revision.createTime} />
                      </td>
                      <td>
                        <Time value={revision.deployTime} />
                      </td>
                      <td>
                        <div className="row-actions">
                          <Link
                            to={`${deploymentPath(deployment, "logs")}?kind=build&revision=${encodeURIComponent(revision.revisionId)}`}
                          >
                            Build log<span className="visually-hidden"> of revision {revision.number}</span>
                          </Link>
                          <RollbackButton deployment={deployment} revision={revision} />
                        </div>
                      </td>
                    </tr>
                  );
                })}
              </DataTable>
              <Pager page={page} pageSize={PAGE_SIZE} shown={list.length} />
            </>
          );
        }}
      </QueryView>
    </>
  );
}

/** Builds the source again (e.g. after a push): a new revision. */
function Rebuild() {
  const { deployment, refresh } = useDeploymentContext();
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const rebuild = useMutation(DeploymentService.method.createRevision, {
    onSuccess: async () => {
      setConfirming(false);
      refresh();
      await queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({ schema: DeploymentService, cardinality: undefined }),
      });
    },
  });
  if (deployment.source?.kind.case !== "git") return null;
  const ref = deployment.source.kind.value.ref || "the default branch";
  return (
    <div className="toolbar">
      {!confirming ? (
        <button
          type="button"
          className="button"
          onClick={() => {
            rebuild.reset();
            setConfirming(true);
          }}
        >
          Build again
        </button>
      ) : (
        <span className="confirm">
          <span>Build {ref} again as a new revision?</span>
          <button
            type="button"
            className="button button-primary"
            disabled={rebuild.isPending}
            onClick={() => rebuild.mutate({ deployment: deployment.deploymentId })}
          >
            {rebuild.isPending ? "Starting…" : "Yes, build"}
          </button>
          <button type="button" className="button" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </span>
      )}
      {rebuild.isSuccess && (
        <span role="status">
          Revision {rebuild.data.revision?.number} is building:{" "}
          <Link to={deploymentPath(deployment, "logs")}>follow its log</Link>.
        </span>
      )}
      {rebuild.isError && (
        <ActionError error={rebuild.error} context="Could not start a build" needs="Building needs a developer or admin key." />
      )}
    </div>
  );
}
