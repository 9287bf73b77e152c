import { skipToken, useQuery } from "@connectrpc/connect-query";
import { type GetThreadStateResponse, ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { useId, useState } from "react";
import { ErrorBox } from "../../components/error-box";
import { JsonView } from "../../components/json-view";
import { Loading } from "../../components/loading";
import { decodeJson, isJsonObject, parseJsonText } from "../../lib/json";
import type { RunSettings } from "./run-settings";
import { isActive, type RunController } from "./use-run";

export interface ThreadStateView {
  values: unknown;
  next: string[];
  /** The interrupts the thread waits on (each {value, id?, ...}). */
  interrupts: Array<Record<string, unknown>>;
  checkpointId?: string;
}

/** A ThreadState JSON ({values, next, tasks, interrupts, checkpoint, ...}) reduced to what the views show. */
export function toThreadStateView(state: unknown): ThreadStateView {
  if (!isJsonObject(state)) return { values: state, next: [], interrupts: [] };
  const interrupts: Array<Record<string, unknown>> = [];
  const seen = new Set<string>();
  const add = (list: unknown) => {
    if (!Array.isArray(list)) return;
    for (const interrupt of list) {
      if (!isJsonObject(interrupt)) continue;
      const key = typeof interrupt.id === "string" ? interrupt.id : JSON.stringify(interrupt);
      if (seen.has(key)) continue;
      seen.add(key);
      interrupts.push(interrupt);
    }
  };
  add(state.interrupts);
  if (Array.isArray(state.tasks)) for (const task of state.tasks) if (isJsonObject(task)) add(task.interrupts);
  const checkpoint = isJsonObject(state.checkpoint) ? state.checkpoint : {};
  return {
    values: state.values,
    next: Array.isArray(state.next) ? state.next.filter((node): node is string => typeof node === "string") : [],
    interrupts,
    checkpointId: typeof checkpoint.checkpoint_id === "string" ? checkpoint.checkpoint_id : undefined,
  };
}

function selectState(response: GetThreadStateResponse): ThreadStateView {
  return toThreadStateView(decodeJson(response.stateJson));
}

export function useThreadState(threadId: string | undefined) {
  return useQuery(ThreadService.method.getThreadState, threadId ? { threadId } : skipToken, { select: selectState });
}

/** The thread's current values: live from the run while it streams, else as the server holds them. */
export function StatePanel({ threadId, run }: { threadId: string | undefined; run: RunController }) {
  const state = useThreadState(threadId);
  const live = isActive(run.state.phase) && run.state.threadId === threadId;
  if (live) {
    return (
      <div className="state-panel">
        <h3>
          Values <span className="muted">(live)</span>
        </h3>
        {run.state.lastValues === undefined ? <p className="muted">No values yet.</p> : <JsonView value={run.state.lastValues} />}
      </div>
    );
  }
  if (!threadId) return null;
  return (
    <div className="state-panel">
      <h3>Thread state</h3>
      {state.isPending ? (
        <Loading label="Loading the thread's state…" />
      ) : state.isError ? (
        <ErrorBox error={state.error} context="Could not load the thread's state" onRetry={() => void state.refetch()} />
      ) : (
        <>
          <p className="muted">
            {state.data.next.length > 0 ? (
              <>
                Next: <code>{state.data.next.join(", ")}</code>
              </>
            ) : (
              "Nothing left to run."
            )}
            {state.data.checkpointId && (
              <>
                {" "}
                Checkpoint <code>{state.data.checkpointId}</code>
              </>
            )}
          </p>
          <JsonView value={state.data.values} />
        </>
      )}
    </div>
  );
}

/**
 * When the thread waits (on an interrupt, or at a breakpoint before a node): the interrupts,
 * and a way to go on: resume with a value (Command {resume}), or continue without input.
 */
export function InterruptPanel({
  threadId,
  run,
  settings,
}: {
  threadId: string | undefined;
  run: RunController;
  settings: RunSettings;
}) {
  const state = useThreadState(threadId);
  const [text, setText] = useState('""');
  const [error, setError] = useState<string>();
  const resumeId = useId();
  if (!threadId || !state.data || isActive(run.state.phase)) return null;
  const { interrupts, next } = state.data;
  if (interrupts.length === 0 && next.length === 0) return null;
  const base = { threadId, ...settings };

  if (interrupts.length === 0) {
    return (
      <div className="interrupt-panel">
        <p>
          The thread stopped before <code>{next.join(", ")}</code>.
        </p>
        <button type="button" className="button" onClick={() => void run.start({ ...base, input: null })}>
          Continue
        </button>
      </div>
    );
  }
  return (
    <form
      className="interrupt-panel"
      onSubmit={(event) => {
        event.preventDefault();
        const parsed = parseJsonText(text);
        if (!parsed.ok) {
          setError(parsed.error);
          return;
        }
        setError(undefined);
        void run.start({ ...base, command: { resume: parsed.value } });
      }}
    >
      <h3>The graph is waiting for an answer</h3>
      {interrupts.map((interrupt, i) => (
        <JsonView key={typeof interrupt.id === "string" ? interrupt.id : i} value={interrupt.value ?? interrupt} />
      ))}
      <div className="field">
        <label htmlFor={resumeId}>Resume with (JSON)</label>
        <textarea
          id={resumeId}
          className="code-input"
          rows={3}
          spellCheck={false}
          value={text}
          aria-invalid={error !== undefined}
          aria-describedby={error ? `${resumeId}-error` : undefined}
          onChange={(event) => setText(event.target.value)}
        />
        {error && (
          <p id={`${resumeId}-error`} className="form-error">
            Not valid JSON: {error}
          </p>
        )}
      </div>
      <div className="form-actions">
        <button type="submit" className="button button-primary">
          Resume
        </button>
      </div>
    </form>
  );
}
