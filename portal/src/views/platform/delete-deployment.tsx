import { createConnectQueryKey, useMutation } from "@connectrpc/connect-query";
import type { Deployment } from "@langopen/gen/langopen/control/v1/deployment_pb";
import { DeploymentService } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { ActionError } from "./action-error";
import { Modal } from "./modal";

interface DeleteDeploymentProps {
  deployment: Deployment;
  onClose: () => void;
  onDeleted: () => void;
}

/** Deletes a deployment once its name is typed: its data plane stops and its database is dropped. */
export function DeleteDeploymentDialog({ deployment, onClose, onDeleted }: DeleteDeploymentProps) {
  const queryClient = useQueryClient();
  const [typed, setTyped] = useState("");
  const inputId = useId();
  const warningId = useId();
  const remove = useMutation(DeploymentService.method.deleteDeployment, {
    onSuccess: async () => {
      // Away from its pages first, then the lists: what showed it must not ask for it again (it is gone).
      onDeleted();
      await queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({ schema: DeploymentService.method.listDeployments, cardinality: undefined }),
      });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (typed === deployment.name) remove.mutate({ deployment: deployment.deploymentId });
  };
  return (
    <Modal title={`Delete ${deployment.name}?`} onClose={onClose} describedBy={warningId}>
      <form onSubmit={submit}>
        <p id={warningId}>
          Its data plane stops and its database, with every thread, run and stored item, is dropped. Its secrets and revisions go
          with it. This cannot be undone.
        </p>
        <div className="field">
          <label htmlFor={inputId}>
            Type <code>{deployment.name}</code> to confirm
          </label>
          <input
            id={inputId}
            type="text"
            className="code-input"
            autoComplete="off"
            spellCheck={false}
            value={typed}
            onChange={(event) => setTyped(event.target.value)}
          />
        </div>
        {remove.isError && (
          <ActionError
            error={remove.error}
            context="Could not delete the deployment"
            needs="Deleting a deployment needs a developer or admin key."
          />
        )}
        <div className="form-actions">
          <button type="submit" className="button button-danger" disabled={typed !== deployment.name || remove.isPending}>
            {remove.isPending ? "Deleting…" : "Delete deployment"}
          </button>
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Modal>
  );
}
