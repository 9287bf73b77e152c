import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorBox } from "../../components/error-box";

interface ActionErrorProps {
  error: unknown;
  /** What was being done, e.g. "Could not create the deployment". */
  context: string;
  /** What a refused caller lacks, e.g. "Creating a deployment needs a developer or admin key." */
  needs?: string;
  onRetry?: () => void;
}

/** A failed action; when the key was refused, also what kind of key the action needs. */
export function ActionError({ error, context, needs, onRetry }: ActionErrorProps) {
  const denied = error instanceof ConnectError && error.code === Code.PermissionDenied;
  return (
    <div className="action-error">
      <ErrorBox error={error} context={context} onRetry={onRetry} />
      {denied && needs && <p className="hint">{needs} Sign out and sign in with such a key, or ask an admin for one.</p>}
    </div>
  );
}
