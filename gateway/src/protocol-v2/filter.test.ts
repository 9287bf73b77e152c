import { describe, expect, it } from "vitest";
import { type EventFilter, matchesFilter } from "./filter.js";
import { isNamespacePrefix } from "./namespaces.js";
import type { ProtocolEvent } from "./types.js";

describe("matchesFilter", () => {
  const event = (method: string, namespace: string[], payload: unknown = {}): ProtocolEvent => ({
    type: "event",
    event_id: "1",
    seq: 1,
    method,
    params: { namespace, timestamp: 0, data: payload },
  });
  const filter = (channels: string[], rest: Partial<EventFilter> = {}): EventFilter => ({ channels: new Set(channels), ...rest });

  it("selects by channel, with input events on `input` and named custom events on `custom` or their own channel", () => {
    expect(matchesFilter(filter(["values"]), event("values", []))).toBe(true);
    expect(matchesFilter(filter(["values"]), event("updates", []))).toBe(false);
    expect(matchesFilter(filter(["input"]), event("input.requested", []))).toBe(true);
    const named = event("custom", [], { name: "a2a", payload: 1 });
    expect(matchesFilter(filter(["custom"]), named)).toBe(true);
    expect(matchesFilter(filter(["custom:a2a"]), named)).toBe(true);
    expect(matchesFilter(filter(["custom:other"]), named)).toBe(false);
    expect(matchesFilter(filter(["custom:a2a"]), event("custom", [], { payload: 1 }))).toBe(false);
  });

  it("selects by namespace prefix (task ids optional) and depth", () => {
    const deep = event("values", ["child:1", "inner:2"]);
    expect(matchesFilter(filter(["values"]), deep)).toBe(true);
    expect(matchesFilter(filter(["values"], { depth: 1 }), deep)).toBe(false);
    expect(matchesFilter(filter(["values"], { depth: 2 }), deep)).toBe(true);
    expect(matchesFilter(filter(["values"], { namespaces: [["child"]] }), deep)).toBe(true);
    expect(matchesFilter(filter(["values"], { namespaces: [["child"]], depth: 0 }), deep)).toBe(false);
    expect(matchesFilter(filter(["values"], { namespaces: [["child:9"]] }), deep)).toBe(false);
    expect(matchesFilter(filter(["values"], { namespaces: [["other"], ["child:1", "inner"]], depth: 0 }), deep)).toBe(true);
    expect(matchesFilter(filter(["values"], { namespaces: [["child"]] }), event("values", []))).toBe(false);
    expect(isNamespacePrefix(["a:1"], [])).toBe(true);
  });
});
