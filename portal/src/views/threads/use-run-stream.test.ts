import { describe, expect, it } from "vitest";
import { FROM_FIRST_EVENT } from "./use-run-stream";

describe("joining a run", () => {
  it("asks StreamRun for every event from the first (an empty id would be live events only)", () => {
    expect(FROM_FIRST_EVENT).toBe("-1");
  });
});
