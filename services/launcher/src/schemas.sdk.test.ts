import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./test-fixtures/stack.js";

// TypeScript graphs with Annotation, zod and nested states.
const PROJECT = fileURLToPath(new URL("../../runtime-runner/src/test-fixtures/schemas/langgraph.json", import.meta.url));
const BASE_MESSAGE_REF = "#/definitions/BaseMessage<MessageStructure<MessageToolSet>,MessageType>";
// The TypeScript compiler takes seconds over a project, more on a busy machine.
const COMPILER_MS = 180_000;

let stack: TestStack;
let client: Client;

beforeAll(async () => {
  // Derived on a worker thread, which the default sandbox refuses graph code: without it here.
  stack = await startTestStack(PROJECT, { launcher: { sandbox: { mode: "none" } } });
  client = new Client({ apiUrl: stack.url });
}, COMPILER_MS);
afterAll(() => stack?.stop());

describe("typed schemas", () => {
  it(
    "answers the schemas of an Annotation graph from its TypeScript types",
    async () => {
      const schemas = await client.assistants.getSchemas("annotation");
      expect(schemas.graph_id).toBe("annotation");
      const state = schemas.state_schema as { properties: Record<string, unknown> };
      expect(state.properties.messages).toEqual({ type: "array", items: { $ref: BASE_MESSAGE_REF } });
      expect(state.properties.model_name).toEqual({ type: "string" });
      expect(state.properties.count).toEqual({ type: "number" });
      expect(schemas.config_schema).toMatchObject({
        type: "object",
        properties: { model_name: { type: "string" }, temperature: { type: "number" } },
      });
      expect(schemas.context_schema).toEqual(schemas.config_schema);
    },
    COMPILER_MS,
  );

  it(
    "answers a subgraph's own schemas",
    async () => {
      const subgraphs = await client.assistants.getSubgraphs("nested", { recurse: true });
      expect(Object.keys(subgraphs)).toEqual(["child"]);
      expect((subgraphs.child?.state_schema as { properties: unknown } | undefined)?.properties).toEqual({
        steps: { type: "array", items: { type: "string" } },
        depth: { type: "number" },
      });
    },
    COMPILER_MS,
  );
});
