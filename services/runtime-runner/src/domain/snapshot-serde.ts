import { JsonPlusSerializer, type SerializerProtocol } from "@langchain/langgraph-checkpoint";
import { isMessage } from "./plain-json.js";

/** A value kept as a copy of its structure (see copyTree): what the JSON round trip would give back. */
export class Snapshot {
  constructor(private readonly value: unknown) {}

  /** A copy of the value of its own: changing it changes neither the saved value nor other reads. */
  read(): unknown {
    return copyTree(this.value, false);
  }
}

/** A snapshot of a value, or undefined when only the JSON serializer reproduces its round trip. */
export function snapshotOf(value: unknown): Snapshot | undefined {
  const copy = value instanceof Uint8Array ? NOT_PLAIN : copyTree(value, false);
  return copy === NOT_PLAIN ? undefined : new Snapshot(copy);
}

/** copyTree's answer for a value whose JSON round trip is not a plain copy: serialize it then. */
const NOT_PLAIN = Symbol("not plain");

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A copy of `value` that is what the JSON serializer's round trip would give back, or NOT_PLAIN when
 * that needs more than copying: objects and arrays are copied (numbers that JSON writes differently
 * are changed as it would: NaN and infinities become null, -0 becomes 0; functions are left out of
 * objects and become null in arrays), strings are shared, and LangChain messages are kept as they are
 * (the round trip builds an equal message from the same fields). Anything else (class instances,
 * Dates, Maps, typed arrays, bigints, objects that look like serialized LangChain objects) is left
 * to the serializer.
 */
function copyTree(value: unknown, inArray: boolean, path: Set<object> = new Set()): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "undefined":
      return value;
    case "number":
      if (!Number.isFinite(value)) return null;
      return value === 0 ? 0 : value;
    case "function":
    case "symbol":
      return inArray ? null : undefined;
    case "bigint":
      return NOT_PLAIN;
  }
  if (value === null) return null;
  const object = value as object;
  if (isMessage(object)) return object;
  // A cycle: the serializer writes it its own way.
  if (path.has(object)) return NOT_PLAIN;
  path.add(object);
  try {
    if (Array.isArray(object)) {
      const out = new Array(object.length);
      for (let i = 0; i < object.length; i++) {
        const item = copyTree(object[i], true, path);
        if (item === NOT_PLAIN) return NOT_PLAIN;
        out[i] = item;
      }
      return out;
    }
    if (!isPlainObject(object) || "lc" in object || "toJSON" in object) return NOT_PLAIN;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(object)) {
      if (key === "__proto__") return NOT_PLAIN;
      const raw = (object as Record<string, unknown>)[key];
      if (typeof raw === "function" || typeof raw === "symbol") continue;
      const item = copyTree(raw, false, path);
      if (item === NOT_PLAIN) return NOT_PLAIN;
      out[key] = item;
    }
    return out;
  } finally {
    path.delete(object);
  }
}

/**
 * The serializer of the in-memory checkpoints of a stateless run (whose thread goes when it ends):
 * a checkpoint or a write made of plain data and messages is kept as a copy of its structure instead
 * of as JSON text, and each read gets a fresh copy, so a later change to the live state never shows
 * in a saved one. Nothing leaves the process, and reading it back gives what the JSON round trip
 * would; the serializing and parsing of a whole state at every step is gone (for a run carrying a
 * 9 MB message that was a third of the runtime's time). Anything else goes through the JSON
 * serializer as before.
 */
export class SnapshotSerde implements SerializerProtocol {
  private readonly json = new JsonPlusSerializer();

  async dumpsTyped(value: unknown): Promise<[string, Uint8Array]> {
    const snapshot = snapshotOf(value);
    if (snapshot === undefined) return this.json.dumpsTyped(value);
    // MemorySaver keeps what it is given and hands it back to loadsTyped: the type says so only.
    return ["json", snapshot as unknown as Uint8Array];
  }

  async loadsTyped(type: string, data: Uint8Array | string): Promise<unknown> {
    if ((data as unknown) instanceof Snapshot) return (data as unknown as Snapshot).read();
    return this.json.loadsTyped(type, data);
  }
}
