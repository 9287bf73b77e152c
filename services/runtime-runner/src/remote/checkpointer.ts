import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { RunnableConfig } from "@langchain/core/runnables";
import {
  BaseCheckpointSaver,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  compareWritesSortKeys,
  getCheckpointId,
  type PendingWrite,
  type SerializerProtocol,
  WRITES_IDX_MAP,
  writesSortKey,
} from "@langchain/langgraph-checkpoint";
import { sleep } from "@langopen/common";
import {
  type Checkpoint as CheckpointMessage,
  CheckpointSchema,
  type PendingWrite as PendingWriteMessage,
  PendingWriteSchema,
} from "@langopen/gen/langopen/data/v1/checkpoint_pb";
import type {
  CheckpointService,
  CheckpointWriteSchema,
  StateWriteGrantSchema,
} from "@langopen/gen/langopen/data/v1/checkpoint_service_pb";
import type { FenceSchema } from "@langopen/gen/langopen/data/v1/common_pb";
import { type Snapshot, snapshotOf } from "../domain/snapshot-serde.js";

export type CheckpointClient = Client<typeof CheckpointService>;
type WriteKind = MessageInitShape<typeof CheckpointWriteSchema>["kind"];
export type FenceInit = MessageInitShape<typeof FenceSchema>;
export type StateWriteGrantInit = MessageInitShape<typeof StateWriteGrantSchema>;

export interface RemoteCheckpointerOptions {
  client: CheckpointClient;
  /** Carried by every write of a run; absent for writes made outside a run (a state update). */
  fence?: FenceInit;
  /**
   * Carried by the writes of a state update (outside a run): the api-server's grant to write the
   * thread, without which the data plane refuses the runtime's writes that carry no fence.
   */
  grant?: StateWriteGrantInit;
  /** Deadline of each call to the data plane. */
  timeoutMs?: number;
  serde?: SerializerProtocol;
  /**
   * Told when the data plane refuses or fails a write. LangGraph may write in the background
   * (durability "async") and only notice at the end; the run stops at once instead, so an
   * attempt that lost its run (a stale fence) does not go on executing beside its successor.
   */
  onWriteFailed?: (err: unknown) => void;
  /**
   * Awaited before every write of the run: resolves once the events the run produced before the
   * write are durable (see CallerLink), so a checkpoint never gets ahead of its stream.
   */
  beforeWrite?: () => Promise<void>;
  /** The run's: a write stops being retried once it aborts. */
  signal?: AbortSignal;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Configurable keys that address a checkpoint rather than describe the run. */
const ADDRESS_KEYS = new Set(["checkpoint_ns", "checkpoint_id", "checkpoint_map", "thread_id", "run_id"]);

/**
 * Removes the `\u0000` escapes that JSON allows and Postgres jsonb refuses, leaving escaped
 * backslashes followed by "u0000" alone.
 */
export function stripNulEscapes(json: string): string {
  return json.replace(/(\\+)u0000/g, (match, slashes: string) => (slashes.length % 2 === 1 ? `${slashes.slice(1)}` : match));
}

function writtenKey(threadId: string, checkpointNs: string, checkpointId?: string): string {
  return `${threadId}\u0000${checkpointNs}\u0000${checkpointId ?? ""}`;
}

function requireThreadId(config: RunnableConfig, what: string): string {
  const threadId = config.configurable?.thread_id;
  if (typeof threadId !== "string" || threadId === "") {
    throw new Error(`Failed to ${what}: the config has no "thread_id" in "configurable"`);
  }
  return threadId;
}

/**
 * A LangGraph checkpointer over the data plane's CheckpointService: the runtime keeps no
 * database credentials. Checkpoints travel as the serializer's [type, bytes], metadata as JSON
 * (the data plane filters it with jsonb containment), pending writes as [type, bytes] each.
 * Every write carries the run's fence; a write refused as stale (FAILED_PRECONDITION,
 * STALE_EPOCH) throws, which aborts the run.
 */
export class RemoteCheckpointer extends BaseCheckpointSaver {
  private readonly client: CheckpointClient;
  private readonly fence?: FenceInit;
  private readonly grant?: StateWriteGrantInit;
  private readonly timeoutMs: number;
  private readonly onWriteFailed?: (err: unknown) => void;
  private readonly beforeWrite?: () => Promise<void>;
  private readonly signal?: AbortSignal;
  /**
   * The latest checkpoint this checkpointer wrote per namespace, as sent, with the pending writes
   * written against it. A run's checkpointer is the only writer of its thread while the run goes,
   * so reading the latest checkpoint back (LangGraph does at the end of a run, and for every
   * state question) needs no call to the data plane.
   */
  private readonly written = new Map<string, CheckpointMessage>();
  /**
   * Pending writes this checkpointer wrote, by checkpoint. LangGraph writes a task's writes as
   * soon as it ends, while its checkpoint's put may still wait behind the previous one; so writes
   * are kept apart and joined to their checkpoint when it is read.
   */
  private readonly writtenWrites = new Map<string, PendingWriteMessage[]>();
  /**
   * A snapshot (see snapshotOf) of each checkpoint in `written`, by its key and id, when it has one:
   * reading the latest checkpoint back (LangGraph does at the end of every run) then copies its
   * structure instead of parsing its JSON again (megabytes when the state is). Only with the default
   * serializer, whose round trip a snapshot reproduces.
   */
  private readonly snapshots = new Map<string, { checkpointId: string; snapshot: Snapshot }>();
  private readonly snapshotting: boolean;
  private batch: Array<{ kind: WriteKind; resolve: () => void; reject: (err: unknown) => void }> = [];

  constructor(options: RemoteCheckpointerOptions) {
    super(options.serde);
    this.snapshotting = options.serde === undefined;
    this.client = options.client;
    this.fence = options.fence;
    this.grant = options.grant;
    this.onWriteFailed = options.onWriteFailed;
    this.beforeWrite = options.beforeWrite;
    this.signal = options.signal;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const threadId = requireThreadId(config, "get a checkpoint");
    const checkpointNs = (config.configurable?.checkpoint_ns as string | undefined) ?? "";
    const wanted = getCheckpointId(config);
    const known = this.written.get(writtenKey(threadId, checkpointNs));
    if (known && (!wanted || wanted === known.ref?.checkpointId)) {
      const writes = this.writtenWrites.get(writtenKey(threadId, checkpointNs, known.ref?.checkpointId)) ?? [];
      const saved = this.snapshots.get(writtenKey(threadId, checkpointNs));
      const snapshot = saved?.checkpointId === known.ref?.checkpointId ? saved?.snapshot : undefined;
      return this.toTuple(create(CheckpointSchema, { ...known, pendingWrites: writes }), snapshot);
    }
    const res = await this.client.getCheckpoint(
      { ref: { threadId, checkpointNs, checkpointId: getCheckpointId(config) ?? "" } },
      { timeoutMs: this.timeoutMs },
    );
    return res.checkpoint ? this.toTuple(res.checkpoint) : undefined;
  }

  async *list(config: RunnableConfig, options: CheckpointListOptions = {}): AsyncGenerator<CheckpointTuple> {
    const threadId = requireThreadId(config, "list checkpoints");
    const ns = config.configurable?.checkpoint_ns as string | undefined;
    const res = await this.client.listCheckpoints(
      {
        threadId,
        checkpointNs: ns,
        beforeCheckpointId: (options.before?.configurable?.checkpoint_id as string | undefined) ?? "",
        limit: options.limit ?? 0,
        metadataFilterJson:
          options.filter && Object.keys(options.filter).length > 0
            ? encoder.encode(JSON.stringify(options.filter))
            : new Uint8Array(),
        checkpointId: (config.configurable?.checkpoint_id as string | undefined) ?? "",
      },
      { timeoutMs: this.timeoutMs },
    );
    for (const checkpoint of res.checkpoints) yield await this.toTuple(checkpoint);
  }

  async put(
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    newVersions: ChannelVersions,
  ): Promise<RunnableConfig> {
    const threadId = requireThreadId(config, "put a checkpoint");
    const checkpointNs = (config.configurable?.checkpoint_ns as string | undefined) ?? "";
    const parentId = config.configurable?.checkpoint_id as string | undefined;
    // Taken with the serialization (both before any wait), so both are of the same moment.
    const snapshot = this.snapshotting ? snapshotOf(checkpoint) : undefined;
    const [[type, bytes], metadataJson] = await Promise.all([
      this.serde.dumpsTyped(checkpoint),
      this.dumpMetadata(config, metadata),
    ]);
    const message = create(CheckpointSchema, {
      ref: { threadId, checkpointNs, checkpointId: checkpoint.id },
      parent: parentId ? { threadId, checkpointNs, checkpointId: parentId } : undefined,
      type,
      checkpoint: typeof bytes === "string" ? encoder.encode(bytes) : bytes,
      metadataJson,
    });
    await this.reporting(() =>
      this.send({
        case: "checkpoint",
        value: { checkpoint: message, newVersionsJson: encoder.encode(JSON.stringify(newVersions ?? {})) },
      }),
    );
    this.written.set(writtenKey(threadId, checkpointNs), message);
    if (snapshot) this.snapshots.set(writtenKey(threadId, checkpointNs), { checkpointId: checkpoint.id, snapshot });
    else this.snapshots.delete(writtenKey(threadId, checkpointNs));
    return { configurable: { thread_id: threadId, checkpoint_ns: checkpointNs, checkpoint_id: checkpoint.id } };
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath?: string): Promise<void> {
    const threadId = requireThreadId(config, "put writes");
    const checkpointId = config.configurable?.checkpoint_id as string | undefined;
    if (!checkpointId) throw new Error('Failed to put writes: the config has no "checkpoint_id" in "configurable"');
    const dumped = await Promise.all(
      writes.map(async ([channel, value], idx) => {
        const [type, bytes] = await this.serde.dumpsTyped(value);
        return { taskId, channel, type, value: bytes, idx: WRITES_IDX_MAP[channel] ?? idx, taskPath: taskPath ?? "" };
      }),
    );
    const checkpointNs = (config.configurable?.checkpoint_ns as string | undefined) ?? "";
    await this.reporting(() =>
      this.send({ case: "pendingWrites", value: { ref: { threadId, checkpointNs, checkpointId }, writes: dumped } }),
    );
    // As the data plane stores them: one write per (task, index), the later one replacing.
    const key = writtenKey(threadId, checkpointNs, checkpointId);
    const added = dumped.map((w) => create(PendingWriteSchema, w));
    const replaced = (w: PendingWriteMessage) => added.some((a) => a.taskId === w.taskId && a.idx === w.idx);
    this.writtenWrites.set(key, [...(this.writtenWrites.get(key) ?? []).filter((w) => !replaced(w)), ...added]);
  }

  /** Runs a write once the events before it are durable, telling onWriteFailed when it fails. */
  private async reporting<T>(write: () => Promise<T>): Promise<T> {
    try {
      await this.beforeWrite?.();
      return await write();
    } catch (err) {
      this.onWriteFailed?.(err);
      throw err;
    }
  }

  /**
   * Queues a write for the next batch. Writes that become due in the same turn of the event loop
   * (a task's pending writes and the checkpoint after them; the input checkpoint and the input's
   * writes) go to the data plane in one PutBatch call, in order, in one transaction.
   */
  private send(kind: WriteKind): Promise<void> {
    return new Promise((resolve, reject) => {
      this.batch.push({ kind, resolve, reject });
      if (this.batch.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    try {
      await this.retrying(() =>
        this.client.putBatch(
          { fence: this.fence, grant: this.grant, writes: batch.map((w) => ({ kind: w.kind })) },
          { timeoutMs: this.timeoutMs },
        ),
      );
      for (const w of batch) w.resolve();
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }

  /**
   * Repeats a write the data plane could not make for a moment (UNAVAILABLE: its database
   * restarting, a replica going away) until the call's deadline, so a short outage costs the run
   * a pause rather than an attempt. Writes are idempotent (a checkpoint by its id, a pending write
   * by its task and index), so one that landed before its answer was lost lands again unchanged.
   */
  private async retrying<T>(write: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 1_000)) {
      try {
        return await write();
      } catch (err) {
        const transient = err instanceof ConnectError && err.code === Code.Unavailable;
        if (!transient || this.signal?.aborted || Date.now() + delay > deadline) throw err;
        await sleep(delay, this.signal);
        if (this.signal?.aborted) throw err;
      }
    }
  }

  async deleteThread(threadId: string): Promise<void> {
    await this.client.deleteCheckpoints({ threadId }, { timeoutMs: this.timeoutMs });
    const prefix = `${threadId}\u0000`;
    for (const map of [this.written, this.writtenWrites, this.snapshots]) {
      for (const key of map.keys()) if (key.startsWith(prefix)) map.delete(key);
    }
  }

  /**
   * The metadata as JSON text for the data plane. Like the reference server, it records the
   * run's metadata and its scalar configurable values beside LangGraph's own (source, step,
   * parents), so history can be filtered by run_id, graph_id, or a user's key.
   */
  private async dumpMetadata(config: RunnableConfig, metadata: CheckpointMetadata): Promise<Uint8Array> {
    const fromConfigurable = Object.fromEntries(
      Object.entries(config.configurable ?? {}).filter(
        ([key, value]) =>
          !key.startsWith("__") && !ADDRESS_KEYS.has(key) && ["string", "number", "boolean"].includes(typeof value),
      ),
    );
    const [, bytes] = await this.serde.dumpsTyped({ ...fromConfigurable, ...config.metadata, ...metadata });
    const text = stripNulEscapes(typeof bytes === "string" ? bytes : decoder.decode(bytes));
    JSON.parse(text); // the serializer writes JSON; refuse to send anything else
    return encoder.encode(text);
  }

  private async toTuple(message: CheckpointMessage, snapshot?: Snapshot): Promise<CheckpointTuple> {
    const ref = message.ref;
    const threadId = ref?.threadId ?? "";
    const checkpointNs = ref?.checkpointNs ?? "";
    const tuple: CheckpointTuple = {
      config: { configurable: { thread_id: threadId, checkpoint_ns: checkpointNs, checkpoint_id: ref?.checkpointId ?? "" } },
      checkpoint: (snapshot ? snapshot.read() : await this.serde.loadsTyped(message.type, message.checkpoint)) as Checkpoint,
      metadata: (message.metadataJson.length > 0 ? await this.serde.loadsTyped("json", message.metadataJson) : undefined) as
        | CheckpointMetadata
        | undefined,
      pendingWrites: await this.loadWrites(message.pendingWrites),
    };
    if (message.parent?.checkpointId) {
      tuple.parentConfig = {
        configurable: { thread_id: threadId, checkpoint_ns: checkpointNs, checkpoint_id: message.parent.checkpointId },
      };
    }
    return tuple;
  }

  /** Pending writes in the order live execution applies them: (task_path, task_id, idx). */
  private async loadWrites(writes: PendingWriteMessage[]): Promise<CheckpointPendingWrite[]> {
    const ordered = [...writes].sort((a, b) =>
      compareWritesSortKeys(writesSortKey(a.taskPath, a.taskId, a.idx), writesSortKey(b.taskPath, b.taskId, b.idx)),
    );
    return Promise.all(
      ordered.map(
        async (w): Promise<CheckpointPendingWrite> => [w.taskId, w.channel, await this.serde.loadsTyped(w.type, w.value)],
      ),
    );
  }
}
