import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";

/**
 * How much of an oversized request body the gateway reads (and throws away) before it answers
 * 413. Answering while the client is still sending makes Node close the connection under the
 * client's upload: the client's next write fails (EPIPE, ECONNRESET) and fetch reports a network
 * error instead of the 413. Reading the rest first lets the client finish and then read the
 * answer, on a connection that stays usable. Nothing read is kept: memory stays bounded
 * whatever the size; these bounds cap the bandwidth and the time spent on it.
 */
export interface OversizedBodyDrain {
  /** Most bytes read past the point where the body was refused (default 64 MiB). */
  maxBytes: number;
  /** Longest time spent reading them (default 10 s). */
  timeoutMs: number;
}

export const DEFAULT_OVERSIZED_BODY_DRAIN: Readonly<OversizedBodyDrain> = Object.freeze({
  maxBytes: 64 * 1024 * 1024,
  timeoutMs: 10_000,
});

/** How a drain ended: `complete` when the whole body was read, so the connection may stay open. */
export type DrainOutcome =
  | { complete: true; bytes: number }
  | { complete: false; bytes: number; reason: "too-large" | "timeout" | "aborted" };

type RequestStream = Readable & Partial<Pick<IncomingMessage, "complete" | "headers">>;

/**
 * Reads the rest of a request body and discards it, within the bounds. A body whose declared
 * length already exceeds them is not read at all (Fastify refuses a declared length above the
 * limit before reading any of it).
 */
export function drainRequestBody(raw: RequestStream, { maxBytes, timeoutMs }: OversizedBodyDrain): Promise<DrainOutcome> {
  if (raw.readableEnded || raw.complete === true) return Promise.resolve({ complete: true, bytes: 0 });
  if (raw.destroyed) return Promise.resolve({ complete: false, bytes: 0, reason: "aborted" });
  const declared = Number(raw.headers?.["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return Promise.resolve({ complete: false, bytes: 0, reason: "too-large" });
  }

  return new Promise((resolve) => {
    let bytes = 0;
    const finish = (outcome: DrainOutcome) => {
      clearTimeout(timer);
      raw.removeListener("data", onData);
      raw.removeListener("end", onEnd);
      raw.removeListener("error", onAbort);
      raw.removeListener("close", onClose);
      resolve(outcome);
    };
    const onData = (chunk: Buffer | string) => {
      bytes += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length;
      if (bytes > maxBytes) finish({ complete: false, bytes, reason: "too-large" });
    };
    const onEnd = () => finish({ complete: true, bytes });
    const onAbort = () => finish({ complete: false, bytes, reason: "aborted" });
    // `close` before `end` is a client that went away mid-body.
    const onClose = () => {
      if (!raw.readableEnded) onAbort();
    };
    const timer = setTimeout(() => finish({ complete: false, bytes, reason: "timeout" }), timeoutMs);
    raw.on("data", onData);
    raw.once("end", onEnd);
    raw.once("error", onAbort);
    raw.once("close", onClose);
    raw.resume();
  });
}
