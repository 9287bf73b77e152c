import { useMutation } from "@connectrpc/connect-query";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import { useEffect, useId, useRef, useState } from "react";
import { ErrorBox } from "../../components/error-box";
import { JsonField } from "../../components/json-field";
import { Section } from "../../components/page";
import { encodeJson, isJsonObject, parseJsonText, prettyJson } from "../../lib/json";
import { formatNamespace, parseNamespace } from "./namespaces";

interface PutFormProps {
  namespace: string[];
  /** Editing an item: its key (and value) to start from. */
  itemKey?: string;
  value?: unknown;
  onCancel: () => void;
  onSaved: (namespace: string[], key: string) => void;
}

/** Puts an item: a namespace, a key, and a JSON object; an existing item at that address is replaced. */
export function PutForm({ namespace, itemKey, value, onCancel, onSaved }: PutFormProps) {
  const id = useId();
  const [namespaceText, setNamespaceText] = useState(namespace.length > 0 ? formatNamespace(namespace) : "");
  const [key, setKey] = useState(itemKey ?? "");
  const [valueText, setValueText] = useState(value === undefined ? "{}" : prettyJson(value));
  const [problems, setProblems] = useState<{ namespace?: string; key?: string; value?: string }>({});
  const put = useMutation(StoreService.method.putItem);
  const first = useRef<HTMLInputElement>(null);

  useEffect(() => first.current?.focus(), []);

  const submit = () => {
    const parsedNamespace = parseNamespace(namespaceText);
    const parsedValue = parseJsonText(valueText);
    const found = {
      namespace: parsedNamespace.ok ? undefined : parsedNamespace.error,
      key: key.trim() === "" ? "Enter a key." : undefined,
      value: !parsedValue.ok
        ? `Not valid JSON: ${parsedValue.error}`
        : !isJsonObject(parsedValue.value)
          ? 'An item\'s value is a JSON object, e.g. {"text": "…"}.'
          : undefined,
    };
    setProblems(found);
    if (!parsedNamespace.ok || !parsedValue.ok || found.key || found.value) return;
    const labels = parsedNamespace.value;
    put.mutate(
      { namespace: labels, key: key.trim(), valueJson: encodeJson(parsedValue.value) },
      { onSuccess: () => onSaved(labels, key.trim()) },
    );
  };

  return (
    <Section title={itemKey ? `Edit the item “${itemKey}”` : "Put an item"}>
      <form
        className="put-form"
        onSubmit={(event) => {
          event.preventDefault();
          submit();
        }}
        onKeyDown={(event) => {
          if (event.key === "Escape") onCancel();
        }}
      >
        <div className="form-row">
          <div className="field field-grow">
            <label htmlFor={`${id}-ns`}>Namespace</label>
            <input
              ref={first}
              id={`${id}-ns`}
              type="text"
              value={namespaceText}
              placeholder="users/alice"
              spellCheck={false}
              aria-invalid={problems.namespace !== undefined}
              aria-describedby={`${id}-ns-hint${problems.namespace ? ` ${id}-ns-error` : ""}`}
              onChange={(event) => setNamespaceText(event.target.value)}
            />
            <p id={`${id}-ns-hint`} className="hint">
              Labels separated by “/”, or a JSON array of labels.
            </p>
            {problems.namespace && (
              <p id={`${id}-ns-error`} className="form-error">
                {problems.namespace}
              </p>
            )}
          </div>
          <div className="field field-grow">
            <label htmlFor={`${id}-key`}>Key</label>
            <input
              id={`${id}-key`}
              type="text"
              value={key}
              spellCheck={false}
              aria-invalid={problems.key !== undefined}
              aria-describedby={problems.key ? `${id}-key-error` : undefined}
              onChange={(event) => setKey(event.target.value)}
            />
            {problems.key && (
              <p id={`${id}-key-error`} className="form-error">
                {problems.key}
              </p>
            )}
          </div>
        </div>
        <JsonField label="Value (JSON object)" value={valueText} onChange={setValueText} error={problems.value} rows={8} />
        {put.isError && <ErrorBox error={put.error} context="Could not put the item" />}
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={put.isPending}>
            {put.isPending ? "Saving…" : "Save item"}
          </button>
          <button type="button" className="button" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </form>
    </Section>
  );
}
