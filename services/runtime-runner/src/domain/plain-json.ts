/**
 * Graph values, stream chunks and events hold LangChain messages, class instances, Dates and
 * the like. Clients expect plain JSON: a message as the dict the SDKs know
 * ({type: "human" | "ai" | "tool" | "system", content, id, name, additional_kwargs,
 * response_metadata, tool_calls, ...}), never LangChain's {lc, type: "constructor", ...} form.
 */

const MESSAGE_BRAND = Symbol.for("langchain.message");
const encoder = new TextEncoder();

interface MessageLike {
  toDict(): { type: string; data: Record<string, unknown> };
}

/** A LangChain message (any copy of @langchain/core). */
export function isMessage(value: unknown): value is MessageLike & Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Record<string | symbol, unknown>;
  return (
    typeof candidate.toDict === "function" &&
    (candidate[MESSAGE_BRAND] === true || typeof candidate._getType === "function" || typeof candidate.getType === "function")
  );
}

/** Message fields read from the instance, which holds them normalised (tool call types, ids). */
const MESSAGE_FIELDS = [
  "content",
  "additional_kwargs",
  "response_metadata",
  "id",
  "name",
  "tool_calls",
  "invalid_tool_calls",
  "tool_call_chunks",
  "usage_metadata",
  "tool_call_id",
  "artifact",
  "status",
] as const;

/** The dict form of a message, with the keys the SDKs read always present. */
export function messageToDict(message: MessageLike, seen: Set<object> = new Set()): Record<string, unknown> {
  const { type, data } = message.toDict();
  const dict = toPlain(data, seen) as Record<string, unknown>;
  const instance = message as unknown as Record<string, unknown>;
  for (const field of MESSAGE_FIELDS) {
    const value = toPlain(instance[field], seen);
    if (value !== undefined) dict[field] = value;
  }
  const out: Record<string, unknown> = {
    ...dict,
    type,
    content: dict.content ?? "",
    additional_kwargs: dict.additional_kwargs ?? {},
    response_metadata: dict.response_metadata ?? {},
    name: dict.name ?? null,
    id: dict.id ?? null,
  };
  if (type === "ai") {
    out.tool_calls = dict.tool_calls ?? [];
    out.invalid_tool_calls = dict.invalid_tool_calls ?? [];
    out.usage_metadata = dict.usage_metadata ?? null;
  }
  return out;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === null || proto === Object.prototype;
}

/**
 * A JSON-safe copy of a value: messages become dicts, Dates ISO strings, Maps objects, Sets and
 * typed arrays lists, errors {error, message}, objects with toJSON their JSON; functions,
 * symbols and circular references are dropped.
 */
export function toPlain(value: unknown, seen: Set<object> = new Set()): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : null;
    case "bigint":
      return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  if (value === null) return null;
  const object = value as object;
  if (seen.has(object)) return undefined;
  seen.add(object);
  try {
    if (Array.isArray(object)) return object.map((item) => toPlain(item, seen) ?? null);
    if (isMessage(object)) return messageToDict(object, seen);
    if (object instanceof Date) return Number.isNaN(object.getTime()) ? null : object.toISOString();
    if (object instanceof Error) return { error: errorName(object), message: object.message };
    if (object instanceof Map) return toPlain(Object.fromEntries(object), seen);
    if (object instanceof Set) return toPlain([...object], seen);
    if (ArrayBuffer.isView(object)) return Array.from(new Uint8Array(object.buffer, object.byteOffset, object.byteLength));
    const withJson = object as { toJSON?: unknown };
    if (!isPlainObject(object) && typeof withJson.toJSON === "function") {
      const json = (withJson.toJSON as () => unknown).call(object);
      return json === object ? plainObject(object, seen) : toPlain(json, seen);
    }
    return plainObject(object, seen);
  } finally {
    seen.delete(object);
  }
}

function plainObject(object: object, seen: Set<object>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(object)) {
    const plain = toPlain(item, seen);
    if (plain !== undefined) out[key] = plain;
  }
  return out;
}

/** The class name of an error, as clients see it in {error, message}. */
export function errorName(err: Error): string {
  if (err.name && err.name !== "Error") return err.name;
  const ctor = (err as { constructor?: { name?: string } }).constructor?.name;
  return ctor && ctor.length > 0 ? ctor : "Error";
}

/** {error, message} for anything thrown. */
export function errorBody(err: unknown): { error: string; message: string } {
  if (err instanceof Error) return { error: errorName(err), message: err.message };
  // An error that went through a checkpoint comes back as a plain object.
  if (typeof err === "object" && err !== null && typeof (err as { message?: unknown }).message === "string") {
    const { name, message } = err as { name?: unknown; message: string };
    return { error: typeof name === "string" && name !== "" ? name : "Error", message };
  }
  return { error: "Error", message: typeof err === "string" ? err : (JSON.stringify(toPlain(err)) ?? String(err)) };
}

/**
 * Whether two plain forms (toPlain's output) print as the same JSON: the same values, with the
 * keys of every object in the same order. Cheaper than printing them: strings that are one are
 * compared by reference, and values of the same run share theirs.
 */
export function samePlainJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!samePlainJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  for (let i = 0; i < keysA.length; i++) {
    const key = keysA[i] as string;
    if (key !== keysB[i]) return false;
    if (!samePlainJson((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/** JSON text of the plain form; `null` for undefined. */
export function plainJsonText(value: unknown): string {
  return JSON.stringify(toPlain(value)) ?? "null";
}

export function plainJsonBytes(value: unknown): Uint8Array {
  return encoder.encode(plainJsonText(value));
}
