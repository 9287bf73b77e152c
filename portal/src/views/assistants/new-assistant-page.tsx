import { createConnectQueryKey, useMutation, useQuery } from "@connectrpc/connect-query";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { ErrorBox } from "../../components/error-box";
import { JsonField } from "../../components/json-field";
import { Page } from "../../components/page";
import { createAssistantRequest, type NewAssistantFields, type NewAssistantProblems } from "./assistant-fields";
import { NameFields } from "./assistant-form";
import "./assistant-admin.css";

type TextFields = Omit<NewAssistantFields, "graphId">;

/** Creates an assistant (/assistants/new?graph=…, the graph kept in the URL), then opens it. */
export function NewAssistantPage() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const id = useId();
  const graphId = params.get("graph") ?? "";
  const [fields, setFields] = useState<TextFields>({ name: "", description: "", configurable: "", context: "", metadata: "" });
  const [problems, setProblems] = useState<NewAssistantProblems>({});
  // Every graph has a default assistant made by the server: their graph ids are the graphs served.
  const graphs = useQuery(AssistantService.method.searchAssistants, { metadata: { created_by: "system" }, limit: 1000 });
  const graphIds = [...new Set([...(graphs.data?.assistants.map((a) => a.graphId) ?? []), ...(graphId ? [graphId] : [])])].sort();
  const create = useMutation(AssistantService.method.createAssistant, {
    onSuccess: (response) => {
      void queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({ schema: AssistantService, cardinality: undefined }),
      });
      if (response.assistant) navigate(`/assistants/${encodeURIComponent(response.assistant.assistantId)}/graph`);
    },
  });
  const set = (name: keyof TextFields) => (value: string) => setFields((current) => ({ ...current, [name]: value }));
  const listPath = graphId ? `/assistants?graph=${encodeURIComponent(graphId)}` : "/assistants";

  return (
    <Page title="New assistant" subtitle={<Link to={listPath}>Assistants</Link>}>
      <form
        className="assistant-form"
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          const result = createAssistantRequest({ ...fields, graphId });
          if (!result.ok) {
            setProblems(result.problems);
            return;
          }
          setProblems({});
          create.mutate(result.request);
        }}
      >
        <div className="field">
          <label htmlFor={`${id}-graph`}>Graph</label>
          <select
            id={`${id}-graph`}
            value={graphId}
            aria-invalid={problems.graphId !== undefined}
            aria-describedby={problems.graphId ? `${id}-graph-error` : undefined}
            onChange={(event) => setParams(event.target.value ? { graph: event.target.value } : {}, { replace: true })}
          >
            <option value="">{graphs.isPending ? "Loading the graphs…" : "Choose a graph"}</option>
            {graphIds.map((graph) => (
              <option key={graph} value={graph}>
                {graph}
              </option>
            ))}
          </select>
          {graphs.isError && <ErrorBox error={graphs.error} context="Could not list the graphs" />}
          {problems.graphId && (
            <p id={`${id}-graph-error`} className="form-error" role="alert">
              {problems.graphId}
            </p>
          )}
        </div>
        <NameFields
          name={fields.name}
          description={fields.description}
          onName={set("name")}
          onDescription={set("description")}
          nameProblem={problems.name}
        />
        <JsonField
          label="Configurable (JSON object, optional)"
          value={fields.configurable}
          onChange={set("configurable")}
          hint='Sent as the config’s “configurable”: the values the graph reads when it runs, e.g. {"model": "small"}.'
          error={problems.configurable}
          rows={5}
        />
        <JsonField
          label="Context (JSON object, optional)"
          value={fields.context}
          onChange={set("context")}
          hint="The run context of graphs that declare a context schema."
          error={problems.context}
          rows={3}
        />
        <JsonField
          label="Metadata (JSON object, optional)"
          value={fields.metadata}
          onChange={set("metadata")}
          hint="Searchable labels, e.g. the team that owns it."
          error={problems.metadata}
          rows={3}
        />
        {create.isError && <ErrorBox error={create.error} context="Could not create the assistant" />}
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={create.isPending}>
            {create.isPending ? "Creating…" : "Create assistant"}
          </button>
          <Link to={listPath} className="button">
            Cancel
          </Link>
        </div>
      </form>
    </Page>
  );
}
