import { RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";
import { describe, expect, it } from "vitest";
import { EMPTY_PROGRESS } from "../assistants/run-events";
import { outcomeOf } from "./use-run-stream";

describe("outcomeOf", () => {
  it("takes the run's final status", () => {
    expect(outcomeOf(RunStatus.SUCCESS, false, EMPTY_PROGRESS)).toBe("success");
    expect(outcomeOf(RunStatus.ERROR, false, EMPTY_PROGRESS)).toBe("error");
    expect(outcomeOf(RunStatus.TIMEOUT, false, EMPTY_PROGRESS)).toBe("error");
    expect(outcomeOf(RunStatus.INTERRUPTED, false, EMPTY_PROGRESS)).toBe("interrupted");
  });

  it("says cancelled when the user cancelled, and interrupted when a successful run stopped at an interrupt", () => {
    expect(outcomeOf(RunStatus.INTERRUPTED, true, EMPTY_PROGRESS)).toBe("cancelled");
    expect(outcomeOf(RunStatus.SUCCESS, false, { ...EMPTY_PROGRESS, interrupted: true })).toBe("interrupted");
  });

  it("falls back on what the events said when the status is unknown", () => {
    expect(outcomeOf(undefined, false, { ...EMPTY_PROGRESS, failed: true })).toBe("error");
    expect(outcomeOf(undefined, false, EMPTY_PROGRESS)).toBe("success");
  });
});
