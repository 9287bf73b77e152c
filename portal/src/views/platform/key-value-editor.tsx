import { useId } from "react";
import { VARIABLE_NAME } from "./format";

export interface Pair {
  /** Stable across edits, for React's keys. */
  id: number;
  name: string;
  value: string;
}

let nextId = 1;

export function newPair(name = "", value = ""): Pair {
  return { id: nextId++, name, value };
}

export function pairsOf(record: Record<string, string>): Pair[] {
  return Object.entries(record)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => newPair(name, value));
}

/** The problem with each row's name (by row id), if any: invalid, or given twice. */
export function pairProblems(pairs: Pair[]): Map<number, string> {
  const problems = new Map<number, string>();
  const seen = new Set<string>();
  for (const pair of pairs) {
    const name = pair.name.trim();
    if (name === "" && pair.value === "") continue;
    if (!VARIABLE_NAME.test(name)) problems.set(pair.id, "Letters, digits and underscores, not starting with a digit.");
    else if (seen.has(name)) problems.set(pair.id, `${name} is given twice.`);
    seen.add(name);
  }
  return problems;
}

/** The rows as a record, the empty ones left out. */
export function recordOf(pairs: Pair[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (const pair of pairs) {
    const name = pair.name.trim();
    if (name !== "" || pair.value !== "") record[name] = pair.value;
  }
  return record;
}

interface KeyValueEditorProps {
  legend: string;
  /** What one row is, e.g. "variable" or "secret". */
  noun: string;
  pairs: Pair[];
  onChange: (pairs: Pair[]) => void;
  /** The values are secrets: typed in password fields. */
  secret?: boolean;
  hint?: string;
}

/** Name/value rows (variables, secrets), each with its own labelled fields and a remove button. */
export function KeyValueEditor({ legend, noun, pairs, onChange, secret = false, hint }: KeyValueEditorProps) {
  const baseId = useId();
  const problems = pairProblems(pairs);
  const update = (id: number, change: Partial<Pair>) =>
    onChange(pairs.map((pair) => (pair.id === id ? { ...pair, ...change } : pair)));
  return (
    <fieldset className="kv-editor">
      <legend>{legend}</legend>
      {hint && <p className="hint kv-hint">{hint}</p>}
      {pairs.length === 0 && <p className="muted kv-empty">No {noun}s.</p>}
      {pairs.map((pair, index) => {
        const nameId = `${baseId}-${pair.id}-name`;
        const valueId = `${baseId}-${pair.id}-value`;
        const problemId = `${baseId}-${pair.id}-problem`;
        const problem = problems.get(pair.id);
        return (
          <div key={pair.id} className="kv-row">
            <div className="field">
              <label htmlFor={nameId}>
                Name{" "}
                <span className="visually-hidden">
                  of {noun} {index + 1}
                </span>
              </label>
              <input
                id={nameId}
                type="text"
                className="code-input"
                autoComplete="off"
                spellCheck={false}
                value={pair.name}
                aria-invalid={problem ? true : undefined}
                aria-describedby={problem ? problemId : undefined}
                onChange={(event) => update(pair.id, { name: event.target.value })}
              />
              {problem && (
                <p id={problemId} className="form-error">
                  {problem}
                </p>
              )}
            </div>
            <div className="field">
              <label htmlFor={valueId}>
                Value{" "}
                <span className="visually-hidden">
                  of {noun} {index + 1}
                </span>
              </label>
              <input
                id={valueId}
                type={secret ? "password" : "text"}
                autoComplete={secret ? "new-password" : "off"}
                spellCheck={false}
                value={pair.value}
                onChange={(event) => update(pair.id, { value: event.target.value })}
              />
            </div>
            <button
              type="button"
              className="button button-small kv-remove"
              onClick={() => onChange(pairs.filter((candidate) => candidate.id !== pair.id))}
            >
              Remove{" "}
              <span className="visually-hidden">
                {noun} {pair.name || index + 1}
              </span>
            </button>
          </div>
        );
      })}
      <button type="button" className="button button-small" onClick={() => onChange([...pairs, newPair()])}>
        Add a {noun}
      </button>
    </fieldset>
  );
}
