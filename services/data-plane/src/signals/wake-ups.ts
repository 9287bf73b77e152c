import { EventEmitter } from "node:events";
import type { Logger, Redis, RedisKeys } from "@langopen/common";

/** A run just created, announced with its wake-up: its id and its spec as stored. */
export interface CreatedRunSpec {
  runId: string;
  spec: Uint8Array;
}

/** Wake-ups for workers: a hint that a run may be runnable (workers poll Postgres too: a lost one only delays). */
export interface WakeUps {
  /**
   * Tells one waiting worker that a run may be runnable. `created`, the run just created: in this
   * process, its spec is kept for the worker that claims it (takeSpec), which then does not read
   * back what was just written (a run's input may be megabytes). Over Redis only the wake-up goes.
   */
  wake(created?: CreatedRunSpec): Promise<void>;
  /**
   * The spec of a run announced by a wake-up in this process, handed over once (undefined over
   * Redis, once taken, or when it was dropped: only a few recent ones are kept, for a minute).
   */
  takeSpec(runId: string): Uint8Array | undefined;
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
    takeSpec: () => undefined,
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

/** How many announced specs, how many bytes of them, and for how long, local wake-ups keep for a claim (see WakeUps.takeSpec). */
const KEPT_SPECS = 32;
const KEPT_SPEC_BYTES = 64 * 1024 * 1024;
const KEPT_SPEC_MS = 60_000;

/** Wake-ups in this process: a counter of pending ones and an event for waiters. */
export function createLocalWakeUps(): WakeUps & { close(): void } {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  let pending = 0;
  // Oldest first (a Map keeps insertion order): runs claimed elsewhere, or never, fall off the end.
  const specs = new Map<string, { spec: Uint8Array; at: number }>();
  let keptBytes = 0;
  const drop = (runId: string) => {
    const kept = specs.get(runId);
    if (kept) keptBytes -= kept.spec.byteLength;
    specs.delete(runId);
    return kept;
  };
  const dropStale = (now: number) => {
    for (const [runId, kept] of specs) {
      if (specs.size <= KEPT_SPECS && keptBytes <= KEPT_SPEC_BYTES && now - kept.at < KEPT_SPEC_MS) break;
      drop(runId);
    }
  };
  return {
    async wake(created) {
      if (created) {
        drop(created.runId);
        specs.set(created.runId, { spec: created.spec, at: Date.now() });
        keptBytes += created.spec.byteLength;
        dropStale(Date.now());
      }
      pending += 1;
      emitter.emit("wake");
    },
    takeSpec(runId) {
      const kept = drop(runId);
      return kept && Date.now() - kept.at < KEPT_SPEC_MS ? kept.spec : undefined;
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
      specs.clear();
      keptBytes = 0;
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
