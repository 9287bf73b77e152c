// The fields the platform's forms share: a name, ref or path typed as code, a project archive to
// upload, the sandbox to run in.
import { SandboxProfile } from "@langopen/gen/langopen/control/v1/deployment_pb";
import { type ReactNode, useId } from "react";
import { SANDBOXES } from "./format";

/** The largest project archive the control plane takes (its MAX_TARBALL_BYTES, 64 MiB; a test holds them equal). */
export const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;

/** Under a field: what is wrong with it when something is, its hint otherwise (either may be absent). */
function FieldNote({ id, hint, problem }: { id: string; hint?: ReactNode; problem?: string }) {
  if (problem) {
    return (
      <p id={id} className="form-error">
        {problem}
      </p>
    );
  }
  if (hint === undefined) return null;
  return (
    <p id={id} className="hint">
      {hint}
    </p>
  );
}

interface CodeFieldProps {
  label: string;
  value: string;
  onChange: (value: string) => void;
  placeholder?: string;
  required?: boolean;
  inputMode?: "url";
  hint?: ReactNode;
  /** Shown instead of the hint, and the field marked invalid. */
  problem?: string;
}

/** A one-line text field typed as code (a name, a URL, a ref, a path): no completion, no spell check. */
export function CodeField({ label, value, onChange, placeholder, required, inputMode, hint, problem }: CodeFieldProps) {
  const id = useId();
  const noteId = `${id}-note`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="text"
        className="code-input"
        inputMode={inputMode}
        autoComplete="off"
        spellCheck={false}
        placeholder={placeholder}
        required={required}
        value={value}
        aria-invalid={problem ? true : undefined}
        aria-describedby={problem || hint !== undefined ? noteId : undefined}
        onChange={(event) => onChange(event.target.value)}
      />
      <FieldNote id={noteId} hint={hint} problem={problem} />
    </div>
  );
}

/** A project archive (.tar.gz) to upload. */
export function ArchiveField({
  label,
  onChange,
  hint,
  problem,
}: {
  label: string;
  onChange: (file: File | undefined) => void;
  hint?: ReactNode;
  problem?: string;
}) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="file"
        accept=".tar.gz,.tgz,application/gzip"
        aria-invalid={problem ? true : undefined}
        onChange={(event) => onChange(event.target.files?.[0])}
      />
      {problem ? <p className="form-error">{problem}</p> : hint !== undefined && <p className="hint">{hint}</p>}
    </div>
  );
}

/** The sandbox profile the deployment's code runs in; `unspecified`: the text of the option for none (absent: no such option). */
export function SandboxSelect({
  value,
  onChange,
  unspecified,
}: {
  value: SandboxProfile;
  onChange: (value: SandboxProfile) => void;
  unspecified?: string;
}) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>Sandbox</label>
      <select id={id} value={value} onChange={(event) => onChange(Number(event.target.value))}>
        {unspecified !== undefined && <option value={SandboxProfile.UNSPECIFIED}>{unspecified}</option>}
        {SANDBOXES.map((candidate) => (
          <option key={candidate.value} value={candidate.value}>
            {candidate.label}: {candidate.description}
          </option>
        ))}
      </select>
    </div>
  );
}
