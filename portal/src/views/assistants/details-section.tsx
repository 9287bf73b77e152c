import { createConnectQueryKey, useMutation } from "@connectrpc/connect-query";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { ErrorBox } from "../../components/error-box";
import { JsonField } from "../../components/json-field";
import { JsonView } from "../../components/json-view";
import { Section } from "../../components/page";
import { useAssistantContext } from "./assistant-context";
import { type DetailFields, type DetailProblems, detailFieldsOf, updateAssistantRequest } from "./assistant-fields";
import { NameFields } from "./assistant-form";
import "./assistant-admin.css";

/** The assistant's name, description and metadata; editing them saves one new version. */
export function DetailsSection() {
  const { assistant } = useAssistantContext();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [fields, setFields] = useState<DetailFields>(() => detailFieldsOf(assistant));
  const [problems, setProblems] = useState<DetailProblems>({});
  const nameInput = useRef<HTMLInputElement>(null);
  const editButton = useRef<HTMLButtonElement>(null);
  const wasEditing = useRef(false);
  const update = useMutation(AssistantService.method.updateAssistant, {
    onSuccess: async () => {
      setEditing(false);
      await queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({ schema: AssistantService, cardinality: undefined }),
      });
    },
  });

  // The form replaces the button: focus goes to its first field, and back to the button after.
  useEffect(() => {
    if (editing) nameInput.current?.focus();
    else if (wasEditing.current) editButton.current?.focus();
    wasEditing.current = editing;
  }, [editing]);

  const set = (name: keyof DetailFields) => (value: string) => setFields((current) => ({ ...current, [name]: value }));
  const save = () => {
    const result = updateAssistantRequest(assistant, fields);
    if (!result.ok) return setProblems(result.problems);
    setProblems({});
    if (result.request) update.mutate(result.request);
    else setEditing(false);
  };

  return (
    <Section
      title="Details"
      actions={
        !editing && (
          <button
            ref={editButton}
            type="button"
            className="button"
            onClick={() => {
              setFields(detailFieldsOf(assistant));
              setProblems({});
              update.reset();
              setEditing(true);
            }}
          >
            Edit details
          </button>
        )
      }
    >
      {editing ? (
        <form
          className="assistant-form"
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            save();
          }}
          onKeyDown={(event) => {
            if (event.key === "Escape" && !update.isPending) setEditing(false);
          }}
        >
          <NameFields
            name={fields.name}
            description={fields.description}
            onName={set("name")}
            onDescription={set("description")}
            nameProblem={problems.name}
            nameRef={nameInput}
          />
          <JsonField
            label="Metadata (JSON object)"
            value={fields.metadata}
            onChange={set("metadata")}
            hint="Merged into the metadata the server holds: keys are added or changed, never removed (set one to null instead)."
            error={problems.metadata}
            rows={6}
          />
          {update.isError && <ErrorBox error={update.error} context="Could not save the details" />}
          <p className="hint">Saving makes a new version of the assistant.</p>
          <div className="form-actions">
            <button type="submit" className="button button-primary" disabled={update.isPending}>
              {update.isPending ? "Saving…" : "Save details"}
            </button>
            <button type="button" className="button" onClick={() => setEditing(false)} disabled={update.isPending}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <dl className="facts">
          <dt>Name</dt>
          <dd>{assistant.name}</dd>
          <dt>Description</dt>
          <dd>{assistant.description || <span className="muted">none</span>}</dd>
          <dt>Metadata</dt>
          <dd>
            <JsonView value={assistant.metadata ?? {}} />
          </dd>
        </dl>
      )}
    </Section>
  );
}
