import { type FormEvent, type KeyboardEvent, useEffect, useId, useRef, useState } from "react";
import { ErrorBox } from "../../components/error-box";
import { JsonView } from "../../components/json-view";
import { Loading } from "../../components/loading";
import { type ChatMessage, messagesOfValues, visibleMessages } from "./chat-messages";
import type { RunSettings } from "./run-settings";
import { useThreadState } from "./thread-state";
import { isActive, type RunController } from "./use-run";

/** How close to the bottom (px) the transcript must be to keep following new tokens. */
const STICK_PX = 60;

interface ChatViewProps {
  /** The conversation's thread; absent until the first message creates one. */
  threadId: string | undefined;
  run: RunController;
  settings: RunSettings;
  onThread: (threadId: string) => void;
}

/** A conversation with a messages graph: one thread, each message a run, AI messages streamed token by token. */
export function ChatView({ threadId, run, settings, onThread }: ChatViewProps) {
  const state = useThreadState(threadId);
  const [text, setText] = useState("");
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
        {messages.map((message) => (
          <ChatBubble key={message.id} message={message} streaming={message.id === streamingId} />
        ))}
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

function ChatBubble({ message, streaming }: { message: ChatMessage; streaming: boolean }) {
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
      {(message.text !== "" || streaming) && (
        <div className={streaming ? "chat-text is-streaming" : "chat-text"}>{message.text}</div>
      )}
      {message.toolCalls.map((call, i) => (
        <details key={call.id ?? i} className="chat-tool-call">
          <summary>
            Tool call: <code>{call.name}</code>
          </summary>
          <JsonView value={call.args} copyable={false} />
        </details>
      ))}
    </li>
  );
}
