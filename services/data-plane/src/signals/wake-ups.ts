import { EventEmitter } from "node:events";
import type { Logger, Redis, RedisKeys } from "@langopen/common";

/** Wake-ups for workers: a hint that a run may be runnable (workers poll Postgres too: a lost one only delays). */
export interface WakeUps {
  /** Tells one waiting worker that a run may be runnable. */
  wake(): Promise<void>;
  /** Waits up to timeoutMs for a wake-up; true when one came. */
  waitForWake(timeoutMs: number, signal: AbortSignal): Promise<boolean>;
}

/** Wake-ups as a Redis list that workers block on, one sentinel per wake-up. */
export function createRedisWakeUps(redis: Redis, keys: RedisKeys, logger: Logger): WakeUps & { close(): void } {
  let blocking: Redis | undefined;
  return {
    async wake() {
      await redis.lpush(keys.wakeQueue, "1");
    },
    async waitForWake(timeoutMs, signal) {
      if (signal.aborted) return false;
      if (!blocking) {
        blocking = redis.duplicate();
        blocking.on("error", (err) => logger.debug({ err }, "Redis blocking connection error"));
      }
      const conn = blocking;
      // Ends the blocked call at once: a reconnecting disconnect would send it again. The next
      // wait opens a new connection.
      const onAbort = () => {
        if (blocking === conn) blocking = undefined;
        conn.disconnect();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        const got = await conn.blpop(keys.wakeQueue, Math.max(timeoutMs / 1000, 0.01));
        return got !== null;
      } catch (err) {
        if (!signal.aborted) {
          logger.debug({ err }, "Failed waiting for a wake-up");
          await new Promise((r) => setTimeout(r, Math.min(timeoutMs, 1_000)));
        }
        return false;
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    },
    close() {
      blocking?.disconnect();
    },
  };
}

/** Wake-ups in this process: a counter of pending ones and an event for waiters. */
export function createLocalWakeUps(): WakeUps & { close(): void } {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  let pending = 0;
  return {
    async wake() {
      pending += 1;
      emitter.emit("wake");
    },
    async waitForWake(timeoutMs, signal) {
      if (pending > 0) {
        pending -= 1;
        return true;
      }
      const woke = await waitForEvent(emitter, "wake", timeoutMs, signal);
      if (woke && pending > 0) pending -= 1;
      return woke;
    },
    close() {
      emitter.removeAllListeners();
    },
  };
}

/** Waits up to timeoutMs for one emission of event; false on timeout or abort. Leaves no listener behind. */
export function waitForEvent(emitter: EventEmitter, event: string, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const done = (value: boolean) => {
      clearTimeout(timer);
      emitter.off(event, onEvent);
      signal.removeEventListener("abort", onAbort);
      resolve(value);
    };
    const onEvent = () => done(true);
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    emitter.once(event, onEvent);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
