import { describe, expect, it } from "vitest";
import { diffState, editedKeys, jsonEqual } from "./state-diff";

describe("jsonEqual", () => {
  it("compares objects by keys in any order, arrays in order", () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
    expect(jsonEqual("1", 1)).toBe(false);
  });
});

describe("diffState", () => {
  it("finds added, removed and changed keys, with their values", () => {
    const changes = diffState({ a: 1, b: "x", gone: true }, { a: 2, b: "x", c: { d: 1 } });
    expect(changes).toEqual([
      { kind: "changed", key: "a", before: 1, after: 2 },
      { kind: "added", key: "c", value: { d: 1 } },
      { kind: "removed", key: "gone", value: true },
    ]);
  });

  it("tells a list that grew by its new items", () => {
    expect(diffState({ trail: ["first"] }, { trail: ["first", "second", "third"] })).toEqual([
      { kind: "appended", key: "trail", items: ["second", "third"] },
    ]);
    // Not a prefix: the whole list changed.
    expect(diffState({ trail: ["a"] }, { trail: ["b", "c"] })).toEqual([
      { kind: "changed", key: "trail", before: ["a"], after: ["b", "c"] },
    ]);
  });

  it("answers nothing for equal states, and everything as added from no state", () => {
    expect(diffState({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toEqual([]);
    expect(diffState(undefined, { a: 1 })).toEqual([{ kind: "added", key: "a", value: 1 }]);
    expect(diffState(null, { a: 1 })).toEqual([{ kind: "added", key: "a", value: 1 }]);
    expect(diffState(undefined, undefined)).toEqual([]);
  });

  it("compares values that are not objects whole", () => {
    expect(diffState([1], [2])).toEqual([{ kind: "changed", key: "", before: [1], after: [2] }]);
    expect(diffState("a", "a")).toEqual([]);
    expect(diffState({ a: 1 }, null)).toEqual([{ kind: "changed", key: "", before: { a: 1 }, after: null }]);
  });
});

describe("editedKeys", () => {
  it("keeps the keys the editor changed or added, and lists the removed ones", () => {
    expect(editedKeys({ a: 1, b: [1], c: "x" }, { a: 1, b: [1, 2], d: null })).toEqual({
      update: { b: [1, 2], d: null },
      removed: ["c"],
    });
  });

  it("sends nothing when nothing changed, and every key over no state", () => {
    expect(editedKeys({ a: 1 }, { a: 1 })).toEqual({ update: {}, removed: [] });
    expect(editedKeys(undefined, { a: 1 })).toEqual({ update: { a: 1 }, removed: [] });
  });
});
