export interface UntilOptions {
  /** Give up after this long (default 20 s). */
  timeoutMs?: number;
  /** Pause between probes (default 50 ms). */
  intervalMs?: number;
  /** A probe that throws counts as not yet (a service still down), instead of failing the wait. */
  retryErrors?: boolean;
}

/**
 * Probes until the answer is neither undefined nor false, and returns it; throws "timed out
 * waiting for <what>" after the timeout. Bounded in time, for tests that wait on a real system.
 */
export async function until<T>(
  probe: () => Promise<T | undefined | false>,
  what: string,
  options: UntilOptions = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    const value = options.retryErrors ? await probe().catch(() => undefined) : await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}
