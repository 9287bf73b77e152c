import { Code, ConnectError } from "@connectrpc/connect";

export interface CallerLinkOptions {
  /** False for callers that do not acknowledge events (the deprecated ExecuteRun): writes never wait. */
  acknowledged: boolean;
  /** Longest wait of a write for its acknowledgement before the run is given up. */
  ackTimeoutMs?: number;
  /** Told once when the lease lapses or an acknowledgement is overdue; the run must stop. */
  onLost: (err: ConnectError) => void;
}

/** Share of a renewed lease the runtime trusts: the renewal travelled for some time before it arrived. */
const LEASE_TRUST = 0.9;

/**
 * The runtime's side of one Execute call: the events the run handed to its caller, those the
 * caller acknowledged as durable, and the lease the caller renews.
 *
 * `settled()` is the barrier every checkpoint and pending write passes first. LangGraph pushes
 * what a node streams into its own queue synchronously, before it asks for the checkpoint that
 * follows; the run's reader (`track`) takes from that queue in order. So once the reader waits on
 * the graph again after a full turn of the event loop, everything produced before the write has
 * been handed to the caller, and the write may go once the caller has acknowledged that many.
 * Writing a checkpoint only after the events before it are durable is what lets a successor
 * attempt resume from it without a gap in the run's stream.
 */
export class CallerLink {
  private handed = 0;
  private acked = 0;
  private pulling = false;
  private ended = false;
  private lost?: ConnectError;
  private closedWith?: unknown;
  private readonly ackWaiters = new Set<{ target: number; resolve: () => void; reject: (err: unknown) => void }>();
  private pullWaiters: Array<() => void> = [];
  private leaseTimer?: NodeJS.Timeout;

  constructor(private readonly options: CallerLinkOptions) {}

  /** Counts an event handed to the caller. */
  handedOne(): void {
    this.handed++;
  }

  /** The caller made the first `count` events durable. */
  acknowledge(count: number): void {
    if (count <= this.acked) return;
    this.acked = count;
    for (const waiter of this.ackWaiters) {
      if (waiter.target <= count) {
        this.ackWaiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  /** The caller renewed the run's lease for `validForMs` from now. */
  renewLease(validForMs: number): void {
    clearTimeout(this.leaseTimer);
    this.leaseTimer = setTimeout(
      () => this.lose(new ConnectError("the run's lease lapsed: its worker stopped renewing it", Code.Aborted)),
      Math.max(0, Math.floor(validForMs * LEASE_TRUST)),
    );
  }

  /** Reads the graph's stream, noting when the reader is waiting on the graph. */
  async *track<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
    const iterator = source[Symbol.asyncIterator]();
    let done = false;
    try {
      for (;;) {
        this.setPulling(true);
        let next: IteratorResult<T>;
        try {
          next = await iterator.next();
        } finally {
          this.setPulling(false);
        }
        if (next.done) {
          done = true;
          return;
        }
        yield next.value;
      }
    } finally {
      this.ended = true;
      this.wakePullWaiters();
      if (!done) await iterator.return?.();
    }
  }

  /** Resolves once every event the graph produced before this call is acknowledged. */
  async settled(): Promise<void> {
    if (!this.options.acknowledged) return;
    for (;;) {
      // A full turn: whatever the graph queued before this call has reached the reader by then,
      // unless the reader is busy handing events over.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.closedWith !== undefined) throw this.closedWith;
      if (this.pulling || this.ended) break;
      await new Promise<void>((resolve) => this.pullWaiters.push(resolve));
    }
    const target = this.handed;
    if (this.acked >= target) return;
    if (this.closedWith !== undefined) throw this.closedWith;
    await new Promise<void>((resolve, reject) => {
      const timeoutMs = this.options.ackTimeoutMs ?? 30_000;
      const timer = setTimeout(
        () => this.lose(new ConnectError(`the worker did not acknowledge the run's events within ${timeoutMs} ms`, Code.Unavailable)),
        timeoutMs,
      );
      const done = (fn: () => void) => () => {
        clearTimeout(timer);
        fn();
      };
      this.ackWaiters.add({ target, resolve: done(resolve), reject: (err) => done(() => reject(err))() });
    });
  }

  /** Ends the link: pending writes fail with `reason`, the lease stops counting. */
  close(reason: unknown): void {
    this.closedWith ??= reason ?? new Error("the run ended");
    clearTimeout(this.leaseTimer);
    this.ended = true;
    this.wakePullWaiters();
    for (const waiter of this.ackWaiters) waiter.reject(reason);
    this.ackWaiters.clear();
  }

  private lose(err: ConnectError): void {
    if (this.lost) return;
    this.lost = err;
    this.close(err);
    this.options.onLost(err);
  }

  private setPulling(pulling: boolean): void {
    this.pulling = pulling;
    if (pulling) this.wakePullWaiters();
  }

  private wakePullWaiters(): void {
    const waiters = this.pullWaiters;
    this.pullWaiters = [];
    for (const wake of waiters) wake();
  }
}
