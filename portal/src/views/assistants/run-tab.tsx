import { useQuery } from "@connectrpc/connect-query";
import {
  AssistantService,
  type GetAssistantGraphResponse,
  type GetAssistantSchemasResponse,
} from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { useEffect, useId, useMemo, useState } from "react";
import { useSearchParams } from "react-router";
import { ErrorBox } from "../../components/error-box";
import { Loading } from "../../components/loading";
import { decodeJson, isJsonObject } from "../../lib/json";
import { useAssistantContext } from "./assistant-context";
import { ChatView } from "./chat-view";
import { EventList } from "./event-list";
import { interruptibleNodes } from "./graph-json";
import { InputForm } from "./input-form";
import { inputHistory, rememberInput } from "./input-history";
import { GraphView } from "./lazy-graph-view";
import { DEFAULT_RUN_SETTINGS, type RunSettings, RunSettingsPanel } from "./run-settings";
import { RunSummary } from "./run-summary";
import { hasMessagesInput, schemaFields } from "./schema-form";
import { InterruptPanel, StatePanel } from "./thread-state";
import { isActive } from "./use-run";

function selectInputSchema(response: GetAssistantSchemasResponse): unknown {
  const schemas = decodeJson(response.schemasJson);
  return isJsonObject(schemas) ? schemas.input_schema : undefined;
}

function selectNodes(response: GetAssistantGraphResponse): string[] {
  return interruptibleNodes(decodeJson(response.graphJson));
}

/**
 * Runs the assistant: a chat for graphs whose input has `messages`, a form from the input
 * schema otherwise (?view=chat|form switches). ?thread= names the thread runs go to.
 */
export function RunTab() {
  const { assistant, run } = useAssistantContext();
  const [params, setParams] = useSearchParams();
  const [settings, setSettings] = useState<RunSettings>(DEFAULT_RUN_SETTINGS);
  const assistantId = assistant.assistantId;
  // Read again when the graph changes or an input was sent (rememberInput wrote it).
  const [sent, setSent] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `sent` marks a write to sessionStorage
  const inputs = useMemo(() => inputHistory(sessionStorage, assistant.graphId), [assistant.graphId, sent]);
  const schema = useQuery(
    AssistantService.method.getAssistantSchemas,
    { assistantId },
    { select: selectInputSchema, staleTime: 60_000 },
  );
  const nodes = useQuery(
    AssistantService.method.getAssistantGraph,
    { assistantId, xray: 0 },
    { select: selectNodes, staleTime: 60_000 },
  );
  const fields = useMemo(() => (schema.isSuccess ? schemaFields(schema.data) : undefined), [schema.isSuccess, schema.data]);
  const canChat = schema.isSuccess && hasMessagesInput(schema.data);
  const view = params.get("view") === "form" || !canChat ? "form" : "chat";
  const threadParam = params.get("thread") ?? undefined;

  const setParam = (name: string, value: string | undefined) => {
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        if (value === undefined) next.delete(name);
        else next.set(name, value);
        return next;
      },
      { replace: true },
    );
  };

  if (schema.isPending) return <Loading label="Loading the input schema…" />;
  if (schema.isError) {
    return <ErrorBox error={schema.error} context="Could not load the graph's schemas" onRetry={() => void schema.refetch()} />;
  }

  const settingsPanel = (
    <>
      {nodes.isError && (
        <ErrorBox error={nodes.error} context="Could not list the graph's nodes" onRetry={() => void nodes.refetch()} />
      )}
      <RunSettingsPanel settings={settings} onChange={setSettings} nodes={nodes.data ?? []} />
    </>
  );

  return (
    <div className="run-layout">
      <div className="run-main">
        {canChat && (
          <fieldset className="segmented">
            <legend className="visually-hidden">View</legend>
            <button type="button" aria-pressed={view === "chat"} onClick={() => setParam("view", undefined)}>
              Chat
            </button>
            <button type="button" aria-pressed={view === "form"} onClick={() => setParam("view", "form")}>
              Form
            </button>
          </fieldset>
        )}
        {view === "chat" ? (
          <>
            <div className="thread-bar">
              {threadParam ? (
                <span>
                  Thread <code>{threadParam}</code>
                </span>
              ) : (
                <span className="muted">A new thread starts with the first message.</span>
              )}
              <button
                type="button"
                className="button"
                disabled={!threadParam || isActive(run.state.phase)}
                onClick={() => {
                  run.reset();
                  setParam("thread", undefined);
                }}
              >
                New chat
              </button>
            </div>
            <ChatView threadId={threadParam} run={run} settings={settings} onThread={(id) => setParam("thread", id)} />
            <InterruptPanel threadId={threadParam} run={run} settings={settings} />
            {settingsPanel}
          </>
        ) : (
          <>
            <InterruptPanel threadId={threadParam ?? run.state.threadId} run={run} settings={settings} />
            <InputForm
              key={assistantId}
              fields={fields}
              busy={isActive(run.state.phase)}
              history={inputs}
              onSubmit={(input) => {
                rememberInput(sessionStorage, assistant.graphId, input);
                setSent((count) => count + 1);
                void run.start({ threadId: threadParam, input, ...settings });
              }}
            >
              <ThreadChoice threadId={threadParam} onChange={(id) => setParam("thread", id)} />
              {settingsPanel}
            </InputForm>
          </>
        )}
      </div>
      <div className="run-side">
        <RunSummary run={run} />
        <GraphView assistantId={assistantId} progress={run.state.phase === "idle" ? undefined : run.state.progress} compact />
        <EventList events={run.state.events} dropped={run.state.droppedEvents} />
        <StatePanel threadId={threadParam ?? run.state.threadId} run={run} />
      </div>
    </div>
  );
}

/** Whether runs go to a new thread each time, or to one thread (kept in ?thread=). */
function ThreadChoice({
  threadId,
  onChange,
}: {
  threadId: string | undefined;
  onChange: (threadId: string | undefined) => void;
}) {
  const [existing, setExisting] = useState(threadId !== undefined);
  const [typed, setTyped] = useState(threadId ?? "");
  const id = useId();

  // A thread chosen elsewhere (a link to ?thread=) shows here.
  // biome-ignore lint/correctness/useExhaustiveDependencies: only a change of the URL's thread counts
  useEffect(() => {
    if (threadId !== undefined && threadId !== typed.trim()) {
      setTyped(threadId);
      setExisting(true);
    }
  }, [threadId]);
  return (
    <fieldset className="thread-choice">
      <legend>Thread</legend>
      <div className="checkbox">
        <input
          id={`${id}-new`}
          type="radio"
          name={`${id}-thread`}
          checked={!existing}
          onChange={() => {
            setExisting(false);
            onChange(undefined);
          }}
        />
        <label htmlFor={`${id}-new`}>A new thread for each run</label>
      </div>
      <div className="checkbox">
        <input
          id={`${id}-existing`}
          type="radio"
          name={`${id}-thread`}
          checked={existing}
          onChange={() => {
            setExisting(true);
            if (typed.trim()) onChange(typed.trim());
          }}
        />
        <label htmlFor={`${id}-existing`}>This thread:</label>
        <input
          aria-label="Thread id"
          className="thread-id-input"
          type="text"
          value={typed}
          placeholder="thread id"
          spellCheck={false}
          onFocus={() => setExisting(true)}
          onChange={(event) => {
            setExisting(true);
            setTyped(event.target.value);
            onChange(event.target.value.trim() || undefined);
          }}
        />
      </div>
    </fieldset>
  );
}
