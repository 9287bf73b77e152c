import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { failedPrecondition, jsonBytes, notFound, parseJsonBytes, Reason } from "@langopen/common";
import { IfNotExists, InterruptedWhen } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { ThreadSchema, ThreadStatus } from "@langopen/gen/langopen/data/v1/thread_pb";
import { describe, expect, it } from "vitest";
import {
  CommandError,
  commandErrorOf,
  inputRespondBody,
  inputRespondError,
  inputRespondRequest,
  isInterrupted,
  PROTOCOL_RUN_STREAM_MODES,
  runStartBody,
  runStartRequest,
} from "./protocol-v2-commands.js";

const THREAD = "0190b3c2-8c4f-7000-8000-000000000001";

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
    );
    expect(body.command).toEqual({ resume: { [ID_A]: 1, [ID_B]: 2 }, update: { x: 1 }, goto: "n" });
  });

  it("resumes with the bare answer when LangGraph cannot address the interrupt", () => {
    const { body } = inputRespondBody({ interrupt_id: "run-1::0", response: "x" }, "agent");
    expect(body.command).toEqual({ resume: "x" });
  });

  it("refuses missing ids (whether the ids are pending is the api-server's to say)", () => {
    expect(refusal(() => inputRespondBody({ response: 1 }, "a")).code).toBe("invalid_argument");
    expect(refusal(() => inputRespondBody({ responses: [] }, "a")).code).toBe("invalid_argument");
    expect(refusal(() => inputRespondBody({ responses: [{ response: 1 }] }, "a")).code).toBe("invalid_argument");
  });

  it("leaves the assistant to the api-server when none is given, and still checks the rest", () => {
    expect(inputRespondBody({ interrupt_id: ID_A, response: 1 }, "").body.assistant_id).toBe("");
    expect(refusal(() => inputRespondBody({ interrupt_id: ID_A, response: 1, metadata: [] }, "")).message).toBe(
      "Invalid params: 'metadata' must be a JSON object",
    );
  });
});

describe("the CreateOrResumeRun of a command", () => {
  it("run.start: the run afresh, and its input as the resume when the thread waits on an interrupt", () => {
    const req = runStartRequest(THREAD, { assistant_id: "agent", input: "yes" });
    expect(req.run?.threadId).toBe(THREAD);
    expect(req.run?.ifNotExists).toBe(IfNotExists.CREATE);
    expect(parseJsonBytes(req.run?.spec?.inputJson ?? new Uint8Array(), null)).toBe("yes");
    expect(parseJsonBytes(req.resumeCommandJson, null)).toEqual({ resume: "yes" });
    expect(req.interruptedWhen).toBe(InterruptedWhen.PENDING);
    expect(req.resumeOnly).toBe(false);
    // Without input there is nothing to resume with.
    expect(runStartRequest(THREAD, { assistant_id: "agent" }).resumeCommandJson.length).toBe(0);
  });

  it("input.respond: resume only, with the answered ids, and the thread's assistant unless one is given", () => {
    const req = inputRespondRequest(THREAD, { interrupt_id: ID_A, response: "Ada" });
    expect(req.resumeOnly).toBe(true);
    expect(req.interruptIds).toEqual([ID_A]);
    expect(req.run?.spec?.assistantId).toBe("");
    expect(parseJsonBytes(req.resumeCommandJson, null)).toEqual({ resume: { [ID_A]: "Ada" } });
    expect(inputRespondRequest(THREAD, { assistant_id: "agent", interrupt_id: ID_A }).run?.spec?.assistantId).toBe("agent");
  });

  it("input.respond: the api-server's refusals as protocol errors", () => {
    expect(inputRespondError(notFound("Thread", THREAD), THREAD)).toMatchObject({
      code: "no_such_run",
      message: `Thread ${THREAD} has no run to respond to`,
    });
    expect(inputRespondError(failedPrecondition(Reason.ThreadNotInterrupted, "no"), THREAD)?.code).toBe("invalid_argument");
    expect(inputRespondError(failedPrecondition(Reason.ThreadAssistantUnknown, "no"), THREAD)?.code).toBe("no_such_run");
    expect(inputRespondError(failedPrecondition(Reason.InterruptNotPending, "no", { interrupt_id: ID_B }), THREAD)).toMatchObject(
      { code: "no_such_interrupt", message: `No pending interrupt has the id "${ID_B}"` },
    );
    // Anything else is answered as any refusal is.
    expect(inputRespondError(notFound("Assistant", "x"), THREAD)).toBeUndefined();
    expect(inputRespondError(new ConnectError("down", Code.Unavailable), THREAD)).toBeUndefined();
  });
});

describe("threads waiting on interrupts", () => {
  it("tells a thread that waits on an interrupt (for agent.getTree)", () => {
    const thread = create(ThreadSchema, {
      status: ThreadStatus.INTERRUPTED,
      interruptsJson: jsonBytes({ task: [{ id: ID_A, value: 1 }, { value: 2 }] }),
    });
    expect(isInterrupted(thread)).toBe(true);
    expect(isInterrupted(create(ThreadSchema, { status: ThreadStatus.BUSY, interruptsJson: jsonBytes({ t: [{}] }) }))).toBe(true);
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
