import { useId } from "react";

interface JsonFieldProps {
  label: string;
  value: string;
  onChange: (text: string) => void;
  /** Shown under the field. */
  hint?: string;
  /** Why the text is refused (shown as an error, and the field marked invalid). */
  error?: string;
  rows?: number;
  required?: boolean;
}

/** A labelled text area for JSON, with its hint and its error tied to it for screen readers. */
export function JsonField({ label, value, onChange, hint, error, rows = 6, required }: JsonFieldProps) {
  const id = useId();
  const described = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea
        id={id}
        className="code-input"
        rows={rows}
        spellCheck={false}
        value={value}
        required={required}
        aria-invalid={error !== undefined}
        aria-describedby={described || undefined}
        onChange={(event) => onChange(event.target.value)}
      />
      {hint && (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="form-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
