// The RPCs carry JSON documents as UTF-8 bytes (`*_json` fields): these helpers turn them into
// values and back, and render values compactly for lists.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The value held by a `*_json` field; undefined when the field is empty (absent). */
export function decodeJson(bytes: Uint8Array | undefined): unknown {
  if (bytes === undefined || bytes.length === 0) return undefined;
  return JSON.parse(decoder.decode(bytes));
}

/** Like decodeJson, but bytes that are not JSON come back as their text rather than throwing. */
export function decodeJsonLenient(bytes: Uint8Array | undefined): unknown {
  try {
    return decodeJson(bytes);
  } catch {
    return decoder.decode(bytes);
  }
}

/** A value as the bytes of a `*_json` field; undefined encodes as empty (absent). */
export function encodeJson(value: unknown): Uint8Array {
  if (value === undefined) return new Uint8Array();
  return encoder.encode(JSON.stringify(value));
}

export type ParsedJson = { ok: true; value: unknown } | { ok: false; error: string };

/** Text typed by a user, parsed; the error names the position when the engine reports one. */
export function parseJsonText(text: string): ParsedJson {
  if (text.trim() === "") return { ok: false, error: "Enter a JSON value." };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** A plain JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** One line of at most `max` characters summarising a value, for lists and summaries. */
export function compactPreview(value: unknown, max = 120): string {
  let text: string;
  if (value === undefined) text = "";
  else if (typeof value === "string") text = JSON.stringify(value);
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A value pretty-printed for an editor. */
export function prettyJson(value: unknown): string {
  return JSON.stringify(value ?? null, null, 2);
}
