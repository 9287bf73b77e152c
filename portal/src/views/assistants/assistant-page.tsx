import { useQuery } from "@connectrpc/connect-query";
import type { Assistant } from "@langopen/gen/langopen/data/v1/assistant_pb";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { Link, Outlet, useParams } from "react-router";
import { ErrorBox } from "../../components/error-box";
import { Page } from "../../components/page";
import { QueryView } from "../../components/query-view";
import { Tabs } from "../../components/tabs";
import type { AssistantContext } from "./assistant-context";
import { DeleteAssistantButton, useDeleteAssistant } from "./delete-assistant";
import { isActive, useRun } from "./use-run";
import "./assistant-admin.css";

const TABS = [
  { to: "graph", label: "Graph" },
  { to: "run", label: "Run" },
  { to: "versions", label: "Versions" },
  { to: "config", label: "Config" },
];

/** One assistant (by id, or by graph id for its graph's default assistant) and its tabs. */
export function AssistantPage() {
  const { assistantId = "" } = useParams();
  const query = useQuery(AssistantService.method.getAssistant, { assistantId });
  return (
    <QueryView query={query} loading="Loading the assistant…" errorContext="Could not load the assistant">
      {({ assistant }) =>
        assistant ? (
          // A new assistant starts with no run: its page state must not carry over.
          <AssistantLoaded key={assistant.assistantId} assistant={assistant} />
        ) : (
          <Page title="Assistant not found">
            <p>
              The server answered no assistant. <Link to="/assistants">Back to the assistants</Link>.
            </p>
          </Page>
        )
      }
    </QueryView>
  );
}

function AssistantLoaded({ assistant }: { assistant: Assistant }) {
  const run = useRun(assistant.assistantId, assistant.graphId);
  const running = isActive(run.state.phase);
  const remove = useDeleteAssistant(assistant);
  const context: AssistantContext = { assistant, run };
  return (
    <Page
      title={assistant.name || assistant.assistantId}
      subtitle={
        <>
          <span>
            <Link to="/assistants">Assistants</Link> · graph{" "}
            <Link to={`/assistants?graph=${encodeURIComponent(assistant.graphId)}`}>{assistant.graphId}</Link>
          </span>
          <code>{assistant.assistantId}</code>
          <span>version {assistant.version}</span>
        </>
      }
      actions={
        <div className="assistant-actions">
          {running && (
            <Link to="run" className="badge badge-running">
              Running…
            </Link>
          )}
          <Link to={`/assistants/new?graph=${encodeURIComponent(assistant.graphId)}`} className="button">
            New assistant
          </Link>
          <DeleteAssistantButton assistant={assistant} remove={remove} />
        </div>
      }
    >
      {remove.isError && <ErrorBox error={remove.error} context="Could not delete the assistant" />}
      <Tabs tabs={TABS} label="Assistant" />
      <div className="tab-panel">
        <Outlet context={context} />
      </div>
    </Page>
  );
}
