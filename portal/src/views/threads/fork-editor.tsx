import { useMutation } from "@connectrpc/connect-query";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { useEffect, useId, useRef, useState } from "react";
import { ErrorBox } from "../../components/error-box";
import { encodeJson, isJsonObject, parseJsonText, prettyJson } from "../../lib/json";
import { type Checkpoint, checkpointRef } from "./checkpoints";
import { editedKeys } from "./state-diff";

interface ForkEditorProps {
  threadId: string;
  checkpoint: Checkpoint;
  /** The graph's nodes, for the node the update is made as. */
  nodes: string[];
  /** The node(s) that wrote the checkpoint: the update is made as the first, by default. */
  writers: string[];
  onForked: (checkpointId: string) => void;
  onCancel: () => void;
}

/**
 * Edits a checkpoint's values and saves them as a state update on that checkpoint: a new
 * checkpoint branching from it, as if `as_node` had returned the values. Only the keys changed
 * are sent by default, so that channels with reducers (lists that append) are not written twice.
 */
export function ForkEditor({ threadId, checkpoint, nodes, writers, onForked, onCancel }: ForkEditorProps) {
  const id = useId();
  const [text, setText] = useState(() => prettyJson(checkpoint.values ?? {}));
  const defaultNode = writers.find((node) => !node.startsWith("__")) ?? "";
  const [asNode, setAsNode] = useState(defaultNode);
  const [onlyChanged, setOnlyChanged] = useState(true);
  const [problem, setProblem] = useState<string>();
  const editor = useRef<HTMLTextAreaElement>(null);

  useEffect(() => editor.current?.focus(), []);
  const update = useMutation(ThreadService.method.updateThreadState, {
    onSuccess: (response) => {
      if (response.checkpoint) onForked(response.checkpoint.checkpointId);
    },
  });
  const choices = [...new Set([...nodes, ...writers.filter((node) => !node.startsWith("__"))])];

  const submit = () => {
    const parsed = parseJsonText(text);
    if (!parsed.ok) {
      setProblem(`Not valid JSON: ${parsed.error}`);
      return;
    }
    let values = parsed.value;
    if (onlyChanged) {
      if (!isJsonObject(parsed.value)) {
        setProblem("Only an object's keys can be compared: uncheck “Send only the keys changed” to send this value whole.");
        return;
      }
      const { update: changed } = editedKeys(checkpoint.values, parsed.value);
      if (Object.keys(changed).length === 0) {
        setProblem("Nothing changed: edit a value first.");
        return;
      }
      values = changed;
    }
    setProblem(undefined);
    update.mutate({ threadId, valuesJson: encodeJson(values), checkpoint: checkpointRef(threadId, checkpoint), asNode });
  };

  const parsed = parseJsonText(text);
  const removed = parsed.ok && isJsonObject(parsed.value) ? editedKeys(checkpoint.values, parsed.value).removed : [];

  return (
    <form
      className="fork-editor"
      aria-label={`Edit the state of step ${checkpoint.step ?? "?"}`}
      onSubmit={(event) => {
        event.preventDefault();
        submit();
      }}
      onKeyDown={(event) => {
        if (event.key === "Escape") onCancel();
      }}
    >
      <div className="field">
        <label htmlFor={`${id}-values`}>Values (JSON)</label>
        <textarea
          ref={editor}
          id={`${id}-values`}
          className="code-input"
          rows={Math.min(20, Math.max(5, text.split("\n").length + 1))}
          spellCheck={false}
          value={text}
          aria-invalid={problem !== undefined}
          aria-describedby={`${id}-hint${problem ? ` ${id}-problem` : ""}`}
          onChange={(event) => setText(event.target.value)}
        />
        <p id={`${id}-hint`} className="hint">
          Saved as a new checkpoint branching from this one; the checkpoint itself does not change. Values go through the graph's
          reducers, as a node's output would.
        </p>
        {problem && (
          <p id={`${id}-problem`} className="form-error" role="alert">
            {problem}
          </p>
        )}
        {removed.length > 0 && (
          <p className="form-error">
            Keys cannot be removed by an update: {removed.map((key) => `“${key}”`).join(", ")} will keep their values.
          </p>
        )}
      </div>
      <div className="field">
        <label htmlFor={`${id}-node`}>As node</label>
        <select id={`${id}-node`} value={asNode} onChange={(event) => setAsNode(event.target.value)}>
          <option value="">Let the server choose</option>
          {choices.map((node) => (
            <option key={node} value={node}>
              {node}
            </option>
          ))}
        </select>
        <p className="hint">The graph goes on from this node's edges: it decides what runs next.</p>
      </div>
      <div className="checkbox">
        <input
          id={`${id}-changed`}
          type="checkbox"
          checked={onlyChanged}
          onChange={(event) => setOnlyChanged(event.target.checked)}
        />
        <label htmlFor={`${id}-changed`}>Send only the keys changed</label>
      </div>
      {update.isError && <ErrorBox error={update.error} context="Could not save the state" />}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={update.isPending}>
          {update.isPending ? "Saving…" : "Save as new checkpoint"}
        </button>
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
