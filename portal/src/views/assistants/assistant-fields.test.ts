import { create } from "@bufbuild/protobuf";
import { AssistantSchema } from "@langopen/gen/langopen/data/v1/assistant_pb";
import { describe, expect, it } from "vitest";
import {
  createAssistantRequest,
  deleteQuestion,
  detailFieldsOf,
  type NewAssistantFields,
  sameJson,
  updateAssistantRequest,
} from "./assistant-fields";

const blank: NewAssistantFields = {
  graphId: "echo",
  name: " Support ",
  description: "",
  configurable: "",
  context: "",
  metadata: "",
};

const assistant = create(AssistantSchema, {
  assistantId: "a1",
  graphId: "echo",
  name: "Support",
  description: "Answers",
  metadata: { team: "red", tags: ["a", "b"] },
  version: 2,
});

describe("createAssistantRequest", () => {
  it("sends only what was given", () => {
    const result = createAssistantRequest(blank);
    if (!result.ok) throw new Error("refused");
    expect(result.request).toEqual({ graphId: "echo", name: "Support" });
  });

  it("sends the configurable inside the config, and the context and metadata as given", () => {
    const result = createAssistantRequest({
      ...blank,
      description: " Helps ",
      configurable: '{"tone": "warm"}',
      context: '{"user": "u1"}',
      metadata: '{"team": "red"}',
    });
    if (!result.ok) throw new Error("refused");
    expect(result.request).toEqual({
      graphId: "echo",
      name: "Support",
      description: "Helps",
      config: { configurable: { tone: "warm" } },
      context: { user: "u1" },
      metadata: { team: "red" },
    });
  });

  it("says which fields are missing, not JSON, or not objects", () => {
    const result = createAssistantRequest({ ...blank, graphId: "", name: " ", configurable: "{", context: "[1]", metadata: "3" });
    if (result.ok) throw new Error("accepted");
    expect(Object.keys(result.problems).sort()).toEqual(["configurable", "context", "graphId", "metadata", "name"]);
    expect(result.problems.configurable).toMatch(/^Not valid JSON: /);
    expect(result.problems.context).toBe('The context must be a JSON object, e.g. {"key": "value"}.');
  });
});

describe("updateAssistantRequest", () => {
  it("starts from the assistant's details, and finds nothing changed", () => {
    const fields = detailFieldsOf(assistant);
    expect(JSON.parse(fields.metadata)).toEqual({ team: "red", tags: ["a", "b"] });
    const result = updateAssistantRequest(assistant, { ...fields, metadata: '{"tags": ["a", "b"], "team": "red"}' });
    expect(result).toEqual({ ok: true, request: undefined });
  });

  it("sends the fields changed, a cleared description as empty", () => {
    const result = updateAssistantRequest(assistant, {
      name: "Support v2",
      description: "",
      metadata: '{"team": "blue", "tags": ["a", "b"], "tier": 1}',
    });
    if (!result.ok) throw new Error("refused");
    expect(result.request).toEqual({
      assistantId: "a1",
      name: "Support v2",
      description: "",
      metadata: { team: "blue", tags: ["a", "b"], tier: 1 },
    });
  });

  it("refuses removing a metadata key (the server would keep it), bad JSON and an empty name", () => {
    const dropped = updateAssistantRequest(assistant, { ...detailFieldsOf(assistant), metadata: '{"team": "red"}' });
    if (dropped.ok) throw new Error("accepted");
    expect(dropped.problems.metadata).toContain("put back “tags”, or set it to null");
    const bad = updateAssistantRequest(assistant, { name: "", description: "", metadata: "{team}" });
    if (bad.ok) throw new Error("accepted");
    expect(Object.keys(bad.problems).sort()).toEqual(["metadata", "name"]);
  });
});

describe("sameJson", () => {
  it("ignores key order, not array order", () => {
    expect(sameJson({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBe(true);
    expect(sameJson([1, 2], [2, 1])).toBe(false);
    expect(sameJson({ a: null }, {})).toBe(false);
    expect(sameJson({ a: 1 }, [1])).toBe(false);
  });
});

describe("deleteQuestion", () => {
  it("says when the assistant is a graph's default", () => {
    expect(deleteQuestion(assistant)).toBe("Delete “Support”? Its versions go with it; its threads stay.");
    const system = create(AssistantSchema, {
      assistantId: "d1",
      graphId: "echo",
      name: "echo",
      metadata: { created_by: "system" },
    });
    expect(deleteQuestion(system)).toContain("default assistant of the graph echo");
  });
});
