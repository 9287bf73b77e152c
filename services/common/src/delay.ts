import type { Logger } from "./logger.js";

/**
 * A pause that ends after ms, when woken, or when the signal aborts, whichever is first. It
 * removes its abort listener when it ends, so long-lived signals collect no listeners.
 */
export function wakeableDelay(ms: number, signal?: AbortSignal): { done: Promise<void>; wake: () => void } {
  let wake: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", finish);
      resolve();
    };
    const timer = setTimeout(finish, ms);
    wake = finish;
    if (signal?.aborted) finish();
    else signal?.addEventListener("abort", finish, { once: true });
  });
  return { done, wake };
}

/** Resolves after ms, or at once when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return wakeableDelay(ms, signal).done;
}

export interface Polling {
  /** Runs the next pass at once: now if the loop waits, right after the current pass otherwise. */
  wake(): void;
  /** Ends the loop: the wait ends at once, a pass under way is awaited. */
  stop(): Promise<void>;
}

/**
 * A background loop: `pass` at once, then every `intervalMs` after the previous pass ended, or
 * sooner when woken. A failed pass is logged (`failure` says what failed) and retried at the
 * next turn. The signal given to `pass` aborts when the loop is stopped.
 */
export function startPolling(
  pass: (signal: AbortSignal) => Promise<void>,
  options: { intervalMs: number; logger: Pick<Logger, "warn">; failure: string },
): Polling {
  const stopping = new AbortController();
  let woken = false;
  let waiting: ReturnType<typeof wakeableDelay> | undefined;
  const loop = async () => {
    while (!stopping.signal.aborted) {
      woken = false;
      try {
        await pass(stopping.signal);
      } catch (err) {
        if (!stopping.signal.aborted) options.logger.warn({ err }, options.failure);
      }
      if (woken) continue;
      waiting = wakeableDelay(options.intervalMs, stopping.signal);
      await waiting.done;
      waiting = undefined;
    }
  };
  const running = loop();
  return {
    wake() {
      woken = true;
      waiting?.wake();
    },
    async stop() {
      stopping.abort();
      await running;
    },
  };
}
