import { createConnectQueryKey, useMutation, useQuery } from "@connectrpc/connect-query";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { CronService } from "@langopen/gen/langopen/data/v1/cron_service_pb";
import { useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { ErrorBox } from "../../components/error-box";
import { JsonField } from "../../components/json-field";
import { Page } from "../../components/page";
import { type CronFields, type CronProblems, cronRequest } from "./cron-form";
import { cronPath } from "./crons-page";

/** Creates a cron (/crons/new; ?assistant= and ?thread= fill the form): an assistant run on a schedule. */
export function NewCronPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const id = useId();
  const [fields, setFields] = useState<CronFields>({
    assistantId: params.get("assistant") ?? "",
    threadId: params.get("thread") ?? "",
    schedule: "",
    timezone: "",
    input: "",
    metadata: "",
    enabled: true,
  });
  const [problems, setProblems] = useState<CronProblems>({});
  const assistants = useQuery(AssistantService.method.searchAssistants, { limit: 200 });
  const create = useMutation(CronService.method.createCron, {
    onSuccess: (response) => {
      void queryClient.invalidateQueries({ queryKey: createConnectQueryKey({ schema: CronService, cardinality: undefined }) });
      if (response.cron) navigate(cronPath(response.cron.cronId));
    },
  });
  const set = <K extends keyof CronFields>(name: K, value: CronFields[K]) =>
    setFields((current) => ({ ...current, [name]: value }));

  const described = (name: keyof CronFields, hint?: boolean) =>
    [hint ? `${id}-${name}-hint` : "", problems[name] ? `${id}-${name}-error` : ""].filter(Boolean).join(" ") || undefined;
  const problem = (name: keyof CronFields) =>
    problems[name] && (
      <p id={`${id}-${name}-error`} className="form-error">
        {problems[name]}
      </p>
    );

  const known = assistants.data?.assistants ?? [];
  const chosenKnown = fields.assistantId === "" || known.some((assistant) => assistant.assistantId === fields.assistantId);

  return (
    <Page title="New cron" subtitle={<Link to="/crons">Crons</Link>}>
      <form
        className="cron-form"
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          const result = cronRequest(fields);
          if (!result.ok) {
            setProblems(result.problems);
            return;
          }
          setProblems({});
          create.mutate(result.request);
        }}
      >
        <div className="field">
          <label htmlFor={`${id}-assistantId`}>Assistant</label>
          <select
            id={`${id}-assistantId`}
            value={fields.assistantId}
            aria-invalid={problems.assistantId !== undefined}
            aria-describedby={described("assistantId")}
            onChange={(event) => set("assistantId", event.target.value)}
          >
            <option value="">{assistants.isPending ? "Loading the assistants…" : "Choose an assistant"}</option>
            {!chosenKnown && <option value={fields.assistantId}>{fields.assistantId}</option>}
            {known.map((assistant) => (
              <option key={assistant.assistantId} value={assistant.assistantId}>
                {assistant.name || assistant.assistantId} ({assistant.graphId})
              </option>
            ))}
          </select>
          {assistants.isError && <ErrorBox error={assistants.error} context="Could not list the assistants" />}
          {problem("assistantId")}
        </div>
        <div className="field">
          <label htmlFor={`${id}-schedule`}>Schedule</label>
          <input
            id={`${id}-schedule`}
            type="text"
            className="code-input"
            value={fields.schedule}
            placeholder="*/5 * * * *"
            spellCheck={false}
            aria-invalid={problems.schedule !== undefined || create.isError}
            aria-describedby={described("schedule", true)}
            onChange={(event) => set("schedule", event.target.value)}
          />
          <p id={`${id}-schedule-hint`} className="hint">
            A cron expression: minute, hour, day of month, month, day of week. “0 9 * * 1-5” runs at 9:00 on weekdays.
          </p>
          {problem("schedule")}
        </div>
        <div className="field">
          <label htmlFor={`${id}-timezone`}>Time zone</label>
          <input
            id={`${id}-timezone`}
            type="text"
            value={fields.timezone}
            placeholder="UTC"
            spellCheck={false}
            aria-describedby={`${id}-timezone-hint`}
            onChange={(event) => set("timezone", event.target.value)}
          />
          <p id={`${id}-timezone-hint`} className="hint">
            An IANA zone such as Europe/Paris; empty for UTC.
          </p>
        </div>
        <div className="field">
          <label htmlFor={`${id}-threadId`}>Thread (optional)</label>
          <input
            id={`${id}-threadId`}
            type="text"
            value={fields.threadId}
            placeholder="thread id"
            spellCheck={false}
            aria-describedby={`${id}-threadId-hint`}
            onChange={(event) => set("threadId", event.target.value)}
          />
          <p id={`${id}-threadId-hint`} className="hint">
            Every run goes to this thread; empty, each run gets a new thread.
          </p>
        </div>
        <JsonField
          label="Input (JSON, optional)"
          value={fields.input}
          onChange={(text) => set("input", text)}
          hint="What each run receives as its input."
          error={problems.input}
          rows={4}
        />
        <JsonField
          label="Metadata (JSON object, optional)"
          value={fields.metadata}
          onChange={(text) => set("metadata", text)}
          error={problems.metadata}
          rows={3}
        />
        <div className="checkbox">
          <input
            id={`${id}-enabled`}
            type="checkbox"
            checked={fields.enabled}
            onChange={(event) => set("enabled", event.target.checked)}
          />
          <label htmlFor={`${id}-enabled`}>Enabled: runs start on schedule</label>
        </div>
        {create.isError && <ErrorBox error={create.error} context="Could not create the cron" />}
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={create.isPending}>
            {create.isPending ? "Creating…" : "Create cron"}
          </button>
          <Link to="/crons" className="button">
            Cancel
          </Link>
        </div>
      </form>
    </Page>
  );
}
