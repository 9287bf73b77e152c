import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { CheckpointCallSchema, CheckpointReply } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";

/** A checkpoint call to send to the caller on the run's own stream. */
export type CallerCall = MessageInitShape<typeof CheckpointCallSchema>;
/** What `track` yields besides the graph's chunks: a call to hand to the caller. */
export class OutgoingCall {
  constructor(readonly call: CallerCall) {}
}

/** The call could not go on the run's stream (the run's reader is done): make it another way. */
export class NotSentError extends Error {}

interface PendingCall {
  resolve: (reply: CheckpointReply) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
}

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
  private outbox: OutgoingCall[] = [];
  private outboxWaiter?: () => void;
  private readonly calls = new Map<bigint, PendingCall>();
  private nextCallId = 0n;

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

  /**
   * Reads the graph's stream, noting when the reader is waiting on the graph, and yields the
   * calls queued for the caller while it waits.
   */
  async *track<T>(source: AsyncIterable<T>): AsyncGenerator<T | OutgoingCall> {
    const iterator = source[Symbol.asyncIterator]();
    let done = false;
    let pending: Promise<IteratorResult<T>> | undefined;
    try {
      for (;;) {
        const queued = this.outbox.shift();
        if (queued) {
          yield queued;
          continue;
        }
        this.setPulling(true);
        let next: IteratorResult<T> | undefined;
        try {
          pending ??= iterator.next();
          next = await Promise.race([
            pending,
            new Promise<undefined>((resolve) => (this.outboxWaiter = () => resolve(undefined))),
          ]);
        } finally {
          this.outboxWaiter = undefined;
          this.setPulling(false);
        }
        if (next === undefined) continue;
        pending = undefined;
        if (next.done) {
          done = true;
          return;
        }
        yield next.value;
      }
    } finally {
      this.ended = true;
      this.wakePullWaiters();
      // Calls that can no longer go on the stream are made another way.
      for (const queued of this.outbox.splice(0))
        this.settleCall(queued.call.id, undefined, new NotSentError("the run's stream has ended"));
      if (!done) await iterator.return?.();
    }
  }

  /**
   * Sends a checkpoint call to the caller on the run's stream once everything the graph produced
   * before it has been handed over, and resolves with the caller's reply. Rejects with
   * NotSentError when the call cannot go on the stream any more.
   */
  async call(kind: CallerCall["kind"], timeoutMs: number): Promise<CheckpointReply> {
    const gone = () => new NotSentError("the run's stream has ended");
    if (this.ended) throw gone();
    await this.handedOver().catch(() => {
      throw gone();
    });
    if (this.ended) throw gone();
    const id = ++this.nextCallId;
    return new Promise<CheckpointReply>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          this.settleCall(
            id,
            undefined,
            new ConnectError(`the worker did not answer a checkpoint call within ${timeoutMs} ms`, Code.DeadlineExceeded),
          ),
        timeoutMs,
      );
      this.calls.set(id, { resolve, reject, timer });
      this.outbox.push(new OutgoingCall({ id, kind }));
      this.outboxWaiter?.();
    });
  }

  /** The caller's reply to a call. */
  reply(reply: CheckpointReply): void {
    this.settleCall(reply.id, reply);
  }

  private settleCall(id: bigint | undefined, reply?: CheckpointReply, err?: unknown): void {
    const pending = id === undefined ? undefined : this.calls.get(id);
    if (!pending || id === undefined) return;
    this.calls.delete(id);
    clearTimeout(pending.timer);
    if (reply) pending.resolve(reply);
    else pending.reject(err);
  }

  /**
   * Resolves once the reader waits on the graph after a full turn of the event loop: everything
   * the graph produced before this call has been handed to the caller by then.
   */
  async handedOver(): Promise<void> {
    for (;;) {
      // A full turn: whatever the graph queued before this call has reached the reader by then,
      // unless the reader is busy handing events over.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.closedWith !== undefined) throw this.closedWith;
      if (this.pulling || this.ended) return;
      await new Promise<void>((resolve) => this.pullWaiters.push(resolve));
    }
  }

  /** Resolves once every event the graph produced before this call is acknowledged. */
  async settled(): Promise<void> {
    if (!this.options.acknowledged) return;
    await this.handedOver();
    const target = this.handed;
    if (this.acked >= target) return;
    if (this.closedWith !== undefined) throw this.closedWith;
    await new Promise<void>((resolve, reject) => {
      const timeoutMs = this.options.ackTimeoutMs ?? 30_000;
      const timer = setTimeout(
        () =>
          this.lose(new ConnectError(`the worker did not acknowledge the run's events within ${timeoutMs} ms`, Code.Unavailable)),
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
    this.outbox = [];
    for (const [id] of this.calls) this.settleCall(id, undefined, reason);
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
