import { Code, ConnectError } from "@connectrpc/connect";
import { errorInfo, RETRY_AFTER_METADATA, Reason } from "@langopen/common";
import { describe, expect, it } from "vitest";
import { createAdmission } from "./admission.js";

/** An admission over a backlog the test sets, on a clock the test moves; counts the queries. */
function setUp(maxPending: number) {
  const state = { backlog: 0, clock: 0, queries: 0 };
  const admission = createAdmission({
    countRunnable: async (atMost) => {
      state.queries++;
      return Math.min(state.backlog, atMost);
    },
    maxPending,
    refreshMs: 1_000,
    now: () => state.clock,
  });
  return { state, admission };
}

const refusal = async (admit: Promise<void>) => {
  try {
    await admit;
  } catch (err) {
    return err as ConnectError;
  }
  return undefined;
};

describe("admission control", () => {
  it("refuses with RESOURCE_EXHAUSTED and a Retry-After once the backlog reaches the budget", async () => {
    const { state, admission } = setUp(10);
    state.backlog = 10;
    const err = await refusal(admission.admit());
    expect(err).toBeInstanceOf(ConnectError);
    expect(err?.code).toBe(Code.ResourceExhausted);
    expect(err && errorInfo(err)?.reason).toBe(Reason.Overloaded);
    expect(Number(err && errorInfo(err)?.metadata[RETRY_AFTER_METADATA])).toBeGreaterThan(0);
  });

  it("counts at most once per refresh interval, adding this process's creates meanwhile", async () => {
    const { state, admission } = setUp(10);
    state.backlog = 8;
    await Promise.all([admission.admit(), admission.admit(), admission.admit()]);
    expect(state.queries).toBe(1);
    admission.created();
    await admission.admit();
    admission.created();
    // 8 counted + 2 created: full, without a new query.
    expect((await refusal(admission.admit()))?.code).toBe(Code.ResourceExhausted);
    expect(state.queries).toBe(1);
    // The backlog drained; the next interval's count lets runs in again.
    state.backlog = 0;
    state.clock += 1_000;
    await admission.admit();
    expect(state.queries).toBe(2);
  });

  it("admits everything without a query when it has no budget", async () => {
    const { state, admission } = setUp(0);
    state.backlog = 1_000_000;
    await admission.admit();
    expect(state.queries).toBe(0);
  });
});
