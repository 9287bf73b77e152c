// The threads search's metadata filter as a person types it: `key=value` pairs separated by
// commas, e.g. `graph_id=steps, user="42"`. Values that are JSON scalars (numbers, true, false,
// null) or quoted strings are read as JSON; anything else is the text as typed.
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";

export type MetadataFilter = { ok: true; value: JsonObject } | { ok: false; error: string };

/** Splits on commas that are not inside double quotes. */
function splitPairs(text: string): string[] {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === "\\" && quoted && i + 1 < text.length) {
      current += char + text[i + 1];
      i++;
      continue;
    }
    if (char === '"') quoted = !quoted;
    if (char === "," && !quoted) {
      parts.push(current);
      current = "";
    } else current += char;
  }
  parts.push(current);
  return parts.map((part) => part.trim()).filter((part) => part !== "");
}

function scalarOf(text: string): JsonValue {
  if (/^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|".*")$/s.test(text)) {
    try {
      return JSON.parse(text) as JsonValue;
    } catch {
      // An unfinished quote: taken as typed.
    }
  }
  return text;
}

/** The filter typed, as the JSON object the search matches metadata against; empty text is no filter. */
export function parseMetadataFilter(text: string): MetadataFilter {
  const value: JsonObject = {};
  for (const pair of splitPairs(text)) {
    const at = pair.indexOf("=");
    if (at < 0) return { ok: false, error: `"${pair}" is not key=value.` };
    const key = pair.slice(0, at).trim();
    if (key === "") return { ok: false, error: `"${pair}" has no key before "=".` };
    value[key] = scalarOf(pair.slice(at + 1).trim());
  }
  return { ok: true, value };
}
