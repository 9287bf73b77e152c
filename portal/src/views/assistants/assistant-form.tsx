import { type Ref, useId } from "react";

interface NameFieldsProps {
  name: string;
  description: string;
  onName: (name: string) => void;
  onDescription: (description: string) => void;
  /** Why the name is refused. */
  nameProblem?: string;
  nameRef?: Ref<HTMLInputElement>;
}

/** An assistant's name and description, as both its forms (create, edit) ask for them. */
export function NameFields({ name, description, onName, onDescription, nameProblem, nameRef }: NameFieldsProps) {
  const id = useId();
  return (
    <>
      <div className="field">
        <label htmlFor={`${id}-name`}>Name</label>
        <input
          ref={nameRef}
          id={`${id}-name`}
          type="text"
          value={name}
          autoComplete="off"
          aria-invalid={nameProblem !== undefined}
          aria-describedby={nameProblem ? `${id}-name-error` : undefined}
          onChange={(event) => onName(event.target.value)}
        />
        {nameProblem && (
          <p id={`${id}-name-error`} className="form-error" role="alert">
            {nameProblem}
          </p>
        )}
      </div>
      <div className="field">
        <label htmlFor={`${id}-description`}>Description (optional)</label>
        <textarea id={`${id}-description`} rows={2} value={description} onChange={(event) => onDescription(event.target.value)} />
      </div>
    </>
  );
}
