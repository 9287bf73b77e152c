import { createConnectQueryKey, useMutation } from "@connectrpc/connect-query";
import type { Deployment, Revision } from "@langopen/gen/langopen/control/v1/deployment_pb";
import { DeploymentService } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ActionError } from "./action-error";
import { AskTwice } from "./ask-twice";

/**
 * "Roll back to this revision", confirmed first: its bundle comes back as a new revision, without
 * building. Offered for built revisions other than the one serving.
 */
export function RollbackButton({ deployment, revision }: { deployment: Deployment; revision: Revision }) {
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const rollback = useMutation(DeploymentService.method.rollback, {
    onSuccess: async () => {
      setConfirming(false);
      await queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({ schema: DeploymentService, cardinality: undefined }),
      });
    },
  });
  if (!revision.bundleDigest || revision.revisionId === deployment.currentRevisionId) return null;
  return (
    <div className="rollback">
      <AskTwice
        asking={confirming}
        onAsk={() => {
          rollback.reset();
          setConfirming(true);
        }}
        onCancel={() => setConfirming(false)}
        label={<>Roll back to #{revision.number}</>}
        question={<>Deploy revision {revision.number}'s bundle again, as a new revision?</>}
        confirmLabel="Yes, roll back"
        pendingLabel="Rolling back…"
        pending={rollback.isPending}
        onConfirm={() => rollback.mutate({ deployment: deployment.deploymentId, revisionId: revision.revisionId })}
        tone="primary"
      />
      {rollback.isSuccess && (
        <p className="hint" role="status">
          Rolling back: revision {rollback.data.revision?.number} deploys revision {revision.number}'s bundle.
        </p>
      )}
      {rollback.isError && (
        <ActionError error={rollback.error} context="Could not roll back" needs="A rollback needs a developer or admin key." />
      )}
    </div>
  );
}
