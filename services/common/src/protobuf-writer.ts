import { BinaryWriter } from "@bufbuild/protobuf/wire";

/** The (private) fields of protobuf-es's BinaryWriter (2.x) that join works on, and the method it uses. */
interface WriterState {
  chunks: Uint8Array[];
  buf: number[];
  stack: Array<{ chunks: Uint8Array[]; buf: number[] }>;
  uint32(value: number): unknown;
}

const PATCHED = Symbol.for("langopen.protobuf.join-without-copies");

/**
 * Makes protobuf-es encode nested messages without copying them. Its BinaryWriter (2.13) ends each
 * nested message with `join()`, which concatenates everything written inside it into a fresh array
 * (`finish()`) before adding it to the enclosing message: the bytes of a field nested N messages
 * deep are copied N + 1 times. A run's input travels 3 deep to the runtime, a checkpoint 5 deep back
 * to the worker; for a 9 MB message that was a good part of the runtime's time (each fresh copy of
 * megabytes also costs the page faults of new memory). Here `join()` hands the nested chunks to the
 * enclosing message as they are, after the length prefix it writes as before, so the one
 * concatenation left is the outermost `finish()`. The bytes written are the same.
 *
 * Idempotent; every service that serializes messages (its RPC server and clients) calls it.
 */
export function encodeNestedMessagesWithoutCopies(): void {
  const proto = BinaryWriter.prototype as unknown as Record<symbol, boolean> & { join(): BinaryWriter };
  if (proto[PATCHED] || !hasKnownShape()) return;
  proto.join = function join(this: WriterState): BinaryWriter {
    if (this.buf.length > 0) {
      this.chunks.push(new Uint8Array(this.buf));
      this.buf = [];
    }
    const nested = this.chunks;
    let length = 0;
    for (const chunk of nested) length += chunk.byteLength;
    const previous = this.stack.pop();
    if (!previous) throw new Error("invalid state, fork stack empty");
    this.chunks = previous.chunks;
    this.buf = previous.buf;
    this.uint32(length);
    if (this.buf.length > 0) {
      this.chunks.push(new Uint8Array(this.buf));
      this.buf = [];
    }
    for (const chunk of nested) this.chunks.push(chunk);
    return this as unknown as BinaryWriter;
  };
  proto[PATCHED] = true;
}

/**
 * Whether BinaryWriter keeps the private state this replacement of join() works on (2.13's shape).
 * Another version of protobuf-es, with another writer, is left as it is: only slower.
 */
function hasKnownShape(): boolean {
  const writer = new BinaryWriter().fork() as unknown as Partial<WriterState>;
  return (
    Array.isArray(writer.chunks) &&
    Array.isArray(writer.buf) &&
    Array.isArray(writer.stack) &&
    writer.stack.length === 1 &&
    typeof writer.uint32 === "function"
  );
}
