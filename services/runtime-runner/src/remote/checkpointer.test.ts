import { describe, expect, it } from "vitest";
import { stripNulEscapes } from "./checkpointer.js";

describe("stripNulEscapes", () => {
  it("drops \\u0000 escapes, which Postgres jsonb refuses, and nothing else", () => {
    const json = JSON.stringify({ a: "x\u0000y", b: "\\u0000 stays", c: "\\\u0000" });
    const cleaned = stripNulEscapes(json);
    expect(JSON.parse(cleaned)).toEqual({ a: "xy", b: "\\u0000 stays", c: "\\" });
    expect(cleaned).not.toMatch(/(^|[^\\])(\\\\)*\\u0000/);
  });
});
