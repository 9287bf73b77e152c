const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** JSON payloads that travel as bytes (state values, event data). Empty bytes mean "absent". */
export function jsonBytes(value: unknown): Uint8Array {
  return value === undefined ? new Uint8Array() : encoder.encode(JSON.stringify(value));
}

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
