import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { RunSpecSchema } from "@langopen/gen/langopen/data/v1/run_pb";
import { ExecuteRequestSchema, ExecuteResponseSchema } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { describe, expect, it } from "vitest";
import { encodeNestedMessagesWithoutCopies } from "./protobuf-writer.js";

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_x, i) => (i * 31 + seed) % 251);

/** Messages nested several levels deep, with bytes, strings, maps, Structs and repeated messages. */
const samples = () => [
  create(ExecuteRequestSchema, {
    kind: {
      case: "start",
      value: {
        runId: "r1",
        threadId: "t1",
        graphId: "agent",
        spec: create(RunSpecSchema, {
          assistantId: "a1",
          inputJson: bytes(70_000, 1),
          config: { configurable: { user: "u", nested: { deep: [1, "two", { three: true }] } }, tags: ["x"] },
          context: { k: "v" },
          streamModes: ["values", "updates"],
          interruptBefore: ["*"],
        }),
        fence: { runId: "r1", epoch: 7n },
        ephemeral: true,
        servesCheckpoints: true,
      },
    },
  }),
  create(ExecuteResponseSchema, {
    kind: {
      case: "checkpointCall",
      value: {
        id: 3n,
        kind: {
          case: "putBatch",
          value: {
            fence: { runId: "r1", epoch: 7n },
            writes: [
              {
                kind: {
                  case: "checkpoint",
                  value: {
                    checkpoint: {
                      ref: { threadId: "t1", checkpointNs: "", checkpointId: "c1" },
                      type: "json",
                      checkpoint: bytes(200_000, 2),
                      metadataJson: new TextEncoder().encode('{"step":1}'),
                      pendingWrites: [{ taskId: "x", channel: "messages", type: "json", value: bytes(10, 3), idx: 0 }],
                    },
                    newVersionsJson: new TextEncoder().encode("{}"),
                  },
                },
              },
              {
                kind: {
                  case: "pendingWrites",
                  value: {
                    ref: { threadId: "t1", checkpointNs: "", checkpointId: "c1" },
                    writes: [
                      { taskId: "a", channel: "messages", type: "json", value: bytes(5, 4), idx: 0 },
                      { taskId: "b", channel: "", type: "", value: new Uint8Array(), idx: -1 },
                    ],
                  },
                },
              },
            ],
          },
        },
      },
    },
  }),
  create(ExecuteResponseSchema, { kind: { case: "event", value: { id: "", event: "values", dataJson: bytes(1, 5) } } }),
  create(ExecuteResponseSchema, {}),
];

describe("encodeNestedMessagesWithoutCopies", () => {
  it("writes the bytes protobuf-es writes, and they decode to the same messages", () => {
    const original = BinaryWriter.prototype.join;
    const before = [
      toBinary(ExecuteRequestSchema, samples()[0] as never),
      ...samples()
        .slice(1)
        .map((m) => toBinary(ExecuteResponseSchema, m as never)),
    ];
    encodeNestedMessagesWithoutCopies();
    encodeNestedMessagesWithoutCopies();
    expect(BinaryWriter.prototype.join).not.toBe(original);
    const after = [
      toBinary(ExecuteRequestSchema, samples()[0] as never),
      ...samples()
        .slice(1)
        .map((m) => toBinary(ExecuteResponseSchema, m as never)),
    ];
    expect(after).toEqual(before);
    expect(fromBinary(ExecuteRequestSchema, after[0] as Uint8Array)).toEqual(samples()[0]);
    for (const [i, message] of samples().slice(1).entries()) {
      expect(fromBinary(ExecuteResponseSchema, after[i + 1] as Uint8Array)).toEqual(message);
    }
  });

  it("no longer copies a nested field's bytes at every level", () => {
    encodeNestedMessagesWithoutCopies();
    const payload = bytes(1_000, 6);
    const writer = new BinaryWriter();
    writer.tag(1, 2).fork().tag(2, 2).fork().tag(3, 2).bytes(payload).join().join();
    // Until the outermost finish, the payload is the caller's array, not a copy of it.
    expect((writer as unknown as { chunks: Uint8Array[] }).chunks).toContain(payload);
    const encoded = writer.finish();
    expect(encoded.byteLength).toBe(1_000 + 3 * 1 + 2 + 2 + 2);
  });
});
