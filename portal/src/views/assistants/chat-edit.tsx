import { type FormEvent, type KeyboardEvent, useEffect, useId, useRef, useState } from "react";
import "./chat-edit.css";

interface MessageEditorProps {
  /** The message's text as sent. */
  text: string;
  /** A run is going on: saving would start another. */
  busy: boolean;
  onSave: (text: string) => void;
  onCancel: () => void;
}

/**
 * A human message edited in place. Saving forks the thread before the message and runs it again
 * with the new text. Enter saves, Shift+Enter starts a new line, Escape cancels.
 */
export function MessageEditor({ text, busy, onSave, onCancel }: MessageEditorProps) {
  const [draft, setDraft] = useState(text);
  const input = useRef<HTMLTextAreaElement>(null);
  const id = useId();
  const content = draft.trim();

  // Opened from its Edit button: typing goes on at the end of the text.
  useEffect(() => {
    const element = input.current;
    element?.focus();
    element?.setSelectionRange(element.value.length, element.value.length);
  }, []);

  const save = (event?: FormEvent) => {
    event?.preventDefault();
    if (content !== "" && !busy) onSave(content);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Escape") {
      event.preventDefault();
      onCancel();
    } else if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      save();
    }
  };

  return (
    <form className="chat-edit" onSubmit={save}>
      <label htmlFor={id} className="visually-hidden">
        Edited message
      </label>
      <textarea
        id={id}
        ref={input}
        rows={3}
        value={draft}
        aria-describedby={`${id}-hint`}
        onChange={(event) => setDraft(event.target.value)}
        onKeyDown={onKeyDown}
      />
      <p id={`${id}-hint`} className="chat-edit-hint muted">
        Saving runs the conversation again from here; the old branch stays in the thread's history.
      </p>
      <div className="chat-edit-actions">
        <button type="button" className="button button-small" aria-label="Cancel editing" onClick={onCancel}>
          Cancel
        </button>
        <button
          type="submit"
          className="button button-small button-primary"
          aria-label="Save the edited message"
          disabled={busy || content === ""}
        >
          Save
        </button>
      </div>
    </form>
  );
}
