import { describe, expect, it } from "vitest";
import { type CronFields, cronRequest } from "./cron-form";

const base: CronFields = {
  assistantId: "echo",
  threadId: "",
  schedule: " */5  * * * * ",
  timezone: "",
  input: "",
  metadata: "",
  enabled: true,
};

describe("cronRequest", () => {
  it("makes a stateless cron with no input", () => {
    const result = cronRequest(base);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.request).toMatchObject({ threadId: "", schedule: "*/5 * * * *", timezone: "", enabled: true });
    expect(result.request.payload?.assistantId).toBe("echo");
    expect(result.request.payload?.inputJson?.length).toBe(0);
    expect(result.request.metadata).toBeUndefined();
  });

  it("carries the input and metadata as given", () => {
    const result = cronRequest({
      ...base,
      threadId: " t1 ",
      input: '{"x": 1}',
      metadata: '{"team": "a"}',
      timezone: "Europe/Paris",
    });
    if (!result.ok) throw new Error("refused");
    expect(new TextDecoder().decode(result.request.payload?.inputJson)).toBe('{"x":1}');
    expect(result.request.metadata).toEqual({ team: "a" });
    expect(result.request.threadId).toBe("t1");
    expect(result.request.timezone).toBe("Europe/Paris");
  });

  it("says what is missing or not JSON", () => {
    const result = cronRequest({ ...base, assistantId: "", schedule: "", input: "{", metadata: "[1]" });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(Object.keys(result.problems).sort()).toEqual(["assistantId", "input", "metadata", "schedule"]);
  });
});
