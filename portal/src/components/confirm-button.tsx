import { type KeyboardEvent, useEffect, useRef, useState } from "react";

interface ConfirmButtonProps {
  /** The button that asks, e.g. "Delete". */
  label: string;
  /** The question asked, e.g. "Delete the item “a”?". */
  question: string;
  /** The button that does it, e.g. "Yes, delete". */
  confirmLabel: string;
  pending?: boolean;
  pendingLabel?: string;
  disabled?: boolean;
  onConfirm: () => void;
}

/**
 * A destructive action asked twice: the button becomes a question with "yes" and "cancel".
 * Focus goes to Cancel (the safe choice), Escape cancels.
 */
export function ConfirmButton({ label, question, confirmLabel, pending, pendingLabel, disabled, onConfirm }: ConfirmButtonProps) {
  const [asking, setAsking] = useState(false);
  const cancel = useRef<HTMLButtonElement>(null);
  const ask = useRef<HTMLButtonElement>(null);
  const wasAsking = useRef(false);

  useEffect(() => {
    if (asking) cancel.current?.focus();
    else if (wasAsking.current) ask.current?.focus();
    wasAsking.current = asking;
  }, [asking]);

  if (!asking) {
    return (
      <button ref={ask} type="button" className="button button-danger" disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === "Escape") setAsking(false);
  };
  return (
    <span className="confirm">
      <span>{question}</span>
      <button type="button" className="button button-danger" disabled={pending} onClick={onConfirm} onKeyDown={onKeyDown}>
        {pending ? (pendingLabel ?? "Working…") : confirmLabel}
      </button>
      <button ref={cancel} type="button" className="button" onClick={() => setAsking(false)} onKeyDown={onKeyDown}>
        Cancel
      </button>
    </span>
  );
}
