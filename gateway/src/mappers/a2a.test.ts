import { create } from "@bufbuild/protobuf";
import { AssistantSchema } from "@langopen/gen/langopen/data/v1/assistant_pb";
import { RunSchema, RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";
import { describe, expect, it } from "vitest";
import { JsonRpcFailure } from "../plugins/json-rpc.js";
import {
  agentCard,
  historyOf,
  inputTakesMessages,
  resumeValue,
  runInput,
  runOutcome,
  sendParams,
  taskParams,
  taskState,
  toTask,
} from "./a2a.js";

const THREAD = "0190b3c2-8c4f-7000-8000-000000000001";
const RUN = "0190b3c2-8c4f-7000-8000-0000000000aa";

function failure(fn: () => unknown): JsonRpcFailure {
  try {
    fn();
  } catch (err) {
    if (err instanceof JsonRpcFailure) return err;
    throw err;
  }
  throw new Error("did not fail");
}

describe("sendParams", () => {
  const message = (extra: object = {}) => ({
    message: { role: "user", messageId: "m1", parts: [{ kind: "text", text: "hi" }], ...extra },
  });

  it("reads the message, the context and the configuration", () => {
    expect(
      sendParams({ ...message({ contextId: THREAD, taskId: RUN }), configuration: { blocking: false, historyLength: 3 } }),
    ).toEqual({
      message: { messageId: "m1", role: "user", parts: [{ kind: "text", text: "hi" }], contextId: THREAD, taskId: RUN },
      blocking: false,
      historyLength: 3,
    });
    expect(sendParams(message()).blocking).toBe(true);
  });

  it.each([
    [undefined, -32602, "params must be an object"],
    [{}, -32602, "'message' is required"],
    [message({ role: "system" }), -32602, "'message.role'"],
    [message({ messageId: "" }), -32602, "'message.messageId' is required"],
    [message({ parts: "hi" }), -32602, "'message.parts' must be an array"],
    [message({ parts: [{ kind: "data", data: [1] }] }), -32602, "'message.parts[0].data' must be a JSON object"],
    [message({ parts: [{ kind: "file", file: {} }] }), -32005, "file part"],
    [message({ contextId: "ctx" }), -32602, "UUID"],
    [{ ...message(), configuration: { historyLength: 11 } }, -32602, "cannot exceed 10"],
  ])("refuses %j", (params, code, text) => {
    const err = failure(() => sendParams(params));
    expect(err.code).toBe(code);
    expect(err.message).toContain(text);
  });
});

describe("taskParams", () => {
  it("takes a run id, with or without its thread", () => {
    expect(taskParams({ id: RUN })).toEqual({ runId: RUN, threadId: "", historyLength: undefined });
    expect(taskParams({ id: RUN, contextId: THREAD, historyLength: 0 })).toEqual({
      runId: RUN,
      threadId: THREAD,
      historyLength: 0,
    });
    expect(taskParams({ id: `${THREAD}:${RUN}` })).toEqual({ runId: RUN, threadId: THREAD, historyLength: undefined });
  });

  it("answers task not found for an id that cannot name a run", () => {
    expect(failure(() => taskParams({ id: "run-1" })).code).toBe(-32001);
    expect(failure(() => taskParams({})).code).toBe(-32602);
  });
});

describe("input", () => {
  it("puts the text in messages and merges the data", () => {
    expect(
      runInput([
        { kind: "text", text: "a" },
        { kind: "data", data: { locale: "en" } },
        { kind: "text", text: "b" },
        { kind: "data", data: { tz: "UTC" } },
      ]),
    ).toEqual({ locale: "en", tz: "UTC", messages: [{ role: "user", content: "a\nb" }] });
    expect(runInput([{ kind: "data", data: { topic: "x" } }])).toEqual({ topic: "x" });
  });

  it("resumes with a data part's resume (a list of {id, value} as a map), else the text", () => {
    expect(resumeValue([{ kind: "text", text: "Ada" }])).toBe("Ada");
    expect(resumeValue([{ kind: "data", data: { resume: { ok: true } } }])).toEqual({ ok: true });
    expect(
      resumeValue([
        {
          kind: "data",
          data: {
            resume: [
              { id: "i1", value: "A" },
              { id: "i2", value: "B" },
            ],
          },
        },
      ]),
    ).toEqual({ i1: "A", i2: "B" });
  });

  it("tells whether the input schema takes messages", () => {
    expect(inputTakesMessages({ input_schema: { type: "object", properties: { messages: {} } } })).toBe(true);
    expect(inputTakesMessages({ input_schema: { type: "object", properties: { question: {} } } })).toBe(false);
    expect(inputTakesMessages({})).toBeUndefined();
  });
});

describe("tasks", () => {
  const run = (status: RunStatus) =>
    create(RunSchema, { runId: RUN, threadId: THREAD, status, updateTime: { seconds: 1719335433n, nanos: 0 } });
  const values = {
    messages: [
      { type: "human", content: "hi", id: "h1" },
      {
        type: "ai",
        content: [
          { type: "text", text: "You said: " },
          { type: "text", text: "hi" },
        ],
        id: "a1",
      },
    ],
  };

  it("maps run statuses to task states", () => {
    expect(taskState(RunStatus.PENDING)).toBe("submitted");
    expect(taskState(RunStatus.RUNNING)).toBe("working");
    expect(taskState(RunStatus.SUCCESS, runOutcome({}))).toBe("completed");
    expect(taskState(RunStatus.SUCCESS, runOutcome({ __interrupt__: [{ value: "?" }] }))).toBe("input-required");
    expect(taskState(RunStatus.ERROR)).toBe("failed");
    expect(taskState(RunStatus.TIMEOUT)).toBe("failed");
    expect(taskState(RunStatus.INTERRUPTED)).toBe("canceled");
  });

  it("answers a completed run with the agent's last message and the history", () => {
    expect(toTask(run(RunStatus.SUCCESS), { contextId: THREAD, outcome: runOutcome(values) })).toEqual({
      kind: "task",
      id: RUN,
      contextId: THREAD,
      status: { state: "completed", timestamp: "2024-06-25T17:10:33.000000+00:00" },
      artifacts: [{ artifactId: `${RUN}-response`, name: "Assistant Response", parts: [{ kind: "text", text: "You said: hi" }] }],
      history: [
        { kind: "message", messageId: "h1", role: "user", parts: [{ kind: "text", text: "hi" }], contextId: THREAD, taskId: RUN },
        {
          kind: "message",
          messageId: "a1",
          role: "agent",
          parts: [{ kind: "text", text: "You said: hi" }],
          contextId: THREAD,
          taskId: RUN,
        },
      ],
    });
  });

  it("answers values without messages as a data artifact", () => {
    const task = toTask(run(RunStatus.SUCCESS), { contextId: THREAD, outcome: runOutcome({ count: 3 }) });
    expect(task.artifacts?.[0]?.parts).toEqual([{ kind: "data", data: { count: 3 } }]);
    expect(task.history).toEqual([]);
  });

  it("asks for input with the interrupt's value, and reports an error", () => {
    const asked = toTask(run(RunStatus.SUCCESS), {
      contextId: THREAD,
      outcome: runOutcome({ q: 1, __interrupt__: [{ value: { question: "Name?" }, id: "i1" }] }),
    });
    expect(asked.status).toMatchObject({
      state: "input-required",
      message: { role: "agent", parts: [{ kind: "data", data: { question: "Name?" } }] },
    });
    expect(asked.artifacts).toBeUndefined();
    const failed = toTask(run(RunStatus.ERROR), {
      contextId: THREAD,
      outcome: runOutcome({ __error__: { error: "ValueError", message: "boom" } }),
    });
    expect(failed.status).toMatchObject({ state: "failed", message: { parts: [{ kind: "text", text: "ValueError: boom" }] } });
  });

  it("keeps the last messages of the history", () => {
    expect(historyOf(values, THREAD, RUN, 1).map((m) => m.messageId)).toEqual(["a1"]);
    expect(historyOf(values, THREAD, RUN, 0)).toEqual([]);
  });
});

describe("agentCard", () => {
  it("describes the assistant with its endpoint, and the modes its metadata declares", () => {
    const assistant = create(AssistantSchema, {
      assistantId: RUN,
      graphId: "agent",
      name: "Helper",
      version: 2,
      metadata: { a2a: { input_modes: ["text/plain"] } },
    });
    expect(agentCard(assistant, "http://host:1")).toEqual({
      protocolVersion: "0.3.0",
      name: "Helper",
      description: "The Helper assistant (graph agent).",
      url: `http://host:1/a2a/${RUN}`,
      preferredTransport: "JSONRPC",
      version: "2",
      capabilities: { streaming: true, pushNotifications: false, stateTransitionHistory: false },
      defaultInputModes: ["text/plain"],
      defaultOutputModes: ["application/json", "text/plain"],
      skills: [
        {
          id: "agent-main",
          name: "Helper",
          description: "The Helper assistant (graph agent).",
          tags: ["assistant", "langgraph", "agent"],
          examples: [],
          inputModes: ["text/plain"],
          outputModes: ["application/json", "text/plain"],
        },
      ],
    });
  });
});
