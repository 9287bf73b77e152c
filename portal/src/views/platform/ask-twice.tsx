import type { ReactNode } from "react";

interface AskTwiceProps {
  /** Asking: the question with its answers shows instead of the button. */
  asking: boolean;
  onAsk: () => void;
  onCancel: () => void;
  /** The button that asks, e.g. "Revoke". */
  label: ReactNode;
  question: ReactNode;
  /** The button that does it, e.g. "Yes, revoke", and its text while it is being done. */
  confirmLabel: string;
  pendingLabel: string;
  pending: boolean;
  onConfirm: () => void;
  /** danger: both buttons red (a removal); primary: a plain button, then a primary "yes". */
  tone: "danger" | "primary";
}

/** A row's action asked twice: the button becomes a question with "yes" and Cancel. */
export function AskTwice({
  asking,
  onAsk,
  onCancel,
  label,
  question,
  confirmLabel,
  pendingLabel,
  pending,
  onConfirm,
  tone,
}: AskTwiceProps) {
  if (!asking) {
    return (
      <button
        type="button"
        className={tone === "danger" ? "button button-small button-danger" : "button button-small"}
        onClick={onAsk}
      >
        {label}
      </button>
    );
  }
  return (
    <span className="confirm">
      <span>{question}</span>
      <button type="button" className={`button button-small button-${tone}`} disabled={pending} onClick={onConfirm}>
        {pending ? pendingLabel : confirmLabel}
      </button>
      <button type="button" className="button button-small" onClick={onCancel}>
        Cancel
      </button>
    </span>
  );
}
