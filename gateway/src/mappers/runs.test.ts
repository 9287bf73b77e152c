import { create } from "@bufbuild/protobuf";
import { jsonBytes, parseJsonBytes } from "@langopen/common";
import { Durability, MultitaskStrategy, RunSchema, RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";
import { CancelAction, IfNotExists, OnCompletion } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { describe, expect, it } from "vitest";
import type { RunCreateBody } from "../schemas/runs.js";
import { RequestValidationError } from "../validation.js";
import {
  fromApiRunCreate,
  fromApiRunsCancel,
  joinResultBody,
  runLocationHeaders,
  runPath,
  selectorToCheckpointRef,
  snakeCaseRunKeys,
  toApiRun,
  toCheckpointRef,
  toRunSpec,
} from "./runs.js";

const t0 = { seconds: 1719335433n, nanos: 109781000 };
const THREAD = "0190b3c2-8c4f-7000-8000-000000000001";
const RUN = "0190b3c2-8c4f-7000-8000-000000000002";
const ASSISTANT = "fe096781-5601-53d2-b2f6-0d3403f7e9ca";

describe("toApiRun", () => {
  it("writes the public Run with lowercase enums and kwargs parsed", () => {
    const run = create(RunSchema, {
      runId: RUN,
      threadId: THREAD,
      assistantId: ASSISTANT,
      createTime: t0,
      updateTime: t0,
      status: RunStatus.RUNNING,
      metadata: { tag: "bg" },
      kwargsJson: jsonBytes({ input: { x: 1 }, stream_mode: ["values"] }),
      multitaskStrategy: MultitaskStrategy.REJECT,
    });
    expect(toApiRun(run)).toStrictEqual({
      run_id: RUN,
      thread_id: THREAD,
      assistant_id: ASSISTANT,
      created_at: "2024-06-25T17:10:33.109781+00:00",
      updated_at: "2024-06-25T17:10:33.109781+00:00",
      status: "running",
      metadata: { tag: "bg" },
      kwargs: { input: { x: 1 }, stream_mode: ["values"] },
      multitask_strategy: "reject",
    });
  });

  it("fills the defaults of a sparse run", () => {
    expect(toApiRun(create(RunSchema, { runId: RUN }))).toStrictEqual({
      run_id: RUN,
      thread_id: null,
      assistant_id: "",
      created_at: null,
      updated_at: null,
      status: "pending",
      metadata: {},
      kwargs: {},
      multitask_strategy: "enqueue",
    });
  });

  it.each([
    [RunStatus.PENDING, "pending"],
    [RunStatus.RUNNING, "running"],
    [RunStatus.SUCCESS, "success"],
    [RunStatus.ERROR, "error"],
    [RunStatus.TIMEOUT, "timeout"],
    [RunStatus.INTERRUPTED, "interrupted"],
  ])("writes status %i as %s", (status, name) => {
    expect(toApiRun(create(RunSchema, { runId: RUN, status })).status).toBe(name);
  });
});

describe("run locations", () => {
  it("uses the thread form, also for stateless runs on their temporary thread", () => {
    const run = create(RunSchema, { runId: RUN, threadId: THREAD });
    expect(runPath(run)).toBe(`/threads/${THREAD}/runs/${RUN}`);
    expect(runLocationHeaders(run)).toEqual({ "content-location": `/threads/${THREAD}/runs/${RUN}` });
    expect(runLocationHeaders(run, "stream")).toEqual({
      "content-location": `/threads/${THREAD}/runs/${RUN}`,
      location: `/threads/${THREAD}/runs/${RUN}/stream`,
    });
    expect(runLocationHeaders(run, "join").location).toBe(`/threads/${THREAD}/runs/${RUN}/join`);
  });

  it("falls back to /runs/{id} without a thread", () => {
    expect(runPath(create(RunSchema, { runId: RUN }))).toBe(`/runs/${RUN}`);
  });
});

describe("fromApiRunCreate", () => {
  it("maps every field of a full body", () => {
    const body: RunCreateBody = {
      assistant_id: "agent",
      input: { messages: [{ role: "human", content: "hi" }] },
      config: { tags: ["t"], recursion_limit: 5, configurable: { model: "m" } },
      context: { user: "ada" },
      metadata: { source: "test" },
      stream_mode: ["values", "messages-tuple"],
      stream_subgraphs: true,
      stream_resumable: true,
      interrupt_before: "*",
      interrupt_after: ["a", "b"],
      checkpoint: { checkpoint_id: "cp1", checkpoint_ns: "", checkpoint_map: null },
      webhook: "https://example.com/hook",
      durability: "exit",
      feedback_keys: ["score"],
      multitask_strategy: "rollback",
      if_not_exists: "create",
      on_completion: "keep",
      on_disconnect: "cancel",
      after_seconds: 1.5,
    };
    const req = fromApiRunCreate(THREAD, body);
    expect(req.threadId).toBe(THREAD);
    expect(req.multitaskStrategy).toBe(MultitaskStrategy.ROLLBACK);
    expect(req.ifNotExists).toBe(IfNotExists.CREATE);
    expect(req.onCompletion).toBe(OnCompletion.KEEP);
    expect(req.afterSeconds).toBe(1.5);
    const spec = req.spec;
    expect(spec?.assistantId).toBe("agent");
    expect(parseJsonBytes(spec?.inputJson ?? new Uint8Array(), null)).toEqual(body.input);
    expect(spec?.commandJson).toHaveLength(0);
    expect(spec?.config).toEqual(body.config);
    expect(spec?.context).toEqual({ user: "ada" });
    expect(spec?.metadata).toEqual({ source: "test" });
    expect(spec?.streamModes).toEqual(["values", "messages-tuple"]);
    expect(spec?.streamSubgraphs).toBe(true);
    expect(spec?.streamResumable).toBe(true);
    expect(spec?.interruptBefore).toEqual(["*"]);
    expect(spec?.interruptAfter).toEqual(["a", "b"]);
    expect(spec?.checkpoint).toMatchObject({ checkpointId: "cp1", checkpointNs: "", threadId: "" });
    expect(spec?.checkpoint?.checkpointMap).toBeUndefined();
    expect(spec?.webhook).toBe("https://example.com/hook");
    expect(spec?.durability).toBe(Durability.EXIT);
    expect(spec?.feedbackKeys).toEqual(["score"]);
  });

  it("leaves the defaults to the api-server for a minimal body", () => {
    const req = fromApiRunCreate("", { assistant_id: "agent" });
    expect(req.threadId).toBe("");
    expect(req.multitaskStrategy).toBe(MultitaskStrategy.UNSPECIFIED);
    expect(req.ifNotExists).toBe(IfNotExists.UNSPECIFIED);
    expect(req.onCompletion).toBe(OnCompletion.UNSPECIFIED);
    expect(req.afterSeconds).toBe(0);
    expect(req.spec).toMatchObject({
      assistantId: "agent",
      streamModes: [],
      interruptBefore: [],
      interruptAfter: [],
      webhook: "",
      durability: Durability.UNSPECIFIED,
    });
    expect(req.spec?.inputJson).toHaveLength(0);
    expect(req.spec?.checkpoint).toBeUndefined();
  });

  it("treats a null input as no input, and sends a command as JSON", () => {
    const spec = toRunSpec({ assistant_id: "a", input: null, command: { resume: "Ada", goto: ["x"] } });
    expect(spec.inputJson).toHaveLength(0);
    expect(parseJsonBytes(spec.commandJson, null)).toEqual({ resume: "Ada", goto: ["x"] });
    expect(toRunSpec({ assistant_id: "a", command: null }).commandJson).toHaveLength(0);
  });

  it("keeps falsy inputs", () => {
    expect(parseJsonBytes(toRunSpec({ assistant_id: "a", input: 0 }).inputJson, null)).toBe(0);
    expect(parseJsonBytes(toRunSpec({ assistant_id: "a", input: "" }).inputJson, null)).toBe("");
  });

  it("takes a single stream mode as a list", () => {
    expect(toRunSpec({ assistant_id: "a", stream_mode: "updates" }).streamModes).toEqual(["updates"]);
  });

  it("takes the checkpoint id from checkpoint_id when the object has none", () => {
    expect(toRunSpec({ assistant_id: "a", checkpoint_id: "cp2" }).checkpoint).toMatchObject({ checkpointId: "cp2" });
    expect(toRunSpec({ assistant_id: "a", checkpoint: { checkpoint_ns: "sub" }, checkpoint_id: "cp2" }).checkpoint).toMatchObject(
      {
        checkpointNs: "sub",
        checkpointId: "cp2",
      },
    );
    expect(
      toRunSpec({ assistant_id: "a", checkpoint: { checkpoint_id: "cp1" }, checkpoint_id: "cp2" }).checkpoint?.checkpointId,
    ).toBe("cp1");
    expect(toRunSpec({ assistant_id: "a", checkpoint: {}, checkpoint_id: null }).checkpoint).toBeUndefined();
  });
});

describe("checkpoint references", () => {
  it("reads a CheckpointConfig, null fields as absent", () => {
    expect(
      toCheckpointRef({ thread_id: THREAD, checkpoint_ns: "", checkpoint_id: "cp", checkpoint_map: { "": "cp0" } }),
    ).toMatchObject({
      threadId: THREAD,
      checkpointNs: "",
      checkpointId: "cp",
      checkpointMap: { "": "cp0" },
    });
    expect(toCheckpointRef({ checkpoint_id: null, checkpoint_map: null })).toBeUndefined();
    expect(toCheckpointRef(null)).toBeUndefined();
  });

  it("reads an id, a CheckpointConfig or a RunnableConfig", () => {
    expect(selectorToCheckpointRef("cp")).toMatchObject({ checkpointId: "cp", checkpointNs: "" });
    expect(selectorToCheckpointRef({ checkpoint_id: "cp", checkpoint_ns: "sub" })).toMatchObject({
      checkpointId: "cp",
      checkpointNs: "sub",
    });
    expect(selectorToCheckpointRef({ configurable: { thread_id: THREAD, checkpoint_id: "cp" } })).toMatchObject({
      threadId: THREAD,
      checkpointId: "cp",
    });
    expect(selectorToCheckpointRef("")).toBeUndefined();
    expect(selectorToCheckpointRef(null)).toBeUndefined();
    expect(selectorToCheckpointRef(undefined)).toBeUndefined();
  });
});

describe("fromApiRunsCancel", () => {
  it("selects by status", () => {
    expect(fromApiRunsCancel({ status: "all" }, undefined)).toMatchObject({
      threadId: "",
      runIds: [],
      statuses: [RunStatus.PENDING, RunStatus.RUNNING],
      action: CancelAction.INTERRUPT,
    });
    expect(fromApiRunsCancel({ status: "pending" }, "rollback")).toMatchObject({
      statuses: [RunStatus.PENDING],
      action: CancelAction.ROLLBACK,
    });
  });

  it("selects by thread and run ids", () => {
    expect(fromApiRunsCancel({ thread_id: THREAD, run_ids: [RUN] }, "interrupt")).toMatchObject({
      threadId: THREAD,
      runIds: [RUN],
      statuses: [],
    });
  });

  it("refuses to select nothing (which would mean every run)", () => {
    expect(() => fromApiRunsCancel({}, undefined)).toThrow(RequestValidationError);
    expect(() => fromApiRunsCancel({ thread_id: THREAD, run_ids: [] }, undefined)).toThrow(
      "Invalid body: give either 'status' or 'thread_id' and 'run_ids'",
    );
  });
});

describe("snakeCaseRunKeys", () => {
  it("renames the camelCase keys the JS SDK's createBatch leaves in each item", () => {
    expect(
      snakeCaseRunKeys({
        assistantId: "echo",
        assistant_id: "echo",
        input: { a: 1 },
        streamMode: ["values"],
        multitaskStrategy: "enqueue",
        onCompletion: "keep",
        afterSeconds: 2,
        ifNotExists: "create",
        streamSubgraphs: true,
        streamResumable: true,
        interruptBefore: "*",
        checkpointId: "cp",
        signal: {},
      }),
    ).toEqual({
      assistant_id: "echo",
      input: { a: 1 },
      stream_mode: ["values"],
      multitask_strategy: "enqueue",
      on_completion: "keep",
      after_seconds: 2,
      if_not_exists: "create",
      stream_subgraphs: true,
      stream_resumable: true,
      interrupt_before: "*",
      checkpoint_id: "cp",
      signal: {},
    });
  });

  it("lets a snake_case key win and leaves non-objects alone", () => {
    expect(snakeCaseRunKeys({ stream_mode: "updates", streamMode: "values", assistant_id: "a" })).toEqual({
      stream_mode: "updates",
      assistant_id: "a",
    });
    expect(snakeCaseRunKeys("x")).toBe("x");
    expect(snakeCaseRunKeys(null)).toBe(null);
  });
});

describe("joinResultBody", () => {
  it("passes the result JSON through", () => {
    const bytes = jsonBytes({ __error__: { error: "ValueError", message: "bad" } });
    expect(joinResultBody(bytes).toString()).toBe('{"__error__":{"error":"ValueError","message":"bad"}}');
  });

  it("answers {} for an absent or null result", () => {
    expect(joinResultBody(new Uint8Array()).toString()).toBe("{}");
    expect(joinResultBody(jsonBytes(null)).toString()).toBe("{}");
  });
});
