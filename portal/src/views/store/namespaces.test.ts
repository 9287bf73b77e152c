import { describe, expect, it } from "vitest";
import { childrenOf, formatNamespace, namespaceParams, parseNamespace, sameNamespace } from "./namespaces";

describe("childrenOf", () => {
  const listed = [["users"], ["users", "alice"], ["users", "bob"], ["users", "alice"], ["docs"]];

  it("lists the next labels under a prefix, sorted and once each", () => {
    expect(childrenOf(listed, [])).toEqual({ children: ["docs", "users"], hasOwn: false });
    expect(childrenOf(listed, ["users"])).toEqual({ children: ["alice", "bob"], hasOwn: true });
  });

  it("knows a leaf, and ignores namespaces outside the prefix", () => {
    expect(childrenOf(listed, ["users", "alice"])).toEqual({ children: [], hasOwn: true });
    expect(childrenOf(listed, ["nope"])).toEqual({ children: [], hasOwn: false });
  });
});

describe("parseNamespace", () => {
  it("reads labels separated by slashes", () => {
    expect(parseNamespace(" users / alice ")).toEqual({ ok: true, value: ["users", "alice"] });
    expect(parseNamespace("memories")).toEqual({ ok: true, value: ["memories"] });
  });

  it("reads a JSON array, for labels holding slashes", () => {
    expect(parseNamespace('["a/b", "c"]')).toEqual({ ok: true, value: ["a/b", "c"] });
    expect(parseNamespace("[]").ok).toBe(false);
    expect(parseNamespace("[1]").ok).toBe(false);
    expect(parseNamespace("[oops").ok).toBe(false);
  });

  it("refuses empty namespaces and empty labels", () => {
    expect(parseNamespace("").ok).toBe(false);
    expect(parseNamespace("a//b").ok).toBe(false);
  });

  it("round-trips with formatNamespace", () => {
    for (const labels of [["users", "alice"], ["a/b", "c"], [" x"]]) {
      expect(parseNamespace(formatNamespace(labels))).toEqual({ ok: true, value: labels });
    }
  });
});

describe("namespace helpers", () => {
  it("compares namespaces and writes them as repeated params", () => {
    expect(sameNamespace(["a", "b"], ["a", "b"])).toBe(true);
    expect(sameNamespace(["a"], ["a", "b"])).toBe(false);
    const params = namespaceParams(new URLSearchParams("ns=old&q=x"), "ns", ["a&b", "c"]);
    expect(params.getAll("ns")).toEqual(["a&b", "c"]);
    expect(params.get("q")).toBe("x");
  });
});
