import type { TSchema } from "typebox";
import { describe, expect, it } from "vitest";
import { AssistantCreateBody, AssistantDeleteQuery, AssistantSearchBody } from "./schemas/assistants.js";
import { ThreadIdParams } from "./schemas/common.js";
import { StorePutBody, StoreSearchBody } from "./schemas/store.js";
import { ThreadCreateBody, ThreadSearchBody } from "./schemas/threads.js";
import { fieldName, type RequestValidationError, validatorCompiler } from "./validation.js";

type Part = "body" | "querystring" | "params";

function check(schema: TSchema, httpPart: Part, value: unknown): { value?: unknown; error?: RequestValidationError } {
  const validate = validatorCompiler({ schema, httpPart, method: "POST", url: "/" }) as (v: unknown) => {
    value?: unknown;
    error?: RequestValidationError;
  };
  return validate(value);
}

const detail = (schema: TSchema, httpPart: Part, value: unknown) => check(schema, httpPart, value).error?.message;

describe("validatorCompiler", () => {
  it("accepts valid bodies and keeps unknown fields", () => {
    const body = { graph_id: "agent", if_exists: "do_nothing", extra: 1 };
    expect(check(AssistantCreateBody, "body", body)).toEqual({ value: body });
  });

  it("does not coerce body types", () => {
    expect(detail(AssistantSearchBody, "body", { limit: "10" })).toBe("Invalid body: 'limit' must be an integer from 1 to 1000");
  });

  it("converts query parameters and path parameters", () => {
    expect(check(AssistantDeleteQuery, "querystring", { delete_threads: "True" })).toEqual({ value: { delete_threads: "True" } });
    expect(detail(AssistantDeleteQuery, "querystring", { delete_threads: "maybe" })).toBe(
      "Invalid query parameter: 'delete_threads' must be a boolean (true, false, 1, 0, yes or no)",
    );
  });

  it("names every offending field", () => {
    expect(detail(AssistantCreateBody, "body", { graph_id: 1, assistant_id: "x", if_exists: "never" })).toBe(
      `Invalid body: 'graph_id' must be a string; 'assistant_id' must be a UUID; 'if_exists' must be one of "raise", "do_nothing"`,
    );
    expect(detail(AssistantCreateBody, "body", {})).toBe("Invalid body: 'graph_id' is required");
  });

  it("reports nested paths", () => {
    expect(detail(ThreadCreateBody, "body", { ttl: { strategy: "later", ttl: 0 } })).toBe(
      `Invalid body: 'ttl.strategy' must be one of "delete", "keep_latest"; 'ttl.ttl' must be a number of minutes > 0`,
    );
    expect(detail(ThreadSearchBody, "body", { ids: ["0190b3c2-8c4f-7000-8000-000000000001", "nope"] })).toBe(
      "Invalid body: 'ids[1]' must be a UUID",
    );
  });

  it("says what is wrong with a union instead of listing every branch", () => {
    expect(detail(StorePutBody, "body", { namespace: ["a"], key: "k", value: {}, index: true })).toBe(
      "Invalid body: 'index' must be false, a list of field paths, or null",
    );
    // The value has the shape of one branch: that branch's error is the useful one.
    expect(detail(StoreSearchBody, "body", { namespace_prefix: ["a.b"] })).toBe(
      "Invalid body: 'namespace_prefix[0]' must be a non-empty label without '.'",
    );
  });

  it("rejects bodies that are not objects, or missing", () => {
    expect(detail(AssistantSearchBody, "body", [])).toBe("Request body must be a JSON object");
    expect(detail(AssistantCreateBody, "body", null)).toBe("Request body is required: send a JSON object");
  });

  it("rejects values the spec constrains", () => {
    expect(detail(StorePutBody, "body", { namespace: ["a"], key: "k", value: [1] })).toBe(
      "Invalid body: 'value' must be a JSON object",
    );
    expect(detail(ThreadSearchBody, "body", { extract: { a: "state.x" } })).toBe(
      "Invalid body: 'extract.a' must be a path starting with values, metadata, config or interrupts",
    );
    const many = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, "values.x"]));
    expect(detail(ThreadSearchBody, "body", { extract: many })).toBe("Invalid body: 'extract' must have at most 10 entries");
  });

  it("checks UUID path parameters", () => {
    expect(check(ThreadIdParams, "params", { thread_id: "0190B3C2-8C4F-7000-8000-000000000001" }).error).toBeUndefined();
    expect(detail(ThreadIdParams, "params", { thread_id: "123" })).toBe("Invalid path parameter: 'thread_id' must be a UUID");
  });
});

describe("fieldName", () => {
  it("turns JSON pointers into field paths", () => {
    expect(fieldName("")).toBe("");
    expect(fieldName("/ttl/strategy")).toBe("ttl.strategy");
    expect(fieldName("/supersteps/0/updates/1", "as_node")).toBe("supersteps[0].updates[1].as_node");
    expect(fieldName("/a~1b")).toBe("a/b");
  });
});
