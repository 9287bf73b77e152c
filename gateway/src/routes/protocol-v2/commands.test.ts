import type { ConnectRouter } from "@connectrpc/connect";
import { failedPrecondition, notFound, parseJsonBytes, Reason } from "@langopen/common";
import { type CreateOrResumeRunRequest, InterruptedWhen, RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { describe, expect, it } from "vitest";
import { standInGateway, standInRun } from "../../test-fixtures/stand-in.js";

const THREAD = "0190b3c2-8c4f-7000-8000-000000000001";
const RUN = "0190b3c2-8c4f-7000-8000-0000000000f1";
const INTERRUPT = "a".repeat(32);

const start = standInGateway("protocol-v2-commands-route-test");

/** A RunService whose CreateOrResumeRun answers a run, or throws `refusal`. */
const runService = (refusal?: Error) => (router: ConnectRouter) =>
  router.service(RunService, {
    createOrResumeRun: () => {
      if (refusal) throw refusal;
      return { run: standInRun(THREAD), resumed: true };
    },
  });

const command = (body: object) => ({
  method: "POST" as const,
  url: `/threads/${THREAD}/commands`,
  payload: body,
});

describe("run.start and input.respond decide nothing themselves", () => {
  it("starts a run with one CreateOrResumeRun, which resumes with the input when the thread waits", async () => {
    const { app, calls, methods } = await start(runService());
    const res = await app.inject(command({ id: 1, method: "run.start", params: { assistant_id: "agent", input: "Bob" } }));
    expect(res.json()).toEqual({ type: "success", id: 1, result: { run_id: RUN, thread_id: THREAD } });
    expect(methods).toEqual(["CreateOrResumeRun"]);
    const req = calls[0]?.input as CreateOrResumeRunRequest;
    expect(req.interruptedWhen).toBe(InterruptedWhen.PENDING);
    expect(req.resumeOnly).toBeFalsy();
    expect(parseJsonBytes(req.resumeCommandJson, null)).toEqual({ resume: "Bob" });
    expect(parseJsonBytes(req.run?.spec?.inputJson ?? new Uint8Array(), null)).toBe("Bob");
  });

  it("answers an interrupt with one CreateOrResumeRun, resume only, leaving the assistant to the thread", async () => {
    const { app, calls, methods } = await start(runService());
    const res = await app.inject(
      command({ id: 2, method: "input.respond", params: { interrupt_id: INTERRUPT, response: "Ada" } }),
    );
    expect(res.json()).toEqual({ type: "success", id: 2, result: { run_id: RUN } });
    expect(methods).toEqual(["CreateOrResumeRun"]);
    const req = calls[0]?.input as CreateOrResumeRunRequest;
    expect(req).toMatchObject({ resumeOnly: true, interruptIds: [INTERRUPT], interruptedWhen: InterruptedWhen.PENDING });
    expect(req.run?.spec?.assistantId).toBe("");
    expect(parseJsonBytes(req.resumeCommandJson, null)).toEqual({ resume: { [INTERRUPT]: "Ada" } });
  });

  it.each([
    [notFound("Thread", THREAD), "no_such_run", `Thread ${THREAD} has no run to respond to`],
    [
      failedPrecondition(Reason.ThreadNotInterrupted, "no"),
      "invalid_argument",
      "input.respond can only be used while the thread waits on an interrupt",
    ],
    [failedPrecondition(Reason.ThreadAssistantUnknown, "no"), "no_such_run", `Thread ${THREAD} has no run to respond to`],
    [
      failedPrecondition(Reason.InterruptNotPending, "no", { interrupt_id: INTERRUPT }),
      "no_such_interrupt",
      `No pending interrupt has the id "${INTERRUPT}"`,
    ],
    [notFound("Assistant", "gone"), "invalid_argument", "Assistant gone not found"],
  ])("answers the api-server's refusal %# of input.respond as a protocol error", async (refusal, error, message) => {
    const { app } = await start(runService(refusal));
    const res = await app.inject(command({ id: 3, method: "input.respond", params: { interrupt_id: INTERRUPT, response: 1 } }));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ type: "error", id: 3, error, message });
  });
});
