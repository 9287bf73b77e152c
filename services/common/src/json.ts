const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** JSON payloads that travel as bytes (state values, event data). Empty bytes mean "absent". */
export function jsonBytes(value: unknown): Uint8Array {
  return value === undefined ? new Uint8Array() : encoder.encode(JSON.stringify(value));
}

/** The JSON `null` as bytes: one shared array, for data that is absent (never written into). */
export const NULL_JSON_BYTES: Uint8Array = encoder.encode("null");

export function parseJsonBytes<T = unknown>(bytes: Uint8Array, fallback: T): T {
  return bytes.length === 0 ? fallback : (JSON.parse(decoder.decode(bytes)) as T);
}

/** The JSON text of bytes, or the fallback text when empty. */
export function jsonText(bytes: Uint8Array, fallback = "null"): string {
  return bytes.length === 0 ? fallback : decoder.decode(bytes);
}

export function textBytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** JSON with sorted keys and no undefined members: the same value, the same text (for digests of objects). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
