import { type FormEvent, type ReactNode, useId, useState } from "react";
import { parseJsonText, prettyJson } from "../../lib/json";
import { describeInput } from "./input-history";
import { buildInput, type FormField, type FormValues, initialValues } from "./schema-form";

interface InputFormProps {
  /** The fields of the input schema; undefined: the input is entered as JSON only. */
  fields: FormField[] | undefined;
  busy: boolean;
  /** Settings shown inside the form, above its button (thread, run settings). */
  children?: ReactNode;
  /** Inputs sent before, newest first: the arrows put one back in the form, as JSON. */
  history?: readonly unknown[];
  onSubmit: (input: unknown) => void;
}

/** The run's input: a form generated from the input schema, or raw JSON. */
export function InputForm({ fields, busy, children, history = [], onSubmit }: InputFormProps) {
  const [values, setValues] = useState<FormValues>(() => initialValues(fields ?? []));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [raw, setRaw] = useState(fields === undefined);
  const [jsonText, setJsonText] = useState("{}");
  const [jsonError, setJsonError] = useState<string>();
  /** Which earlier input the form shows (0: the newest); undefined: none, the form as typed. */
  const [recalled, setRecalled] = useState<number>();
  const rawId = useId();
  const jsonId = useId();

  const recall = (index: number) => {
    setRecalled(index);
    setJsonText(prettyJson(history[index]));
    setJsonError(undefined);
    setRaw(true);
  };

  const switchToRaw = (on: boolean) => {
    if (on && fields) {
      // Start the JSON from what the form holds, when it holds something valid.
      const built = buildInput(fields, values);
      if (built.ok) setJsonText(prettyJson(built.input));
    }
    setJsonError(undefined);
    setRaw(on);
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (raw || !fields) {
      // Empty: no input, as when continuing a thread stopped at a breakpoint.
      if (jsonText.trim() === "") return onSubmit(null);
      const parsed = parseJsonText(jsonText);
      if (!parsed.ok) {
        setJsonError(parsed.error);
        return;
      }
      setJsonError(undefined);
      setRecalled(undefined);
      return onSubmit(parsed.value);
    }
    const built = buildInput(fields, values);
    if (!built.ok) {
      setErrors(built.errors);
      return;
    }
    setErrors({});
    setRecalled(undefined);
    onSubmit(built.input);
  };

  return (
    <form className="input-form" onSubmit={submit} noValidate>
      <div className="form-head">
        <h3>Input</h3>
        {history.length > 0 && (
          <fieldset className="input-history" aria-label="Earlier inputs">
            <button
              type="button"
              className="button button-small"
              aria-label="Earlier input"
              disabled={recalled === history.length - 1}
              onClick={() => recall(recalled === undefined ? 0 : recalled + 1)}
            >
              ↑
            </button>
            <button
              type="button"
              className="button button-small"
              aria-label="Later input"
              disabled={recalled === undefined || recalled === 0}
              onClick={() => recall((recalled ?? 1) - 1)}
            >
              ↓
            </button>
            <output className="muted" aria-live="polite">
              {recalled === undefined
                ? `${history.length} earlier`
                : `${recalled + 1} of ${history.length}: ${describeInput(history[recalled], 40)}`}
            </output>
          </fieldset>
        )}
        {fields && (
          <div className="checkbox">
            <input id={rawId} type="checkbox" checked={raw} onChange={(event) => switchToRaw(event.target.checked)} />
            <label htmlFor={rawId}>Edit as JSON</label>
          </div>
        )}
      </div>
      {raw || !fields ? (
        <div className="field">
          <label htmlFor={jsonId}>Input (JSON)</label>
          {!fields && <p className="hint">The graph's input schema has no fields to fill in: write the input as JSON.</p>}
          <textarea
            id={jsonId}
            className="code-input"
            rows={8}
            spellCheck={false}
            value={jsonText}
            aria-invalid={jsonError !== undefined}
            aria-describedby={jsonError ? `${jsonId}-error` : `${jsonId}-hint`}
            onChange={(event) => {
              setJsonText(event.target.value);
              if (jsonError) setJsonError(undefined);
            }}
            onBlur={() => {
              if (jsonText.trim() !== "") {
                const parsed = parseJsonText(jsonText);
                setJsonError(parsed.ok ? undefined : parsed.error);
              }
            }}
          />
          {jsonError ? (
            <p id={`${jsonId}-error`} className="form-error">
              Not valid JSON: {jsonError}
            </p>
          ) : (
            <p id={`${jsonId}-hint`} className="hint">
              Leave empty to run without input (to continue a thread from where it stopped).
            </p>
          )}
        </div>
      ) : fields.length === 0 ? (
        <p className="muted">This graph takes no input fields.</p>
      ) : (
        <>
          {fields.some((field) => field.anyValue) && (
            <p className="hint form-intro">Fields of no set type take any value: JSON is sent as such, other text as a string.</p>
          )}
          {fields.map((field) => (
            <FieldInput
              key={field.name}
              field={field}
              value={values[field.name]}
              error={errors[field.name]}
              onChange={(value) => setValues((current) => ({ ...current, [field.name]: value }))}
            />
          ))}
        </>
      )}
      {children}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? "Running…" : "Start run"}
        </button>
      </div>
    </form>
  );
}

function FieldInput({
  field,
  value,
  error,
  onChange,
}: {
  field: FormField;
  value: string | boolean | undefined;
  error?: string;
  onChange: (value: string | boolean) => void;
}) {
  const id = useId();
  const describedBy = [field.description ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
  const text = typeof value === "string" ? value : "";
  const common = { id, "aria-invalid": error !== undefined, "aria-describedby": describedBy, "aria-required": field.required };
  const label = (
    <label htmlFor={id}>
      {field.label}
      {field.required && <span aria-hidden="true"> *</span>} <code className="field-name">{field.name}</code>
    </label>
  );
  let control: ReactNode;
  switch (field.kind) {
    case "boolean":
      return (
        <div className="field">
          <div className="checkbox">
            <input {...common} type="checkbox" checked={value === true} onChange={(event) => onChange(event.target.checked)} />
            {label}
          </div>
          {field.description && (
            <p id={`${id}-hint`} className="hint">
              {field.description}
            </p>
          )}
        </div>
      );
    case "enum":
      control = (
        <select {...common} value={text} onChange={(event) => onChange(event.target.value)}>
          <option value="">{field.required ? "Choose…" : "(none)"}</option>
          {(field.options ?? []).map((option) => (
            <option key={JSON.stringify(option)} value={JSON.stringify(option)}>
              {typeof option === "string" ? option : JSON.stringify(option)}
            </option>
          ))}
        </select>
      );
      break;
    case "number":
    case "integer":
      control = (
        <input
          {...common}
          type="number"
          step={field.kind === "integer" ? 1 : "any"}
          value={text}
          onChange={(event) => onChange(event.target.value)}
        />
      );
      break;
    case "messages":
      control = (
        <textarea
          {...common}
          rows={3}
          value={text}
          placeholder="A message from the user"
          onChange={(event) => onChange(event.target.value)}
        />
      );
      break;
    case "json":
      control = (
        <textarea
          {...common}
          className="code-input"
          rows={field.anyValue ? 2 : 3}
          spellCheck={false}
          value={text}
          placeholder={field.anyValue ? "Text, or any JSON value" : "JSON"}
          onChange={(event) => onChange(event.target.value)}
        />
      );
      break;
    default:
      control = <input {...common} type="text" value={text} onChange={(event) => onChange(event.target.value)} />;
  }
  return (
    <div className="field">
      {label}
      {field.kind === "messages" && <p className="hint">Sent as one user message.</p>}
      {control}
      {field.description && (
        <p id={`${id}-hint`} className="hint">
          {field.description}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="form-error">
          {error}
        </p>
      )}
    </div>
  );
}
