import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createIdleCollector, PRESSURE_CHECK_MS } from "./idle-collector.js";
import { createLogger } from "./logger.js";

const MiB = 1024 * 1024;
const logger = createLogger({ service: "test", level: "silent" });

/** A process whose size the test sets, and whose collections give back what it says. */
function fakeProcess(startMb: number) {
  const state = { mb: startMb, collections: 0, afterCollectionMb: startMb };
  return {
    state,
    rss: () => state.mb * MiB,
    gc: () => {
      state.collections++;
      state.mb = state.afterCollectionMb;
    },
  };
}

describe("createIdleCollector", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("collects once idle for idleMs after the process grew past growthBytes, not while a run is in flight", () => {
    const p = fakeProcess(100);
    const collector = createIdleCollector({ logger, growthBytes: 64 * MiB, idleMs: 1_000, rss: p.rss, gc: p.gc });
    const endA = collector.begin();
    const endB = collector.begin();
    p.state.mb = 400;
    endA();
    vi.advanceTimersByTime(5_000);
    expect(p.state.collections).toBe(0); // B still runs
    endB();
    vi.advanceTimersByTime(999);
    expect(p.state.collections).toBe(0);
    vi.advanceTimersByTime(1);
    expect(p.state.collections).toBe(1);
  });

  it("leaves a process that grew less than growthBytes alone, and a run that starts within idleMs keeps the heap", () => {
    const p = fakeProcess(100);
    const collector = createIdleCollector({ logger, growthBytes: 64 * MiB, idleMs: 1_000, rss: p.rss, gc: p.gc });
    collector.begin()();
    p.state.mb = 150;
    vi.advanceTimersByTime(2_000);
    expect(p.state.collections).toBe(0);
    p.state.mb = 400;
    const end = collector.begin();
    end();
    const next = collector.begin();
    vi.advanceTimersByTime(2_000);
    expect(p.state.collections).toBe(0);
    next();
    end(); // a second call of one end counts nothing
    vi.advanceTimersByTime(1_000);
    expect(p.state.collections).toBe(1);
  });

  it("with pressureBytes, collects when a run ends past it, with runs in flight and without waiting", () => {
    const p = fakeProcess(100);
    p.state.afterCollectionMb = 120;
    let clock = 0;
    const collector = createIdleCollector({
      logger,
      idleMs: 1_000,
      pressureBytes: 192 * MiB,
      rss: p.rss,
      gc: p.gc,
      now: () => clock,
    });
    const busy = collector.begin();
    const big = collector.begin();
    p.state.mb = 250; // grown 150 MiB: under the pressure
    const small = collector.begin();
    small();
    expect(p.state.collections).toBe(0);
    p.state.mb = 320; // grown 220 MiB
    clock += PRESSURE_CHECK_MS;
    big();
    expect(p.state.collections).toBe(1);
    expect(p.state.mb).toBe(120);
    // The baseline is the size after the collection: growth counts from there.
    p.state.mb = 300;
    clock += PRESSURE_CHECK_MS;
    collector.begin()();
    expect(p.state.collections).toBe(1);
    p.state.mb = 330;
    clock += PRESSURE_CHECK_MS;
    collector.begin()();
    expect(p.state.collections).toBe(2);
    busy();
  });

  it("reads the process's size for the pressure check at most once per PRESSURE_CHECK_MS of runs' ends", () => {
    const p = fakeProcess(100);
    let reads = 0;
    let clock = 1_000;
    const rss = () => {
      reads++;
      return p.rss();
    };
    const collector = createIdleCollector({ logger, pressureBytes: 192 * MiB, rss, gc: p.gc, now: () => clock });
    const busy = collector.begin(); // never idle: only the pressure check reads
    const readsAtStart = reads;
    for (let i = 0; i < 100; i++) collector.begin()();
    expect(reads - readsAtStart).toBe(1);
    // Grown past the pressure within the window: the next end after it collects.
    p.state.mb = 400;
    collector.begin()();
    expect(p.state.collections).toBe(0);
    clock += PRESSURE_CHECK_MS;
    collector.begin()();
    expect(p.state.collections).toBe(1);
    busy();
  });
});
