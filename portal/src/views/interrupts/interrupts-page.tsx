import { useQuery } from "@connectrpc/connect-query";
import { SortOrder } from "@langopen/gen/langopen/data/v1/common_pb";
import type { Thread } from "@langopen/gen/langopen/data/v1/thread_pb";
import { ThreadStatus } from "@langopen/gen/langopen/data/v1/thread_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { keepPreviousData } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { JsonView } from "../../components/json-view";
import { Page } from "../../components/page";
import { Pager, usePage } from "../../components/pager";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { decodeJsonLenient, parseJsonText } from "../../lib/json";
import { isActive } from "../runs/use-run-stream";
import { LiveRun } from "../threads/live-run";
import { threadPath } from "../threads/run-names";
import { threadAssistant, threadGraphLabel, threadRunLink } from "../threads/thread-links";
import { resumeInterrupt, useRunStream } from "../threads/use-run-stream";
import { type PendingInterrupt, pendingInterrupts, resumeFor } from "./pending";

const PAGE_SIZE = 20;
/** How often the inbox looks for new interrupts while the page is in view. */
const INBOX_POLL_MS = 15_000;

interface Answered {
  thread: Thread;
  value: unknown;
}

/**
 * The inbox: every thread waiting on an interrupt, with what each waits for. ?thread= opens the
 * answer form of one; the answer resumes the thread (CreateOrResumeRun) and the run is watched
 * live here until it ends, when the thread leaves the inbox (unless it waits again).
 */
export function InterruptsPage() {
  const [params, setParams] = useSearchParams();
  const page = usePage();
  const selected = params.get("thread") ?? undefined;
  const run = useRunStream();
  const [answered, setAnswered] = useState<Answered>();
  const threads = useQuery(
    ThreadService.method.searchThreads,
    {
      status: ThreadStatus.INTERRUPTED,
      limit: PAGE_SIZE,
      offset: (page - 1) * PAGE_SIZE,
      sortBy: "updated_at",
      sortOrder: SortOrder.DESC,
    },
    { placeholderData: keepPreviousData, refetchInterval: INBOX_POLL_MS },
  );
  const count = useQuery(
    ThreadService.method.countThreads,
    { status: ThreadStatus.INTERRUPTED },
    { refetchInterval: INBOX_POLL_MS },
  );
  const total = count.data ? Number(count.data.count) : undefined;

  const choose = (threadId: string | undefined) =>
    setParams((current) => {
      const next = new URLSearchParams(current);
      if (threadId) next.set("thread", threadId);
      else next.delete("thread");
      return next;
    });

  const answer = (thread: Thread, pending: PendingInterrupt[], chosen: PendingInterrupt, value: unknown) => {
    const { resume, interruptIds } = resumeFor(pending, chosen, value);
    setAnswered({ thread, value });
    choose(undefined);
    void run.watch(resumeInterrupt(thread.threadId, resume, interruptIds));
  };

  const busy = isActive(run.state.phase);
  return (
    <Page
      title="Interrupts"
      subtitle={
        total === undefined ? "Threads waiting for an answer" : `${total} thread${total === 1 ? "" : "s"} waiting for an answer`
      }
      actions={
        <button type="button" className="button" onClick={() => void threads.refetch()} disabled={threads.isFetching}>
          {threads.isFetching ? "Refreshing…" : "Refresh"}
        </button>
      }
    >
      {answered && (
        <div className="answered">
          <LiveRun
            run={run}
            title={`Answer to thread ${answered.thread.threadId.slice(0, 8)}`}
            assistantId={threadAssistant(answered.thread)}
            onClose={() => {
              run.reset();
              setAnswered(undefined);
            }}
          />
          {run.state.phase === "ended" && (
            <p className="muted" role="status">
              {run.state.outcome === "interrupted"
                ? "The thread stopped at another interrupt: it is in the inbox again."
                : run.state.outcome === "success"
                  ? "The thread went on and finished: it has left the inbox."
                  : "The thread did not finish."}{" "}
              <Link to={threadPath(answered.thread.threadId, "history")}>See the thread's history</Link>
            </p>
          )}
        </div>
      )}
      <QueryView query={threads} loading="Loading interrupted threads…" errorContext="Could not load the interrupted threads">
        {({ threads: list }) =>
          list.length === 0 ? (
            <p className="empty">No thread is waiting on an interrupt.</p>
          ) : (
            <>
              <ul className="card-list" aria-label="Threads waiting for an answer">
                {list.map((thread) => (
                  <InterruptCard
                    key={thread.threadId}
                    thread={thread}
                    open={thread.threadId === selected}
                    busy={busy}
                    onOpen={() => choose(thread.threadId)}
                    onClose={() => choose(undefined)}
                    onAnswer={(pending, chosen, value) => answer(thread, pending, chosen, value)}
                  />
                ))}
              </ul>
              <Pager page={page} pageSize={PAGE_SIZE} total={total} shown={list.length} />
            </>
          )
        }
      </QueryView>
    </Page>
  );
}

interface InterruptCardProps {
  thread: Thread;
  open: boolean;
  /** An answer's run is on its way: no second one meanwhile. */
  busy: boolean;
  onOpen: () => void;
  onClose: () => void;
  onAnswer: (pending: PendingInterrupt[], chosen: PendingInterrupt, value: unknown) => void;
}

function InterruptCard({ thread, open, busy, onOpen, onClose, onAnswer }: InterruptCardProps) {
  const pending = pendingInterrupts(decodeJsonLenient(thread.interruptsJson));
  const graph = threadGraphLabel(thread);
  const assistantId = threadAssistant(thread);
  const runLink = threadRunLink(thread);
  const headingId = useId();
  return (
    <li className={open ? "card card-open" : "card"} aria-labelledby={headingId}>
      <div className="card-head">
        <h2 id={headingId} className="card-title">
          <Link to={threadPath(thread.threadId, "history")}>
            Thread <code>{thread.threadId}</code>
          </Link>
        </h2>
      </div>
      <div className="card-meta">
        <span>
          graph{" "}
          {graph ? (
            assistantId ? (
              <Link to={`/assistants/${encodeURIComponent(assistantId)}/graph`}>{graph}</Link>
            ) : (
              graph
            )
          ) : (
            "unknown"
          )}
        </span>
        {typeof thread.metadata?.assistant_id === "string" && (
          <span>
            assistant <code>{thread.metadata.assistant_id.slice(0, 8)}</code>
          </span>
        )}
        <span>
          waiting since <Time value={thread.updateTime} />
        </span>
      </div>
      {pending.length === 0 ? (
        <p className="muted">
          No interrupt value recorded: the run stopped at a breakpoint or was cancelled.{" "}
          {runLink && <Link to={runLink}>Continue it from the assistant's Run tab</Link>}
        </p>
      ) : (
        <ol className="interrupt-values" aria-label="Interrupts">
          {pending.map((interrupt, i) => (
            <li key={interrupt.id ?? `${interrupt.taskId}:${i}`}>
              <div className="muted interrupt-ids">
                task <code>{interrupt.taskId.slice(0, 8)}</code>
                {interrupt.id && (
                  <>
                    {" "}
                    · interrupt <code>{interrupt.id.slice(0, 8)}</code>
                  </>
                )}
              </div>
              <JsonView value={interrupt.value} expandDepth={3} />
            </li>
          ))}
        </ol>
      )}
      {pending.length > 0 &&
        (open ? (
          <AnswerForm pending={pending} busy={busy} onAnswer={onAnswer} onCancel={onClose} />
        ) : (
          <div className="form-actions">
            <button type="button" className="button button-primary" onClick={onOpen} disabled={busy}>
              Answer
            </button>
          </div>
        ))}
    </li>
  );
}

function AnswerForm({
  pending,
  busy,
  onAnswer,
  onCancel,
}: {
  pending: PendingInterrupt[];
  busy: boolean;
  onAnswer: (pending: PendingInterrupt[], chosen: PendingInterrupt, value: unknown) => void;
  onCancel: () => void;
}) {
  const id = useId();
  const [text, setText] = useState('""');
  const [chosen, setChosen] = useState(0);
  const [error, setError] = useState<string>();
  const input = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    const element = input.current;
    if (!element) return;
    element.focus();
    // Between the quotes of the default answer: typing gives a string at once.
    element.setSelectionRange(1, 1);
  }, []);

  return (
    <form
      className="answer-form"
      aria-label="Answer"
      onSubmit={(event) => {
        event.preventDefault();
        const parsed = parseJsonText(text);
        const target = pending[chosen];
        if (!parsed.ok) {
          setError(`Not valid JSON: ${parsed.error}`);
          return;
        }
        if (!target) return;
        setError(undefined);
        onAnswer(pending, target, parsed.value);
      }}
      onKeyDown={(event) => {
        if (event.key === "Escape") onCancel();
      }}
    >
      {pending.length > 1 && (
        <div className="field">
          <label htmlFor={`${id}-which`}>Interrupt to answer</label>
          <select id={`${id}-which`} value={chosen} onChange={(event) => setChosen(Number(event.target.value))}>
            {pending.map((interrupt, i) => (
              <option key={interrupt.id ?? i} value={i}>
                {interrupt.id ? `interrupt ${interrupt.id.slice(0, 8)}` : `interrupt ${i + 1}`} (task{" "}
                {interrupt.taskId.slice(0, 8)})
              </option>
            ))}
          </select>
        </div>
      )}
      <div className="field">
        <label htmlFor={`${id}-value`}>Answer (JSON)</label>
        <textarea
          ref={input}
          id={`${id}-value`}
          className="code-input"
          rows={3}
          spellCheck={false}
          value={text}
          aria-invalid={error !== undefined}
          aria-describedby={`${id}-hint${error ? ` ${id}-error` : ""}`}
          onChange={(event) => setText(event.target.value)}
        />
        <p id={`${id}-hint`} className="hint">
          The value the graph's <code>interrupt()</code> returns: "text" in quotes, a number, true, an object…
        </p>
        {error && (
          <p id={`${id}-error`} className="form-error" role="alert">
            {error}
          </p>
        )}
      </div>
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={busy}>
          Send answer
        </button>
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
