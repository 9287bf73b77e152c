import type { JsonObject } from "@bufbuild/protobuf";
import { createConnectQueryKey, useMutation } from "@connectrpc/connect-query";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ErrorBox } from "../../components/error-box";
import { JsonField } from "../../components/json-field";
import { JsonView } from "../../components/json-view";
import { Section } from "../../components/page";
import { isJsonObject, parseJsonText, prettyJson } from "../../lib/json";
import { useAssistantContext } from "./assistant-context";
import { DetailsSection } from "./details-section";

/** The assistant's details (name, description, metadata), config and context, each edited on its own (each save is a new version). */
export function ConfigTab() {
  const { assistant } = useAssistantContext();
  return (
    <>
      <DetailsSection />
      <EditableJson field="config" title="Config" value={assistant.config ?? {}} />
      <EditableJson field="context" title="Context" value={assistant.context ?? {}} />
    </>
  );
}

function EditableJson({ field, title, value }: { field: "config" | "context"; title: string; value: JsonObject }) {
  const { assistant } = useAssistantContext();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState("");
  const [error, setError] = useState<string>();
  const update = useMutation(AssistantService.method.updateAssistant, {
    onSuccess: async () => {
      setEditing(false);
      await queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({ schema: AssistantService, cardinality: undefined }),
      });
    },
  });

  const save = () => {
    const parsed = parseJsonText(text);
    if (!parsed.ok) return setError(`Not valid JSON: ${parsed.error}`);
    if (!isJsonObject(parsed.value)) return setError(`The ${field} must be a JSON object.`);
    setError(undefined);
    update.mutate({ assistantId: assistant.assistantId, [field]: parsed.value as JsonObject });
  };

  return (
    <Section
      title={title}
      actions={
        !editing && (
          <button
            type="button"
            className="button"
            onClick={() => {
              setText(prettyJson(value));
              setError(undefined);
              update.reset();
              setEditing(true);
            }}
          >
            Edit {field}
          </button>
        )
      }
    >
      {editing ? (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            save();
          }}
        >
          <JsonField
            label={`${title} (JSON object)`}
            value={text}
            onChange={setText}
            hint={`Saving replaces the whole ${field} and makes a new version of the assistant.`}
            error={error}
            rows={12}
          />
          {update.isError && <ErrorBox error={update.error} context={`Could not save the ${field}`} />}
          <div className="form-actions">
            <button type="submit" className="button button-primary" disabled={update.isPending}>
              {update.isPending ? "Saving…" : "Save"}
            </button>
            <button type="button" className="button" onClick={() => setEditing(false)} disabled={update.isPending}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <JsonView value={value} />
      )}
    </Section>
  );
}
