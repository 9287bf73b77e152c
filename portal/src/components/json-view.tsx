import { useState } from "react";

interface JsonViewProps {
  value: unknown;
  /** Objects and arrays deeper than this start collapsed. */
  expandDepth?: number;
  /** Offers to copy the value as pretty-printed JSON. */
  copyable?: boolean;
  className?: string;
}

/** A JSON value as a tree whose objects and arrays open and close. */
export function JsonView({ value, expandDepth = 2, copyable = true, className }: JsonViewProps) {
  return (
    <div className={className ? `json-view ${className}` : "json-view"}>
      {copyable && <CopyButton value={value} />}
      <JsonNode value={value} depth={0} expandDepth={expandDepth} />
    </div>
  );
}

function CopyButton({ value }: { value: unknown }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(JSON.stringify(value ?? null, null, 2));
      setState("copied");
    } catch {
      // The clipboard needs a secure context and the user's permission.
      setState("failed");
    }
    setTimeout(() => setState("idle"), 1500);
  };
  return (
    <button type="button" className="button button-small json-copy" onClick={() => void copy()}>
      {state === "copied" ? "Copied" : state === "failed" ? "Copy failed" : "Copy"}
    </button>
  );
}

/** Longest string shown whole; longer ones open on request. */
const LONG_STRING = 400;
/** Most entries of one object or array shown before a "show more". */
const PAGE = 100;

function JsonNode({ value, depth, expandDepth }: { value: unknown; depth: number; expandDepth: number }) {
  if (value === null) return <span className="json-null">null</span>;
  if (value === undefined) return <span className="json-null">undefined</span>;
  if (typeof value === "string") return <JsonString value={value} />;
  if (typeof value === "number") return <span className="json-number">{String(value)}</span>;
  if (typeof value === "boolean") return <span className="json-boolean">{String(value)}</span>;
  if (typeof value !== "object") return <span>{String(value)}</span>;
  return <JsonContainer value={value as object} depth={depth} expandDepth={expandDepth} />;
}

function JsonString({ value }: { value: string }) {
  const [whole, setWhole] = useState(false);
  if (value.length <= LONG_STRING || whole) return <span className="json-string">{JSON.stringify(value)}</span>;
  return (
    <span className="json-string">
      {JSON.stringify(value.slice(0, LONG_STRING))}…{" "}
      <button type="button" className="link-button" onClick={() => setWhole(true)}>
        show all {value.length} characters
      </button>
    </span>
  );
}

function JsonContainer({ value, depth, expandDepth }: { value: object; depth: number; expandDepth: number }) {
  const isArray = Array.isArray(value);
  const entries: Array<[string, unknown]> = isArray ? value.map((item, i) => [String(i), item]) : Object.entries(value);
  const [open, setOpen] = useState(depth < expandDepth);
  const [shown, setShown] = useState(PAGE);
  const [brackets, summary] = isArray
    ? [["[", "]"], `${entries.length} item${entries.length === 1 ? "" : "s"}`]
    : [["{", "}"], `${entries.length} key${entries.length === 1 ? "" : "s"}`];
  if (entries.length === 0) return <span className="json-punct">{`${brackets[0]}${brackets[1]}`}</span>;
  return (
    <span className="json-container">
      <button type="button" className="json-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span aria-hidden="true">{open ? "▾" : "▸"}</span> {brackets[0]}
        {!open && <span className="json-summary"> {summary} </span>}
        {!open && brackets[1]}
      </button>
      {open && (
        <>
          <ul className="json-entries">
            {entries.slice(0, shown).map(([key, item]) => (
              <li key={key}>
                {!isArray && <span className="json-key">{JSON.stringify(key)}</span>}
                {isArray && <span className="json-index">{key}</span>}
                <span className="json-punct">: </span>
                <JsonNode value={item} depth={depth + 1} expandDepth={expandDepth} />
              </li>
            ))}
            {entries.length > shown && (
              <li>
                <button type="button" className="link-button" onClick={() => setShown(shown + PAGE)}>
                  show {Math.min(PAGE, entries.length - shown)} more of {entries.length - shown}
                </button>
              </li>
            )}
          </ul>
          <span className="json-punct">{brackets[1]}</span>
        </>
      )}
    </span>
  );
}
