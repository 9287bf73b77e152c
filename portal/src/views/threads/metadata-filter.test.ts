import { describe, expect, it } from "vitest";
import { parseMetadataFilter } from "./metadata-filter";

describe("parseMetadataFilter", () => {
  it("reads key=value pairs separated by commas", () => {
    expect(parseMetadataFilter("graph_id=steps, user = alice")).toEqual({
      ok: true,
      value: { graph_id: "steps", user: "alice" },
    });
  });

  it("reads JSON scalars as such and quoted text as text", () => {
    expect(parseMetadataFilter('n=42, on=true, none=null, id="42", note="a, b"')).toEqual({
      ok: true,
      value: { n: 42, on: true, none: null, id: "42", note: "a, b" },
    });
  });

  it("keeps values with '=' and unfinished quotes as typed", () => {
    expect(parseMetadataFilter("q=a=b")).toEqual({ ok: true, value: { q: "a=b" } });
    expect(parseMetadataFilter('q="open')).toEqual({ ok: true, value: { q: '"open' } });
  });

  it("is no filter when empty, and an error without '=' or a key", () => {
    expect(parseMetadataFilter("  ")).toEqual({ ok: true, value: {} });
    expect(parseMetadataFilter("alice")).toMatchObject({ ok: false });
    expect(parseMetadataFilter("=x")).toMatchObject({ ok: false });
  });
});
