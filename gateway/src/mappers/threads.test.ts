import { create } from "@bufbuild/protobuf";
import { jsonBytes, parseJsonBytes } from "@langopen/common";
import { IfExists, SortOrder } from "@langopen/gen/langopen/data/v1/common_pb";
import { ThreadSchema, ThreadStatus, ThreadStorageSchema, TtlStrategy } from "@langopen/gen/langopen/data/v1/thread_pb";
import { describe, expect, it } from "vitest";
import {
  fromApiThreadCount,
  fromApiThreadCreate,
  fromApiThreadPatch,
  fromApiThreadPrune,
  fromApiThreadSearch,
  toApiThread,
  toApiThreadStorage,
} from "./threads.js";

const t0 = { seconds: 1719335433n, nanos: 109781000 };
const t1 = { seconds: 1719335500n, nanos: 1000 };
const id = "0190b3c2-8c4f-7000-8000-000000000001";

describe("toApiThread", () => {
  it("writes the public Thread with values and interrupts parsed", () => {
    const thread = create(ThreadSchema, {
      threadId: id,
      createTime: t0,
      updateTime: t1,
      stateUpdateTime: t1,
      metadata: { graph_id: "agent" },
      config: { configurable: { x: 1 } },
      status: ThreadStatus.INTERRUPTED,
      valuesJson: jsonBytes({ messages: [{ type: "human", content: "hi" }] }),
      interruptsJson: jsonBytes({ task1: [{ id: "i1", value: "ok?" }] }),
    });
    expect(toApiThread(thread)).toStrictEqual({
      thread_id: id,
      created_at: "2024-06-25T17:10:33.109781+00:00",
      updated_at: "2024-06-25T17:11:40.000001+00:00",
      state_updated_at: "2024-06-25T17:11:40.000001+00:00",
      metadata: { graph_id: "agent" },
      config: { configurable: { x: 1 } },
      status: "interrupted",
      values: { messages: [{ type: "human", content: "hi" }] },
      interrupts: { task1: [{ id: "i1", value: "ok?" }] },
    });
  });

  it("gives a thread without state null values, {} interrupts and {} config", () => {
    const api = toApiThread(create(ThreadSchema, { threadId: id, createTime: t0, updateTime: t0, status: ThreadStatus.IDLE }));
    expect(api).toMatchObject({ status: "idle", values: null, interrupts: {}, config: {}, metadata: {} });
    expect(api).not.toHaveProperty("ttl");
    expect(api).not.toHaveProperty("extracted");
  });

  it.each([
    [ThreadStatus.IDLE, "idle"],
    [ThreadStatus.BUSY, "busy"],
    [ThreadStatus.INTERRUPTED, "interrupted"],
    [ThreadStatus.ERROR, "error"],
  ])("writes status %i as %s", (status, name) => {
    expect(toApiThread(create(ThreadSchema, { threadId: id, status })).status).toBe(name);
  });

  it("adds the TTL when the api-server sends it", () => {
    const thread = create(ThreadSchema, {
      threadId: id,
      ttl: { strategy: TtlStrategy.KEEP_LATEST, ttlMinutes: 30, expireTime: t1 },
    });
    expect(toApiThread(thread).ttl).toStrictEqual({
      strategy: "keep_latest",
      ttl_minutes: 30,
      expires_at: "2024-06-25T17:11:40.000001+00:00",
    });
  });

  it("adds extracted values when a search asked for them", () => {
    const withExtract = create(ThreadSchema, { threadId: id, extractedJson: jsonBytes({ last: 3, none: null }) });
    expect(toApiThread(withExtract, { extracted: true }).extracted).toEqual({ last: 3, none: null });
    expect(toApiThread(create(ThreadSchema, { threadId: id }), { extracted: true }).extracted).toEqual({});
  });
});

describe("toApiThreadStorage", () => {
  it("writes byte accounting with numbers", () => {
    const storage = create(ThreadStorageSchema, {
      threadId: id,
      totalBytes: 300n,
      checkpoints: { count: 2n, bytes: 100n },
      channelValues: { count: 3n, bytes: 150n },
      channelValuesByChannel: { messages: { versions: 3n, bytes: 150n } },
      pendingWrites: { count: 1n, bytes: 50n },
    });
    expect(toApiThreadStorage(storage)).toStrictEqual({
      thread_id: id,
      total_bytes: 300,
      checkpoints: { count: 2, bytes: 100 },
      channel_values: { count: 3, bytes: 150, by_channel: { messages: { versions: 3, bytes: 150 } } },
      pending_writes: { count: 1, bytes: 50 },
    });
  });

  it("gives zeros for absent sections", () => {
    expect(toApiThreadStorage(create(ThreadStorageSchema, { threadId: id }))).toStrictEqual({
      thread_id: id,
      total_bytes: 0,
      checkpoints: { count: 0, bytes: 0 },
      channel_values: { count: 0, bytes: 0, by_channel: {} },
      pending_writes: { count: 0, bytes: 0 },
    });
  });
});

describe("requests", () => {
  it("builds CreateThread with the TTL strategy defaulting to delete and supersteps as JSON", () => {
    const supersteps = [{ updates: [{ values: { a: 1 }, as_node: "n" }] }];
    const req = fromApiThreadCreate({ thread_id: id, metadata: { graph_id: "agent" }, ttl: { ttl: 10 }, supersteps });
    expect(req.threadId).toBe(id);
    expect(req.ifExists).toBe(IfExists.RAISE);
    expect(req.ttl?.strategy).toBe(TtlStrategy.DELETE);
    expect(req.ttl?.ttlMinutes).toBe(10);
    expect(parseJsonBytes(req.superstepsJson, null)).toEqual(supersteps);
  });

  it("sends no supersteps and no TTL when none are given", () => {
    const req = fromApiThreadCreate({});
    expect(req.threadId).toBe("");
    expect(req.ttl).toBeUndefined();
    expect(req.superstepsJson.length).toBe(0);
  });

  it("builds UpdateThread", () => {
    const req = fromApiThreadPatch(id, { ttl: { strategy: "keep_latest", ttl: 5 } });
    expect(req.metadata).toBeUndefined();
    expect(req.ttl?.strategy).toBe(TtlStrategy.KEEP_LATEST);
  });

  it("builds searches and counts with filters as given", () => {
    const req = fromApiThreadSearch({
      ids: [id],
      values: { done: true },
      status: "busy",
      sort_by: "updated_at",
      sort_order: "desc",
      extract: { last: "values.messages[-1]" },
    });
    expect(req).toMatchObject({
      ids: [id],
      status: ThreadStatus.BUSY,
      limit: 10,
      offset: 0,
      sortBy: "updated_at",
      sortOrder: SortOrder.DESC,
      extract: { last: "values.messages[-1]" },
    });
    expect(parseJsonBytes(req.valuesJson, null)).toEqual({ done: true });
    expect(fromApiThreadSearch({}).valuesJson.length).toBe(0);
    expect(fromApiThreadCount({ status: "idle" }).status).toBe(ThreadStatus.IDLE);
    expect(fromApiThreadCount({}).status).toBe(ThreadStatus.UNSPECIFIED);
  });

  it("builds PruneThreads with delete as the default", () => {
    expect(fromApiThreadPrune({ thread_ids: [id] })).toMatchObject({ threadIds: [id], strategy: TtlStrategy.DELETE });
    expect(fromApiThreadPrune({ thread_ids: [], strategy: "keep_latest" }).strategy).toBe(TtlStrategy.KEEP_LATEST);
  });
});
