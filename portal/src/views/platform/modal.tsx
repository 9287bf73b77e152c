import { type ReactNode, useEffect, useId, useRef } from "react";

interface ModalProps {
  title: ReactNode;
  /** Escape, or a button of the caller's. */
  onClose: () => void;
  children: ReactNode;
  /** Describes the dialog for assistive technologies (an id inside `children`). */
  describedBy?: string;
}

/** A modal dialog: focus moves into it and stays there until it closes (the browser's <dialog>). */
export function Modal({ title, onClose, children, describedBy }: ModalProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();

  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    return () => element?.close();
  }, []);

  return (
    <dialog
      ref={dialog}
      className="platform-dialog"
      aria-labelledby={titleId}
      aria-describedby={describedBy}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      <h2 id={titleId}>{title}</h2>
      {children}
    </dialog>
  );
}
