import { Code } from "@connectrpc/connect";
import { showLogin } from "../auth/session";
import { describeError } from "../lib/errors";

interface ErrorBoxProps {
  error: unknown;
  /** Shown as a "Try again" button when given. */
  onRetry?: () => void;
  /** What was being done, e.g. "Could not load the assistants". */
  context?: string;
}

export function ErrorBox({ error, onRetry, context }: ErrorBoxProps) {
  const { title, detail, code } = describeError(error);
  return (
    <div className="error-box" role="alert">
      <p className="error-title">
        {context ? `${context}: ` : ""}
        {title}
      </p>
      <p className="error-detail">{detail}</p>
      <div className="error-actions">
        {code === Code.Unauthenticated && (
          <button type="button" className="button" onClick={showLogin}>
            Sign in
          </button>
        )}
        {onRetry && (
          <button type="button" className="button" onClick={onRetry}>
            Try again
          </button>
        )}
      </div>
    </div>
  );
}
