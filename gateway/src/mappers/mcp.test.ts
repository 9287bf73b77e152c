import { create } from "@bufbuild/protobuf";
import { AssistantSchema } from "@langopen/gen/langopen/data/v1/assistant_pb";
import { describe, expect, it } from "vitest";
import { sanitiseToolName, toolDescription, toolInputSchema, toolNames, toolResult } from "./mcp.js";

const assistant = (name: string, graphId = "g", description?: string) =>
  create(AssistantSchema, { assistantId: `id-${name}-${graphId}`, name, graphId, description });

describe("tool names", () => {
  it.each([
    ["echo", "echo"],
    ["my agent!", "my_agent"],
    ["  Ünïcode name ", "Unicode_name"],
    ["名前", "assistant"],
    ["a.b/c", "a_b_c"],
    ["***", "assistant"],
    ["x".repeat(80), "x".repeat(64)],
  ])("%j -> %j", (name, tool) => {
    expect(sanitiseToolName(name)).toBe(tool);
  });

  it("suffixes clashing names in the order given, falling back to the graph id", () => {
    const named = toolNames([
      assistant("Untitled", "a"),
      assistant("Untitled", "b"),
      assistant("", "chat"),
      assistant("untitled", "c"),
    ]);
    expect([...named.keys()]).toEqual(["Untitled", "Untitled_2", "chat", "untitled"]);
    expect(named.get("Untitled_2")?.graphId).toBe("b");
    const long = toolNames([assistant("y".repeat(70)), assistant("y".repeat(70))]);
    expect([...long.keys()]).toEqual(["y".repeat(64), `${"y".repeat(62)}_2`]);
  });

  it("describes a tool by the assistant's description, else by its graph", () => {
    expect(toolDescription(assistant("a", "g", "Does things."))).toBe("Does things.");
    expect(toolDescription(assistant("a", "g"))).toContain("graph g");
  });
});

describe("tool schemas and results", () => {
  it("takes the graph's input schema when it is an object schema", () => {
    const schema = { type: "object", properties: { messages: { type: "array" } } };
    expect(toolInputSchema({ input_schema: schema })).toBe(schema);
    expect(toolInputSchema({ input_schema: { $ref: "#/definitions/x" } })).toEqual({ type: "object" });
    expect(toolInputSchema(undefined)).toEqual({ type: "object" });
  });

  it("answers the agent's last message, else the values, else the error", () => {
    expect(
      toolResult({
        messages: [
          { type: "human", content: "q" },
          { type: "ai", content: "a" },
        ],
      }),
    ).toEqual({
      content: [{ type: "text", text: "a" }],
    });
    expect(toolResult({ count: 3 })).toEqual({ content: [{ type: "text", text: '{"count":3}' }] });
    expect(toolResult({ __error__: { error: "GraphRecursionError", message: "too deep" } })).toEqual({
      content: [{ type: "text", text: "GraphRecursionError: too deep" }],
      isError: true,
    });
    const interrupted = toolResult({ q: 1, __interrupt__: [{ value: "?" }] });
    expect(JSON.parse(interrupted.content[0]?.text ?? "")).toEqual({ q: 1, __interrupt__: [{ value: "?" }] });
  });
});
