// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { buildInput, hasMessagesInput, initialValues, schemaFields } from "./schema-form";

const schema = {
  type: "object",
  properties: {
    messages: { type: "array", items: { $ref: "#/definitions/BaseMessage" } },
    topic: { type: "string", description: "What to write about" },
    temperature: { anyOf: [{ type: "number" }, { type: "null" }], default: 0.5 },
    steps: { type: "integer" },
    verbose: { type: "boolean" },
    tone: { $ref: "#/definitions/Tone" },
    extra: { type: "object" },
    anything: {},
  },
  required: ["topic"],
  definitions: { BaseMessage: { type: "object" }, Tone: { enum: ["dry", "warm"] } },
};

describe("schemaFields", () => {
  it("maps each property to a field kind, following $refs and nullable unions", () => {
    const fields = schemaFields(schema);
    expect(fields?.map((field) => [field.name, field.kind])).toEqual([
      ["messages", "messages"],
      ["topic", "string"],
      ["temperature", "number"],
      ["steps", "integer"],
      ["verbose", "boolean"],
      ["tone", "enum"],
      ["extra", "json"],
      ["anything", "json"],
    ]);
    const topic = fields?.find((field) => field.name === "topic");
    expect(topic).toMatchObject({ required: true, label: "Topic", description: "What to write about" });
    expect(fields?.find((field) => field.name === "tone")?.options).toEqual(["dry", "warm"]);
  });

  it("leaves schemas that are not objects with properties to the JSON editor", () => {
    expect(schemaFields(undefined)).toBeUndefined();
    expect(schemaFields({ type: "string" })).toBeUndefined();
  });

  it("does not loop on a schema that refers to itself", () => {
    const looping = { $ref: "#/definitions/A", definitions: { A: { $ref: "#/definitions/A" } } };
    expect(schemaFields(looping)).toBeUndefined();
  });

  it("tells a chat graph by its messages input", () => {
    expect(hasMessagesInput(schema)).toBe(true);
    expect(hasMessagesInput({ type: "object", properties: { value: {} } })).toBe(false);
  });
});

describe("buildInput", () => {
  const fields = schemaFields(schema) ?? [];

  it("starts from the schema's defaults", () => {
    expect(initialValues(fields)).toMatchObject({ temperature: "0.5", verbose: false, topic: "", tone: "" });
  });

  it("builds the input, a message text becoming one user message", () => {
    const values = {
      ...initialValues(fields),
      messages: "hello",
      topic: "tides",
      steps: "3",
      verbose: true,
      tone: JSON.stringify("warm"),
      extra: '{"k": [1]}',
    };
    expect(buildInput(fields, values)).toEqual({
      ok: true,
      input: {
        messages: [{ role: "user", content: "hello" }],
        topic: "tides",
        temperature: 0.5,
        steps: 3,
        verbose: true,
        tone: "warm",
        extra: { k: [1] },
      },
    });
  });

  it("takes text that is not JSON as a string where the schema allows any value", () => {
    const values = { ...initialValues(fields), topic: "t", anything: "plain words", extra: "" };
    expect(buildInput(fields, values)).toMatchObject({ ok: true, input: { anything: "plain words" } });
    expect(buildInput(fields, { ...values, anything: "[1, 2]" })).toMatchObject({ ok: true, input: { anything: [1, 2] } });
  });

  it("leaves out empty optional fields and reports bad ones", () => {
    const values = { ...initialValues(fields), temperature: "", steps: "2.5", extra: "{oops" };
    const built = buildInput(fields, values);
    expect(built.ok).toBe(false);
    if (!built.ok) {
      expect(Object.keys(built.errors).sort()).toEqual(["extra", "steps", "topic"]);
      expect(built.errors.topic).toBe("Required.");
    }
    const fine = buildInput(fields, { ...initialValues(fields), topic: "x", temperature: "" });
    expect(fine).toEqual({ ok: true, input: { topic: "x", verbose: false } });
  });
});
