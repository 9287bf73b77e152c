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
