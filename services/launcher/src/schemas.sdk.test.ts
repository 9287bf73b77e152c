import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { until } from "@langopen/testkit";
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
  // The default sandbox, which refuses the runtime a worker thread: the launcher extracts them for it.
  stack = await startTestStack(PROJECT, { launcher: { sandbox: { mode: "node", typedSchemas: true } } });
  client = new Client({ apiUrl: stack.url });
}, COMPILER_MS);
afterAll(() => stack?.stop());

describe("typed schemas", () => {
  it(
    "answers the schemas of an Annotation graph from its TypeScript types",
    async () => {
      // The compiler runs after the start, off the request path: until it is done the graph answers its channels.
      const schemas = await until(
        async () => {
          const answered = await client.assistants.getSchemas("annotation");
          const state = answered.state_schema as { properties?: Record<string, { items?: unknown }> } | undefined;
          return state?.properties?.messages?.items !== undefined ? answered : undefined;
        },
        "the schemas of the annotation graph's types",
        { timeoutMs: COMPILER_MS - 10_000 },
      );
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
