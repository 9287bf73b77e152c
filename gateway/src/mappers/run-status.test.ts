import { RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";
import { describe, expect, it } from "vitest";
import { taskState } from "./a2a.js";
import { agentStatusOfRun } from "./protocol-v2-commands.js";
import { fromApiRunStatus, lifecycleOfRunStatus, runStatusName, toApiRunStatus, UNKNOWN_RUN_STATUS } from "./run-status.js";

describe("run statuses", () => {
  it("names every status, both ways", () => {
    const names = Object.values(RunStatus)
      .filter((s): s is RunStatus => typeof s === "number" && s !== RunStatus.UNSPECIFIED)
      .map((s) => [toApiRunStatus(s), fromApiRunStatus(toApiRunStatus(s)) === s]);
    expect(names).toEqual([
      ["pending", true],
      ["running", true],
      ["success", true],
      ["error", true],
      ["timeout", true],
      ["interrupted", true],
    ]);
    expect(fromApiRunStatus(undefined)).toBe(RunStatus.UNSPECIFIED);
  });

  it("has one fallback, pending, for every status it cannot name, whatever reads it", () => {
    expect(UNKNOWN_RUN_STATUS).toBe("pending");
    for (const unknown of [RunStatus.UNSPECIFIED, 99 as RunStatus, "paused", "", undefined]) {
      expect(runStatusName(unknown)).toBe("pending");
    }
    expect(lifecycleOfRunStatus(runStatusName("paused"))).toBe("running");
    expect(taskState(99 as RunStatus)).toBe("submitted");
    expect(agentStatusOfRun(toApiRunStatus(RunStatus.UNSPECIFIED))).toBe("running");
  });

  it("maps each status to one lifecycle status", () => {
    expect(
      (["pending", "running", "success", "error", "timeout", "interrupted"] as const).map((s) => lifecycleOfRunStatus(s)),
    ).toEqual(["running", "running", "completed", "failed", "failed", "interrupted"]);
    expect(lifecycleOfRunStatus("success", true)).toBe("interrupted");
    expect(agentStatusOfRun(undefined)).toBe("started");
  });
});
