import { type Logger, startPolling } from "@langopen/common";
import type { ItemStore, Signals, ThreadStore } from "@langopen/data-plane";

/*
 * The retention sweeper: applies expired TTLs. Threads with strategy `delete` are deleted with
 * their runs and checkpoints (and their event logs); threads with `keep_latest` are pruned to
 * their latest checkpoints and their clock restarts (expires_at moves one TTL on, so a thread in
 * use is pruned again a TTL later); expired store items are deleted. Readers never see expired
 * delete-TTL threads or expired items even before a sweep: the stores filter them out. Every
 * worker runs one; rows are claimed with SKIP LOCKED, so sweepers never do the same work twice.
 */

export interface SweeperDeps {
  threads: ThreadStore;
  items: ItemStore;
  /** When given, the event logs of deleted threads are dropped too. */
  signals?: Signals;
  logger: Logger;
  /** Rows handled per statement; a sweep goes on until a batch comes back short. */
  batchSize?: number;
}

export interface SweepResult {
  deletedThreads: number;
  prunedThreads: number;
  deletedItems: number;
}

const DEFAULT_BATCH = 500;

/** One full sweep: every expired thread and item, batch by batch. */
export async function sweepOnce(deps: SweeperDeps, signal?: AbortSignal): Promise<SweepResult> {
  const batch = deps.batchSize ?? DEFAULT_BATCH;
  const result: SweepResult = { deletedThreads: 0, prunedThreads: 0, deletedItems: 0 };
  for (;;) {
    if (signal?.aborted) return result;
    const { deleted, pruned } = await deps.threads.sweepExpired(batch);
    result.deletedThreads += deleted.length;
    result.prunedThreads += pruned.length;
    for (const id of deleted) await deps.signals?.dropThreadEvents(id).catch(() => {});
    if (deleted.length + pruned.length < batch) break;
  }
  for (;;) {
    if (signal?.aborted) return result;
    const n = await deps.items.deleteExpired(batch);
    result.deletedItems += n;
    if (n < batch) break;
  }
  return result;
}

export interface Sweeper {
  stop(): Promise<void>;
}

/** Sweeps at once, then every intervalMs, until stopped. */
export function startSweeper(deps: SweeperDeps & { intervalMs: number }): Sweeper {
  const { logger } = deps;
  const polling = startPolling(
    async (signal) => {
      const result = await sweepOnce(deps, signal);
      if (result.deletedThreads + result.prunedThreads + result.deletedItems > 0) logger.info(result, "Swept expired data");
    },
    { intervalMs: deps.intervalMs, logger, failure: "Retention sweep failed; trying again next interval" },
  );
  return { stop: () => polling.stop() };
}
