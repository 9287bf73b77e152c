import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { jsonBytes, notFound } from "@langopen/common";
import { ThreadSchema, ThreadStatus } from "@langopen/gen/langopen/data/v1/thread_pb";
import { describe, expect, it } from "vitest";
import {
  CommandError,
  commandErrorOf,
  inputRespondBody,
  isInterrupted,
  PROTOCOL_RUN_STREAM_MODES,
  pendingInterruptIds,
  runStartBody,
} from "./protocol-v2-commands.js";

const ID_A = "a".repeat(32);
const ID_B = "b".repeat(32);

function refusal(fn: () => unknown): CommandError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CommandError) return err;
    throw err;
  }
  throw new Error("no refusal");
}

describe("runStartBody", () => {
  it("starts a streamed run with the protocol's modes, creating the thread when missing", () => {
    expect(runStartBody({ assistant_id: "agent", input: { q: 1 }, metadata: { m: 1 }, context: { c: 1 } }, false)).toEqual({
      assistant_id: "agent",
      input: { q: 1 },
      metadata: { m: 1 },
      context: { c: 1 },
      stream_mode: [...PROTOCOL_RUN_STREAM_MODES],
      stream_subgraphs: true,
      stream_resumable: true,
      if_not_exists: "create",
    });
  });

  it("resumes an interrupted thread with the input, and forks from config.configurable.checkpoint_id", () => {
    const body = runStartBody(
      { assistant_id: "agent", input: "yes", multitaskStrategy: "reject", config: { configurable: { checkpoint_id: "c1" } } },
      true,
    );
    expect(body).toMatchObject({ command: { resume: "yes" }, multitask_strategy: "reject", checkpoint_id: "c1" });
    expect(body.input).toBeUndefined();
    // Without input there is nothing to resume with.
    expect(runStartBody({ assistant_id: "agent" }, true).command).toBeUndefined();
  });

  it("refuses params the run create would refuse", () => {
    expect(refusal(() => runStartBody({}, false))).toMatchObject({
      code: "invalid_argument",
      message: "run.start requires an assistant_id",
    });
    expect(refusal(() => runStartBody({ assistant_id: "a", multitask_strategy: "later" }, false)).message).toMatch(
      /multitask_strategy/,
    );
    expect(refusal(() => runStartBody({ assistant_id: "a", metadata: [] }, false)).message).toBe(
      "Invalid params: 'metadata' must be a JSON object",
    );
  });
});

describe("inputRespondBody", () => {
  it("resumes answered interrupts by id", () => {
    const { body, interruptIds } = inputRespondBody(
      { namespace: [], interrupt_id: ID_A, response: "Ada", config: { tags: ["t"] } },
      "agent",
      new Set([ID_A]),
    );
    expect(interruptIds).toEqual([ID_A]);
    expect(body).toMatchObject({ assistant_id: "agent", command: { resume: { [ID_A]: "Ada" } }, config: { tags: ["t"] } });
    expect(body.input).toBeUndefined();
  });

  it("resumes several interrupts in one run, with update and goto", () => {
    const { body } = inputRespondBody(
      {
        responses: [
          { namespace: [], interrupt_id: ID_A, response: 1 },
          { namespace: [], interrupt_id: ID_B, response: 2 },
        ],
        update: { x: 1 },
        goto: "n",
      },
      "agent",
      new Set([ID_A, ID_B]),
    );
    expect(body.command).toEqual({ resume: { [ID_A]: 1, [ID_B]: 2 }, update: { x: 1 }, goto: "n" });
  });

  it("resumes with the bare answer when LangGraph cannot address the interrupt", () => {
    const { body } = inputRespondBody({ interrupt_id: "run-1::0", response: "x" }, "agent", new Set());
    expect(body.command).toEqual({ resume: "x" });
  });

  it("refuses unknown interrupts and missing ids", () => {
    expect(refusal(() => inputRespondBody({ interrupt_id: ID_B, response: 1 }, "a", new Set([ID_A]))).code).toBe(
      "no_such_interrupt",
    );
    expect(refusal(() => inputRespondBody({ response: 1 }, "a", new Set())).code).toBe("invalid_argument");
    expect(refusal(() => inputRespondBody({ responses: [] }, "a", new Set())).code).toBe("invalid_argument");
    expect(refusal(() => inputRespondBody({ responses: [{ response: 1 }] }, "a", new Set())).code).toBe("invalid_argument");
  });
});

describe("threads waiting on interrupts", () => {
  it("reads the pending interrupt ids", () => {
    const thread = create(ThreadSchema, {
      status: ThreadStatus.INTERRUPTED,
      interruptsJson: jsonBytes({ task: [{ id: ID_A, value: 1 }, { value: 2 }] }),
    });
    expect(isInterrupted(thread)).toBe(true);
    expect([...pendingInterruptIds(thread)]).toEqual([ID_A]);
    expect(isInterrupted(create(ThreadSchema, { status: ThreadStatus.IDLE }))).toBe(false);
  });
});

describe("commandErrorOf", () => {
  it("answers the api-server's refusals as protocol errors and leaves its failures to HTTP", () => {
    expect(commandErrorOf(notFound("Assistant", "x"))).toMatchObject({
      code: "invalid_argument",
      message: expect.stringContaining("x"),
    });
    expect(commandErrorOf(notFound("Run", "x"), "no_such_run")?.code).toBe("no_such_run");
    expect(commandErrorOf(new ConnectError("busy", Code.FailedPrecondition))?.code).toBe("invalid_argument");
    expect(commandErrorOf(new ConnectError("no", Code.Unimplemented))?.code).toBe("not_supported");
    expect(commandErrorOf(new ConnectError("down", Code.Unavailable))).toBeUndefined();
    expect(commandErrorOf(new ConnectError("bug", Code.Internal))).toBeUndefined();
    expect(commandErrorOf(new Error("plain"))).toBeUndefined();
  });
});
