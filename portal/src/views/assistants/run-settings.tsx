import { useId } from "react";

export interface RunSettings {
  streamModes: string[];
  streamSubgraphs: boolean;
  interruptBefore: string[];
  interruptAfter: string[];
}

export const STREAM_MODES: Array<{ mode: string; hint: string }> = [
  { mode: "values", hint: "the whole state after each step" },
  { mode: "updates", hint: "what each node returned" },
  { mode: "messages-tuple", hint: "LLM tokens and messages as they come" },
  { mode: "custom", hint: "what nodes write to the stream" },
  { mode: "debug", hint: "tasks and checkpoints, in detail" },
  { mode: "tasks", hint: "each node starting and finishing" },
  { mode: "checkpoints", hint: "each checkpoint saved" },
];

export const DEFAULT_RUN_SETTINGS: RunSettings = {
  // tasks: the graph highlights running nodes from them; messages-tuple: the chat streams tokens.
  streamModes: ["values", "updates", "messages-tuple", "tasks"],
  streamSubgraphs: false,
  interruptBefore: [],
  interruptAfter: [],
};

function toggled(list: string[], item: string, on: boolean): string[] {
  return on ? [...list.filter((known) => known !== item), item] : list.filter((known) => known !== item);
}

function CheckboxGroup({
  legend,
  items,
  checked,
  onChange,
  hints,
}: {
  legend: string;
  items: string[];
  checked: string[];
  onChange: (next: string[]) => void;
  hints?: Record<string, string>;
}) {
  const id = useId();
  return (
    <fieldset className="checkbox-group">
      <legend>{legend}</legend>
      {items.length === 0 && <p className="muted">None.</p>}
      {items.map((item, i) => (
        <div key={item} className="checkbox">
          <input
            id={`${id}-${i}`}
            type="checkbox"
            checked={checked.includes(item)}
            onChange={(event) => onChange(toggled(checked, item, event.target.checked))}
          />
          <label htmlFor={`${id}-${i}`}>
            <code>{item}</code>
            {hints?.[item] && <span className="muted"> — {hints[item]}</span>}
          </label>
        </div>
      ))}
    </fieldset>
  );
}

const MODE_HINTS = Object.fromEntries(STREAM_MODES.map(({ mode, hint }) => [mode, hint]));

/** How a run streams and where it stops: collapsed by default, the defaults suit most runs. */
export function RunSettingsPanel({
  settings,
  onChange,
  nodes,
}: {
  settings: RunSettings;
  onChange: (next: RunSettings) => void;
  /** The graph's node names, for the interrupt choices. */
  nodes: string[];
}) {
  const subgraphsId = useId();
  return (
    <details className="settings">
      <summary>Run settings</summary>
      <div className="settings-body">
        <CheckboxGroup
          legend="Stream modes"
          items={STREAM_MODES.map(({ mode }) => mode)}
          hints={MODE_HINTS}
          checked={settings.streamModes}
          onChange={(streamModes) => onChange({ ...settings, streamModes })}
        />
        <div className="checkbox">
          <input
            id={subgraphsId}
            type="checkbox"
            checked={settings.streamSubgraphs}
            onChange={(event) => onChange({ ...settings, streamSubgraphs: event.target.checked })}
          />
          <label htmlFor={subgraphsId}>Stream the events of subgraphs too</label>
        </div>
        <CheckboxGroup
          legend="Interrupt before"
          items={nodes}
          checked={settings.interruptBefore}
          onChange={(interruptBefore) => onChange({ ...settings, interruptBefore })}
        />
        <CheckboxGroup
          legend="Interrupt after"
          items={nodes}
          checked={settings.interruptAfter}
          onChange={(interruptAfter) => onChange({ ...settings, interruptAfter })}
        />
      </div>
    </details>
  );
}
