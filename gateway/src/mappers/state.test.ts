import { create } from "@bufbuild/protobuf";
import { jsonBytes, parseJsonBytes } from "@langopen/common";
import { CheckpointRefSchema } from "@langopen/gen/langopen/data/v1/thread_pb";
import { describe, expect, it } from "vitest";
import {
  fromApiHistoryQuery,
  fromApiHistorySearch,
  fromApiStatePatch,
  fromApiStateUpdate,
  jsonArrayOf,
  toApiCheckpoint,
} from "./state.js";

const THREAD = "0190b3c2-8c4f-7000-8000-000000000001";

describe("toApiCheckpoint", () => {
  it("writes the public checkpoint address, null map when absent", () => {
    expect(toApiCheckpoint(create(CheckpointRefSchema, { threadId: THREAD, checkpointId: "cp1" }))).toStrictEqual({
      thread_id: THREAD,
      checkpoint_ns: "",
      checkpoint_id: "cp1",
      checkpoint_map: null,
    });
    expect(toApiCheckpoint(create(CheckpointRefSchema, { checkpointMap: { "": "cp0" } })).checkpoint_map).toEqual({ "": "cp0" });
  });
});

describe("fromApiStateUpdate", () => {
  it("sends values as JSON, as_node, and the checkpoint to fork from", () => {
    const req = fromApiStateUpdate(THREAD, { values: { topic: "x" }, as_node: "third", checkpoint_id: "cp1" });
    expect(req.threadId).toBe(THREAD);
    expect(parseJsonBytes(req.valuesJson, undefined)).toEqual({ topic: "x" });
    expect(req.asNode).toBe("third");
    expect(req.checkpoint).toMatchObject({ checkpointId: "cp1" });
  });

  it("sends null values and no checkpoint by default", () => {
    const req = fromApiStateUpdate(THREAD, {});
    expect(new TextDecoder().decode(req.valuesJson)).toBe("null");
    expect(req.asNode).toBe("");
    expect(req.checkpoint).toBeUndefined();
  });

  it("prefers the checkpoint object's own id", () => {
    const req = fromApiStateUpdate(THREAD, {
      values: [1],
      checkpoint: { checkpoint_id: "a", checkpoint_ns: "" },
      checkpoint_id: "b",
    });
    expect(req.checkpoint?.checkpointId).toBe("a");
    expect(parseJsonBytes(req.valuesJson, undefined)).toEqual([1]);
  });
});

describe("fromApiStatePatch", () => {
  it("patches the latest checkpoint's metadata, or the given one", () => {
    expect(fromApiStatePatch(THREAD, { metadata: { a: 1 } })).toMatchObject({ threadId: THREAD, metadata: { a: 1 } });
    expect(fromApiStatePatch(THREAD, { metadata: {} }).checkpoint).toBeUndefined();
    expect(fromApiStatePatch(THREAD, { metadata: {}, checkpoint: { checkpoint_id: "cp" } }).checkpoint?.checkpointId).toBe("cp");
  });
});

describe("history requests", () => {
  it("defaults the limit to 10", () => {
    const req = fromApiHistorySearch(THREAD, {});
    expect(req.limit).toBe(10);
    expect(req.before).toBeUndefined();
    expect(req.checkpoint).toBeUndefined();
    expect(req.metadata).toBeUndefined();
  });

  it("takes before as an id, a checkpoint or a config, and a metadata filter and subgraph", () => {
    expect(fromApiHistorySearch(THREAD, { before: "cp1" }).before?.checkpointId).toBe("cp1");
    expect(fromApiHistorySearch(THREAD, { before: { checkpoint_id: "cp2" } }).before?.checkpointId).toBe("cp2");
    expect(fromApiHistorySearch(THREAD, { before: { configurable: { checkpoint_id: "cp3" } } }).before?.checkpointId).toBe("cp3");
    const req = fromApiHistorySearch(THREAD, { limit: 3, metadata: { step: 1 }, checkpoint: { checkpoint_ns: "child:1" } });
    expect(req).toMatchObject({ limit: 3, metadata: { step: 1 } });
    expect(req.checkpoint?.checkpointNs).toBe("child:1");
  });

  it("reads the query form", () => {
    expect(fromApiHistoryQuery(THREAD, { limit: 2, before: "cp" })).toMatchObject({ limit: 2, before: { checkpointId: "cp" } });
  });
});

describe("jsonArrayOf", () => {
  it("joins JSON documents into an array without parsing them", () => {
    expect(jsonArrayOf([jsonBytes({ a: 1 }), new TextEncoder().encode('{ "b" : [2] }')]).toString()).toBe(
      '[{"a":1},{ "b" : [2] }]',
    );
    expect(jsonArrayOf([]).toString()).toBe("[]");
    expect(jsonArrayOf([new Uint8Array()]).toString()).toBe("[null]");
  });
});
