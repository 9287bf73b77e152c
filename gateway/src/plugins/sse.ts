import type { ServerResponse } from "node:http";
import { Code, ConnectError } from "@connectrpc/connect";
import { type IdleCollector, refusedStream } from "@langopen/common";
import type { FastifyReply } from "fastify";
import fp from "fastify-plugin";
import { GATEWAY_DEFAULTS } from "../config.js";
import { fromConnectError } from "./error-handler.js";

/*
 * THE server-sent events writer of the gateway: every SSE byte goes out through this module.
 * Routes hand it the headers their contract asks for and a function that opens the
 * server-streaming RPC; it answers 200 with the headers flushed at once, writes one frame per
 * event, keeps idle connections alive with comment heartbeats, and turns a failed stream into
 * an `error` event, or into a bare close the clients reconnect from.
 */

/** One event of a run or thread stream, as the api-server sends it (a RunEvent). */
export interface SseEvent {
  /** The SSE id; empty for none. */
  id: string;
  /** The SSE event name (metadata, values, updates, ..., error, end). */
  event: string;
  /** The data: JSON bytes, written as they are. */
  dataJson: Uint8Array;
}

export interface EventStreamOptions {
  /** Headers of the answer besides the SSE ones, e.g. `Location` and `Content-Location`. */
  headers?: Record<string, string>;
  /**
   * Opens the server-streaming RPC whose events are sent. The signal aborts when the client
   * goes away or the gateway stops; the stream ends after the `end` event.
   */
  open: (signal: AbortSignal) => AsyncIterable<SseEvent>;
  /**
   * Whether the stream is over after its first `end` event (default true, as for a run). A
   * thread stream carries one `end` per run and stays open, so it passes false.
   */
  closesAtEnd?: boolean;
}

declare module "fastify" {
  interface FastifyReply {
    /** Answers with an event stream; the reply is hijacked, so the handler must not send anything else. */
    sendEventStream(options: EventStreamOptions): Promise<void>;
  }
}

export const DEFAULT_HEARTBEAT_MS = GATEWAY_DEFAULTS.SSE_HEARTBEAT_MS;

/** How long a stopping gateway waits for its open streams to close. */
const SHUTDOWN_WAIT_MS = 5_000;

/** The comment written after every heartbeat interval without a frame. */
export const HEARTBEAT_FRAME = Buffer.from(": heartbeat\n\n");

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const NULL_JSON = Buffer.from("null");

/** A field value on one line: CR and LF would end the field early. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]/g, "");
}

/**
 * JSON bytes made safe for one `data:` line without re-encoding them. Raw CR or LF cannot occur
 * inside a JSON string (they must be escaped there), so any that appear are whitespace between
 * tokens, and a space means the same. Empty bytes become `null`: every data line is JSON.
 */
export function dataLine(json: Uint8Array): Buffer {
  if (json.length === 0) return NULL_JSON;
  const bytes = Buffer.from(json.buffer, json.byteOffset, json.byteLength);
  if (!bytes.includes(LF) && !bytes.includes(CR)) return bytes;
  const copy = Buffer.from(bytes);
  for (let i = 0; i < copy.length; i++) if (copy[i] === LF || copy[i] === CR) copy[i] = SPACE;
  return copy;
}

/** One event as it goes on the wire, in parts: `event:` and `data:`, the data, and `id:` when the event has one. */
export function eventParts(event: SseEvent): [Buffer, Buffer, Buffer] {
  const id = oneLine(event.id);
  return [
    Buffer.from(`event: ${oneLine(event.event)}\ndata: `),
    dataLine(event.dataJson),
    Buffer.from(id === "" ? "\n\n" : `\nid: ${id}\n\n`),
  ];
}

/** One event as it goes on the wire, in one buffer. */
export function encodeEvent(event: SseEvent): Buffer {
  return Buffer.concat(eventParts(event));
}

/**
 * Data from this size on is not copied into a frame: the parts are written corked, which the
 * socket sends as one write (one chunk of the chunked answer). A copy of a 19 MB event cost about
 * as much as everything else the gateway does with it.
 */
const LARGE_EVENT_BYTES = 64 * 1024;

/** A class-like name for a Connect code, as the `error` of an `error` event (`NotFoundError`). */
export function errorName(code: Code): string {
  return `${Code[code] ?? "Unknown"}Error`;
}

/**
 * What a stream that failed with this error ends with: an `error` event with the public message
 * led by its HTTP status for a client error (generic for internal failures), or nothing for a lost api-server or an interrupted call, so
 * that the client reconnects through `Location` with its `Last-Event-ID`.
 */
export function errorEvent(err: unknown): SseEvent | undefined {
  const connectErr = err instanceof ConnectError ? err : undefined;
  if (connectErr && (connectErr.code === Code.Unavailable || connectErr.code === Code.Canceled)) return undefined;
  if (refusedStream(err)) return undefined;
  const name = connectErr ? errorName(connectErr.code) : "InternalError";
  const status = connectErr ? fromConnectError(connectErr) : undefined;
  // "404: Run … not found", as upstream words an HTTP error met mid-stream.
  const message =
    status && status.statusCode < 500 ? `${status.statusCode}: ${status.detail}` : (status?.detail ?? "Internal Server Error");
  return { id: "", event: "error", dataJson: Buffer.from(JSON.stringify({ error: name, message })) };
}

/** Why a stream was stopped from the gateway's side. */
type StopReason = "client" | "shutdown";

interface ActiveStream {
  stop(reason: StopReason): void;
  done: Promise<void>;
}

/** Writes an event's frame; resolves once the socket can take more (false when it is gone). */
async function writeEvent(res: ServerResponse, event: SseEvent): Promise<boolean> {
  if (event.dataJson.length < LARGE_EVENT_BYTES) return write(res, encodeEvent(event));
  if (res.destroyed || res.writableEnded) return false;
  res.cork();
  let more = true;
  for (const part of eventParts(event)) more = res.write(part);
  res.uncork();
  return more || drained(res);
}

/** Writes a chunk; resolves once the socket can take more (false when it is gone). */
async function write(res: ServerResponse, chunk: Buffer): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return false;
  if (res.write(chunk)) return true;
  return drained(res);
}

/** Resolves once the answer can take more (true) or is gone (false). */
async function drained(res: ServerResponse): Promise<boolean> {
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
  return !res.destroyed;
}

export interface SseOptions {
  /** Idle time after which a heartbeat comment is written (default 5 s). */
  heartbeatMs?: number;
  /** Counts each stream in flight, to give back what large ones left (see createIdleCollector); absent: V8 alone decides. */
  collector?: IdleCollector;
}

/**
 * Decorates replies with `sendEventStream` and closes every open stream (without `end`, so the
 * clients reconnect elsewhere) when the gateway stops.
 */
export const ssePlugin = fp<SseOptions>(
  async (fastify, options) => {
    const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    const active = new Set<ActiveStream>();
    let stopping = false;

    fastify.addHook("preClose", async () => {
      stopping = true;
      const streams = [...active];
      for (const stream of streams) stream.stop("shutdown");
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(streams.map((s) => s.done)),
        new Promise((resolve) => {
          timer = setTimeout(resolve, SHUTDOWN_WAIT_MS);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
    });

    /** Relays the events until the stream ends, fails, the client leaves or the gateway stops. */
    const relay = async (reply: FastifyReply, { open, closesAtEnd = true }: EventStreamOptions) => {
      const res = reply.raw;
      const log = reply.log;
      const controller = new AbortController();
      let stoppedBy: StopReason | undefined;
      const stop = (reason: StopReason) => {
        if (controller.signal.aborted) return;
        stoppedBy = reason;
        controller.abort(
          reason === "shutdown"
            ? new ConnectError("gateway is shutting down", Code.Unavailable)
            : new ConnectError("client closed the stream", Code.Canceled),
        );
      };
      const onClose = () => {
        if (!res.writableFinished) stop("client");
      };
      res.once("close", onClose);
      if (res.destroyed) stop("client");

      const heartbeat = setTimeout(function beat() {
        if (res.destroyed || res.writableEnded) return;
        res.write(HEARTBEAT_FRAME);
        heartbeat.refresh();
      }, heartbeatMs);
      heartbeat.unref();

      let resolveDone: () => void = () => {};
      const entry: ActiveStream = { stop, done: new Promise<void>((resolve) => (resolveDone = resolve)) };
      active.add(entry);

      let events = 0;
      let sawEnd = false;
      let outcome = "ended";
      try {
        for await (const event of open(controller.signal)) {
          // The api-server ends the stream right after `end`; anything later is not sent.
          if (sawEnd) continue;
          if (!(await writeEvent(res, event))) break;
          heartbeat.refresh();
          events++;
          if (closesAtEnd && event.event === "end") sawEnd = true;
        }
        if (!sawEnd && closesAtEnd) outcome = "closed before its end";
      } catch (err) {
        if (stoppedBy !== undefined) {
          outcome = stoppedBy === "client" ? "closed by the client" : "closed for shutdown";
        } else {
          const frame = errorEvent(err);
          if (frame) {
            await writeEvent(res, frame);
            outcome = "failed";
            const status = err instanceof ConnectError ? fromConnectError(err).statusCode : 500;
            if (status >= 500) log.error({ err }, "Failed event stream");
            else log.debug({ err }, "Ended event stream with an error");
          } else {
            outcome = "lost its upstream";
            log.warn({ err }, "Closed event stream without its end so that the client reconnects");
          }
        }
      } finally {
        clearTimeout(heartbeat);
        res.off("close", onClose);
        // Releases the call if the loop stopped early; a no-op for a stream that ended.
        controller.abort();
        active.delete(entry);
        resolveDone();
        log.debug({ url: reply.request.url, events, outcome }, "Closed event stream");
      }
    };

    async function sendEventStream(reply: FastifyReply, streamOptions: EventStreamOptions): Promise<void> {
      const res = reply.raw;
      reply.hijack();
      // From here on nothing may escape: Fastify no longer answers for this reply.
      try {
        const headers: Record<string, string | number | string[]> = {};
        for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value;
        Object.assign(headers, streamOptions.headers, {
          "content-type": "text/event-stream",
          "cache-control": "no-store",
          "x-accel-buffering": "no",
          connection: "keep-alive",
        });
        res.writeHead(200, headers);
        res.flushHeaders();
        if (reply.request.method !== "HEAD" && !stopping) {
          const relayed = options.collector?.begin();
          try {
            await relay(reply, streamOptions);
          } finally {
            relayed?.();
          }
        }
      } catch (err) {
        reply.log.error({ err }, "Failed event stream");
      } finally {
        if (!res.destroyed && !res.writableEnded) res.end();
      }
    }

    fastify.decorateReply("sendEventStream", function (this: FastifyReply, streamOptions: EventStreamOptions) {
      return sendEventStream(this, streamOptions);
    });
  },
  { name: "sse", fastify: "5.x" },
);

/** The events of a server-streaming RPC whose messages wrap a RunEvent (StreamRun, StreamThread). */
export async function* runEvents(stream: AsyncIterable<{ event?: SseEvent }>): AsyncIterable<SseEvent> {
  for await (const message of stream) if (message.event !== undefined) yield message.event;
}
