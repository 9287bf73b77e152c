import { EventEmitter } from "node:events";
import type { Redis, RedisKeys } from "@langopen/common";
import type { RedisChannels } from "./redis-channels.js";

export type CancelAction = "interrupt" | "rollback";

/**
 * How a run ended, as its worker has just recorded it in Postgres: its status, its error, and its
 * result as JSON bytes (null when it has none). Handed with the run's end to listeners in the same
 * process only, so that one waiting on the run need not read back megabytes its process has in
 * hand; over Redis only the run's id travels, and listeners read the run.
 */
export interface RunEnding {
  status: "success" | "error" | "timeout" | "interrupted";
  error: { error: string; message: string } | null;
  resultJson: Uint8Array | null;
}

/**
 * Notices between processes: cancel requests for the worker that owns a run, run-done notices for
 * whoever waits on a run's end, webhook notices for the dispatchers. Each is also recorded in
 * Postgres or polled for, so a lost notice only delays.
 */
export interface Notices {
  publishCancel(runId: string, action: CancelAction): Promise<void>;
  onCancel(handler: (runId: string, action: CancelAction) => void): () => void;
  /** `ending` reaches listeners in this process only (see RunEnding). */
  publishRunDone(runId: string, ending?: RunEnding): Promise<void>;
  onRunDone(handler: (runId: string, ending?: RunEnding) => void): () => void;
  /** Tells the webhook dispatchers that a delivery was queued (they poll too: a lost notice only delays it). */
  publishWebhooksDue(): Promise<void>;
  onWebhooksDue(handler: () => void): () => void;
}

/** Notices over Redis pub/sub (a cancel also leaves a key, for a worker that was not listening). */
export function createRedisNotices(redis: Redis, keys: RedisKeys, channels: RedisChannels): Notices {
  let listening = false;
  const listen = () => {
    if (!listening) channels.subscribe(keys.cancelChannel, keys.runDoneChannel);
    listening = true;
  };
  return {
    async publishCancel(runId, action) {
      // Published first: Redis at its maxmemory still publishes, though it refuses the key.
      await redis.publish(keys.cancelChannel, JSON.stringify({ runId, action }));
      await redis.set(keys.cancel(runId), action, "EX", 3600);
    },
    onCancel(handler) {
      listen();
      const listener = (message: string) => {
        const { runId, action } = JSON.parse(message) as { runId: string; action: CancelAction };
        handler(runId, action);
      };
      channels.emitter.on(keys.cancelChannel, listener);
      return () => channels.emitter.off(keys.cancelChannel, listener);
    },
    async publishRunDone(runId) {
      await redis.publish(keys.runDoneChannel, runId);
    },
    onRunDone(handler) {
      listen();
      const listener = (runId: string) => handler(runId);
      channels.emitter.on(keys.runDoneChannel, listener);
      return () => channels.emitter.off(keys.runDoneChannel, listener);
    },
    async publishWebhooksDue() {
      await redis.publish(keys.webhooksDueChannel, "");
    },
    onWebhooksDue(handler) {
      // Subscribed by the processes that send webhooks only.
      channels.subscribe(keys.webhooksDueChannel);
      const listener = () => handler();
      channels.emitter.on(keys.webhooksDueChannel, listener);
      return () => channels.emitter.off(keys.webhooksDueChannel, listener);
    },
  };
}

/** Notices in this process: one emitter. */
export function createLocalNotices(): Notices & { close(): void } {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const on = <A extends unknown[]>(event: string, handler: (...args: A) => void) => {
    const listener = (...args: unknown[]) => handler(...(args as A));
    emitter.on(event, listener);
    return () => {
      emitter.off(event, listener);
    };
  };
  return {
    async publishCancel(runId, action) {
      emitter.emit("cancel", runId, action);
    },
    onCancel: (handler) => on("cancel", handler),
    async publishRunDone(runId, ending) {
      emitter.emit("done", runId, ending);
    },
    onRunDone: (handler) => on("done", handler),
    async publishWebhooksDue() {
      emitter.emit("webhooks-due");
    },
    onWebhooksDue: (handler) => on("webhooks-due", () => handler()),
    close() {
      emitter.removeAllListeners();
    },
  };
}
