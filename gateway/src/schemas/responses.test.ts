import { create } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { jsonBytes } from "@langopen/common";
import { AssistantSchema, AssistantVersionSchema } from "@langopen/gen/langopen/data/v1/assistant_pb";
import { CronSchema, OnRunCompleted } from "@langopen/gen/langopen/data/v1/cron_pb";
import { MultitaskStrategy, RunSchema, RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";
import { ItemSchema } from "@langopen/gen/langopen/data/v1/store_pb";
import { ListNamespacesResponseSchema } from "@langopen/gen/langopen/data/v1/store_service_pb";
import {
  CheckpointRefSchema,
  ThreadSchema,
  ThreadStatus,
  ThreadStorageSchema,
  TtlStrategy,
} from "@langopen/gen/langopen/data/v1/thread_pb";
import { WebhookDeliverySchema, WebhookDeliveryStatus } from "@langopen/gen/langopen/data/v1/webhook_pb";
import type { TSchema } from "typebox";
import { Value } from "typebox/value";
import { describe, expect, it } from "vitest";
import { toApiAssistant, toApiAssistantVersion } from "../mappers/assistants.js";
import { toApiCron, toApiCronFull } from "../mappers/crons.js";
import { toApiRun } from "../mappers/runs.js";
import { toApiCheckpoint } from "../mappers/state.js";
import { toApiItem, toApiNamespaces } from "../mappers/store.js";
import { toApiThread, toApiThreadStorage } from "../mappers/threads.js";
import { toApiWebhookDelivery } from "../mappers/webhooks.js";
import {
  Assistant,
  AssistantVersion,
  Cron,
  ErrorResponse,
  Item,
  ListNamespaceResponse,
  Run,
  SearchItemsResponse,
  Thread,
  ThreadState,
  ThreadStateUpdateResponse,
  ThreadStorage,
  WebhookDelivery,
} from "./responses.js";

const ts = create(TimestampSchema, { seconds: 1719335433n, nanos: 109781000 });
const ID = "0190b3c2-8c4f-7000-8000-000000000001";
const OTHER = "0190b3c2-8c4f-7000-8000-000000000002";

/** Fails with TypeBox's errors, so a drifted schema says which field. */
function expectValid(schema: TSchema, value: unknown) {
  expect([...Value.Errors(schema, value)].map((e) => `${e.instancePath} ${e.message}`)).toEqual([]);
}

/* The API description's objects (schemas/responses.ts) against what the mappers build. */
describe("the described answers", () => {
  it("hold the Assistant and its versions", () => {
    const assistant = create(AssistantSchema, {
      assistantId: ID,
      graphId: "agent",
      config: { configurable: { model: "x" } },
      createTime: ts,
      updateTime: ts,
      metadata: { team: "a" },
      version: 2,
      name: "agent",
    });
    expectValid(Assistant, toApiAssistant(assistant));
    expectValid(Assistant, toApiAssistant(create(AssistantSchema, { ...assistant, description: "d" })));
    expectValid(
      AssistantVersion,
      toApiAssistantVersion(create(AssistantVersionSchema, { assistantId: ID, graphId: "agent", version: 1, createTime: ts })),
    );
  });

  it("hold the Thread, with its ttl and extracted values, and its storage", () => {
    const thread = create(ThreadSchema, {
      threadId: ID,
      createTime: ts,
      updateTime: ts,
      stateUpdateTime: ts,
      status: ThreadStatus.INTERRUPTED,
      valuesJson: jsonBytes({ messages: [] }),
      interruptsJson: jsonBytes({ task: [{ id: "i", value: "ok?" }] }),
      ttl: { strategy: TtlStrategy.KEEP_LATEST, ttlMinutes: 5, expireTime: ts },
      extractedJson: jsonBytes({ last: "hi" }),
    });
    expectValid(Thread, toApiThread(thread));
    expectValid(Thread, toApiThread(create(ThreadSchema, { threadId: ID, createTime: ts, updateTime: ts, stateUpdateTime: ts })));
    const storage = create(ThreadStorageSchema, {
      threadId: ID,
      totalBytes: 30n,
      checkpoints: { count: 1n, bytes: 10n },
      channelValues: { count: 2n, bytes: 15n },
      channelValuesByChannel: { messages: { versions: 2n, bytes: 15n } },
      pendingWrites: { count: 1n, bytes: 5n },
    });
    expectValid(ThreadStorage, toApiThreadStorage(storage));
  });

  it("hold the Run, on a thread and stateless", () => {
    const run = create(RunSchema, {
      runId: ID,
      threadId: OTHER,
      assistantId: ID,
      createTime: ts,
      updateTime: ts,
      status: RunStatus.SUCCESS,
      kwargsJson: jsonBytes({ input: { x: 1 } }),
      multitaskStrategy: MultitaskStrategy.REJECT,
    });
    expectValid(Run, toApiRun(run));
    expectValid(Run, toApiRun(create(RunSchema, { ...run, threadId: "" })));
  });

  it("hold the Cron, with its default fields and all of them", () => {
    const cron = create(CronSchema, {
      cronId: ID,
      assistantId: ID,
      schedule: "*/5 * * * *",
      timezone: "Europe/Paris",
      createTime: ts,
      updateTime: ts,
      nextRunTime: ts,
      enabled: true,
      onRunCompleted: OnRunCompleted.KEEP,
      payloadJson: jsonBytes({ assistant_id: ID }),
    });
    expectValid(Cron, toApiCron(cron));
    expectValid(Cron, toApiCronFull(create(CronSchema, { ...cron, threadId: OTHER, endTime: ts })));
  });

  it("hold the store's Item, its searches and namespaces", () => {
    const item = toApiItem(
      create(ItemSchema, {
        namespace: ["a"],
        key: "k",
        valueJson: jsonBytes({ v: 1 }),
        createTime: ts,
        updateTime: ts,
        score: 0.5,
      }),
    );
    expectValid(Item, item);
    expectValid(SearchItemsResponse, { items: [item] });
    expectValid(
      ListNamespaceResponse,
      toApiNamespaces(create(ListNamespacesResponseSchema, { namespaces: [{ labels: ["a", "b"] }] })),
    );
  });

  it("hold the ThreadState the runtime writes and the checkpoint of a state update", () => {
    const checkpoint = { thread_id: ID, checkpoint_ns: "", checkpoint_id: "1ef", checkpoint_map: null };
    expectValid(ThreadState, {
      values: { messages: [] },
      next: ["agent"],
      tasks: [{ id: "t", name: "agent", error: null, interrupts: [{ id: "i", value: "ok?" }], checkpoint: null, state: null }],
      checkpoint,
      metadata: { step: 1 },
      created_at: "2024-06-25T17:10:33.109781+00:00",
      parent_checkpoint: null,
      interrupts: [{ id: "i", value: "ok?" }],
    });
    expectValid(ThreadStateUpdateResponse, {
      checkpoint: toApiCheckpoint(create(CheckpointRefSchema, { threadId: ID, checkpointId: "1ef" })),
    });
  });

  it("hold a webhook delivery and an error", () => {
    const delivery = create(WebhookDeliverySchema, {
      deliveryId: ID,
      runId: OTHER,
      url: "https://example.com/h",
      status: WebhookDeliveryStatus.DELIVERED,
      attempts: 1,
      lastStatusCode: 200,
      createTime: ts,
      deliverTime: ts,
    });
    expectValid(WebhookDelivery, toApiWebhookDelivery(delivery));
    expectValid(ErrorResponse, { detail: "Thread t1 not found" });
  });

  it("are checked for real: a run without its fields is not one", () => {
    expect(Value.Check(Run, { run_id: ID })).toBe(false);
    expect(
      Value.Check(Run, { ...toApiRun(create(RunSchema, { runId: ID, createTime: ts, updateTime: ts })), status: "done" }),
    ).toBe(false);
  });
});
