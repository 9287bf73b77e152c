import { type FormEvent, type KeyboardEvent, type ReactNode, useEffect, useId, useRef, useState } from "react";
import { ErrorBox } from "../../components/error-box";
import { JsonView } from "../../components/json-view";
import { Loading } from "../../components/loading";
import { MessageEditor } from "./chat-edit";
import { editForkIds, regenerateTarget } from "./chat-fork";
import { type ChatMessage, messagesOfValues, visibleMessages } from "./chat-messages";
import type { RunSettings } from "./run-settings";
import { useThreadState } from "./thread-state";
import { isActive, type RunController } from "./use-run";

/** How close to the bottom (px) the transcript must be to keep following new tokens. */
const STICK_PX = 60;
/** How much of a message its Edit button's name quotes. */
const QUOTED_CHARS = 40;

interface ChatViewProps {
  /** The conversation's thread; absent until the first message creates one. */
  threadId: string | undefined;
  run: RunController;
  settings: RunSettings;
  onThread: (threadId: string) => void;
}

/**
 * A conversation with a messages graph: one thread, each message a run, AI messages streamed token
 * by token. Editing a human message or regenerating the last answer forks the thread at an earlier
 * checkpoint and runs again from there: the transcript shows the new branch, the history keeps both.
 */
export function ChatView({ threadId, run, settings, onThread }: ChatViewProps) {
  const state = useThreadState(threadId);
  const [text, setText] = useState("");
  /** The id of the human message being edited. */
  const [editing, setEditing] = useState<string>();
  /** The message whose Edit button takes the focus back once its editor closes unsaved. */
  const refocus = useRef<string>(undefined);
  const inputId = useId();
  const log = useRef<HTMLOListElement>(null);
  const stuck = useRef(true);
  const { phase, transcript } = run.state;
  const busy = isActive(phase);
  // The run's own transcript while it belongs to this conversation; the thread's stored messages otherwise.
  const ownRun = phase !== "idle" && run.state.threadId === threadId;
  const stored = messagesOfValues(state.data?.values) ?? [];
  const messages = ownRun ? visibleMessages(transcript) : stored;
  const last = messages.at(-1);
  const streamingId = busy && last?.role === "ai" ? last.id : undefined;
  const canFork = threadId !== undefined && !busy;
  const answer = regenerateTarget(messages);

  // biome-ignore lint/correctness/useExhaustiveDependencies: follows every change of the transcript
  useEffect(() => {
    const element = log.current;
    if (element && stuck.current) element.scrollTop = element.scrollHeight;
  }, [messages]);

  const send = (event?: FormEvent) => {
    event?.preventDefault();
    const content = text.trim();
    if (content === "" || busy) return;
    const pending: ChatMessage = { id: `pending-${Date.now()}`, role: "human", text: content, toolCalls: [] };
    const base = ownRun ? transcript.base : stored;
    setText("");
    stuck.current = true;
    void run.start(
      { threadId, input: { messages: [{ role: "user", content }] }, ...settings },
      { transcript: { base, streaming: [], pending }, onThread },
    );
  };

  /** Runs again from the checkpoint holding the messages `forkIds`: with `edited` as the next message, or without input to regenerate the answer. */
  const fork = (forkIds: string[], edited?: string) => {
    if (threadId === undefined || busy) return;
    const pending: ChatMessage | undefined =
      edited === undefined ? undefined : { id: `pending-${Date.now()}`, role: "human", text: edited, toolCalls: [] };
    setEditing(undefined);
    stuck.current = true;
    void run.start(
      {
        threadId,
        input: edited === undefined ? undefined : { messages: [{ role: "user", content: edited }] },
        forkAfterMessages: forkIds,
        ...settings,
      },
      { transcript: { base: messages.slice(0, forkIds.length), streaming: [], pending } },
    );
  };

  const actionsOf = (message: ChatMessage): ReactNode => {
    if (message.role === "human") {
      const quoted = message.text.length > QUOTED_CHARS ? `${message.text.slice(0, QUOTED_CHARS)}…` : message.text;
      return (
        <button
          type="button"
          className="button button-small"
          aria-label={`Edit message “${quoted}”`}
          disabled={!canFork}
          ref={(element) => {
            if (element && refocus.current === message.id) {
              refocus.current = undefined;
              element.focus();
            }
          }}
          onClick={() => setEditing(message.id)}
        >
          Edit
        </button>
      );
    }
    if (answer && message.id === answer.answerId) {
      return (
        <button type="button" className="button button-small" disabled={!canFork} onClick={() => fork(answer.forkIds)}>
          Regenerate
        </button>
      );
    }
    return undefined;
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    // Enter sends, Shift+Enter starts a new line (as in most chat apps).
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) send();
  };

  return (
    <div className="chat">
      {threadId && !ownRun && state.isPending && <Loading label="Loading the conversation…" />}
      {threadId && !ownRun && state.isError && (
        <ErrorBox error={state.error} context="Could not load the conversation" onRetry={() => void state.refetch()} />
      )}
      <ol
        ref={log}
        className="chat-log"
        aria-label="Conversation"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable transcript must be focusable to scroll by keyboard
        tabIndex={0}
        onScroll={(scroll) => {
          const element = scroll.currentTarget;
          stuck.current = element.scrollHeight - element.scrollTop - element.clientHeight < STICK_PX;
        }}
      >
        {messages.length === 0 && <li className="chat-empty muted">No messages yet. Say something to start.</li>}
        {messages.map((message, index) =>
          message.id === editing ? (
            <ChatBubble
              key={message.id}
              message={message}
              streaming={false}
              editor={
                <MessageEditor
                  text={message.text}
                  busy={busy}
                  onSave={(edited) => fork(editForkIds(messages, index), edited)}
                  onCancel={() => {
                    refocus.current = message.id;
                    setEditing(undefined);
                  }}
                />
              }
            />
          ) : (
            <ChatBubble key={message.id} message={message} streaming={message.id === streamingId} actions={actionsOf(message)} />
          ),
        )}
      </ol>
      <form className="chat-composer" onSubmit={send}>
        <label htmlFor={inputId} className="visually-hidden">
          Message
        </label>
        <textarea
          id={inputId}
          rows={2}
          value={text}
          placeholder={busy ? "Waiting for the answer…" : "Write a message (Enter sends, Shift+Enter for a new line)"}
          onChange={(event) => setText(event.target.value)}
          onKeyDown={onKeyDown}
        />
        <button type="submit" className="button button-primary" disabled={busy || text.trim() === ""}>
          Send
        </button>
      </form>
    </div>
  );
}

const ROLE_NAMES: Record<ChatMessage["role"], string> = {
  human: "You",
  ai: "AI",
  tool: "Tool",
  system: "System",
  other: "Message",
};

interface ChatBubbleProps {
  message: ChatMessage;
  streaming: boolean;
  /** Shown instead of the text while the message is edited. */
  editor?: ReactNode;
  /** The buttons under the message (Edit, Regenerate). */
  actions?: ReactNode;
}

function ChatBubble({ message, streaming, editor, actions }: ChatBubbleProps) {
  if (message.role === "tool") {
    return (
      <li className="chat-message chat-tool">
        <details>
          <summary>
            Tool result{message.name ? `: ${message.name}` : ""}
            {message.toolCallId && <span className="muted"> ({message.toolCallId})</span>}
          </summary>
          <pre className="chat-text">{message.text}</pre>
        </details>
      </li>
    );
  }
  return (
    <li className={`chat-message chat-${message.role}`}>
      <span className="chat-role">{message.name ?? ROLE_NAMES[message.role]}</span>
      {editor ??
        ((message.text !== "" || streaming) && (
          <div className={streaming ? "chat-text is-streaming" : "chat-text"}>{message.text}</div>
        ))}
      {message.toolCalls.map((call, i) => (
        <details key={call.id ?? i} className="chat-tool-call">
          <summary>
            Tool call: <code>{call.name}</code>
          </summary>
          <JsonView value={call.args} copyable={false} />
        </details>
      ))}
      {actions && <div className="chat-actions">{actions}</div>}
    </li>
  );
}
