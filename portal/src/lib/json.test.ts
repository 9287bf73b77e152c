// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { compactPreview, decodeJson, decodeJsonLenient, encodeJson, parseJsonText } from "./json";

describe("JSON bytes", () => {
  it("round-trips values through UTF-8 bytes", () => {
    const value = { text: "héllo ✓ 😀", list: [1, 2.5, null, true], nested: { a: "b" } };
    const bytes = encodeJson(value);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(decodeJson(bytes)).toEqual(value);
  });

  it("treats empty bytes as absent, and absent as empty bytes", () => {
    expect(decodeJson(new Uint8Array())).toBeUndefined();
    expect(decodeJson(undefined)).toBeUndefined();
    expect(encodeJson(undefined).length).toBe(0);
    // null is a value: it is sent.
    expect(new TextDecoder().decode(encodeJson(null))).toBe("null");
  });

  it("throws on bytes that are not JSON, unless lenient", () => {
    const bytes = new TextEncoder().encode("not json");
    expect(() => decodeJson(bytes)).toThrow();
    expect(decodeJsonLenient(bytes)).toBe("not json");
  });

  it("parses typed text with a message on failure", () => {
    expect(parseJsonText('{"a": 1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(parseJsonText("{a: 1}").ok).toBe(false);
    expect(parseJsonText("  ").ok).toBe(false);
  });

  it("previews values on one bounded line", () => {
    expect(compactPreview({ a: [1, 2] })).toBe('{"a":[1,2]}');
    const preview = compactPreview({ long: "x".repeat(500) }, 20);
    expect(preview).toHaveLength(20);
    expect(preview.endsWith("…")).toBe(true);
  });
});
