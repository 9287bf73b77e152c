import { Code } from "@connectrpc/connect";
import { RETRY_AFTER_METADATA, Reason, reasoned } from "@langopen/common";

export interface AdmissionDeps {
  /** How many runs are runnable now, counting at most `atMost` (RunStore.countRunnable). */
  countRunnable: (atMost: number) => Promise<number>;
  /** The backlog past which new runs are refused; 0: every run is admitted. */
  maxPending: number;
  /** How stale the count may be before an admission reads it again. */
  refreshMs: number;
  /** Milliseconds of a monotonic clock (tests may fix it). */
  now?: () => number;
}

/** Admission control of new runs: refuses them while the backlog of runnable runs is over its budget. */
export interface Admission {
  /** Resolves when a new run may be created; RESOURCE_EXHAUSTED (reason OVERLOADED) while the backlog is full. */
  admit(): Promise<void>;
  /** A run was created (counted until the next refresh, which sees it in the table). */
  created(): void;
}

/** How long a refused create suggests waiting: the backlog drains at the workers' pace, seconds at least. */
const OVERLOADED_RETRY_AFTER_SECONDS = 2;

/**
 * Admission from a count of the backlog read at most every `refreshMs` (one query at a time,
 * shared by the creates that wait for it), plus the runs this process created since: a create
 * costs no query of its own, and the count's work is bounded by the budget (it stops counting
 * there). Other processes' creates since the last count are not seen, so the budget may be
 * overshot by what they create within one refresh interval: a soft bound, which is what a
 * backlog budget needs (it keeps the queue from growing without end, not at an exact size).
 */
export function createAdmission(deps: AdmissionDeps): Admission {
  const now = deps.now ?? (() => performance.now());
  let counted = 0;
  let createdSince = 0;
  let countedAt = Number.NEGATIVE_INFINITY;
  let refreshing: Promise<void> | undefined;

  const refresh = (): Promise<void> => {
    refreshing ??= (async () => {
      try {
        const startedAt = now();
        const n = await deps.countRunnable(deps.maxPending);
        counted = n;
        createdSince = 0;
        countedAt = startedAt;
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  };

  return {
    async admit() {
      if (deps.maxPending <= 0) return;
      if (now() - countedAt >= deps.refreshMs) await refresh();
      if (counted + createdSince < deps.maxPending) return;
      throw reasoned(
        Code.ResourceExhausted,
        Reason.Overloaded,
        `The server has ${deps.maxPending} or more runs waiting to run; try again later`,
        { metadata: { [RETRY_AFTER_METADATA]: String(OVERLOADED_RETRY_AFTER_SECONDS) } },
      );
    },
    created() {
      createdSince++;
    },
  };
}
