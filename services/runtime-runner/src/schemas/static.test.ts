import { fileURLToPath } from "node:url";
import { createLogger } from "@langopen/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { graphSchemas } from "../domain/schemas.js";
import { createGraphRegistry, type GraphRegistry } from "../graphs/registry.js";
import { startStaticSchemas } from "./static.js";

const PROJECT = fileURLToPath(new URL("../test-fixtures/schemas/langgraph.json", import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../test-fixtures/schemas/${name}`, import.meta.url));
const logger = createLogger({ service: "test", level: "silent" });

// The message type as the reference server names it (its tests/schema-expectations.mts).
const BASE_MESSAGE_REF = "#/definitions/BaseMessage<MessageStructure<MessageToolSet>,MessageType>";

interface ObjectSchema {
  type?: string;
  properties: Record<string, { type?: string; items?: { $ref?: string }; description?: string }>;
  required?: string[];
  definitions?: Record<string, unknown>;
}

// The TypeScript compiler takes seconds over a project, more on a busy machine.
const COMPILER_MS = 180_000;

describe("schemas from TypeScript types", () => {
  let graphs: GraphRegistry;
  let closeLogs: (() => void) | undefined;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    const capturing = createLogger({
      service: "test",
      level: "info",
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    graphs = await createGraphRegistry({ configPath: PROJECT, logger: capturing });
    closeLogs = () => lines.splice(0);
  }, COMPILER_MS);
  afterAll(() => closeLogs?.());

  it(
    "types an Annotation state: messages as message arrays, strings, numbers, optional values",
    async () => {
      const typed = await graphs.typedSchemas("annotation");
      const state = typed?.state as ObjectSchema;
      expect(state.type).toBe("object");
      expect(state.properties.messages).toEqual({ type: "array", items: { $ref: BASE_MESSAGE_REF } });
      expect(state.properties.history?.items?.$ref).toBe(BASE_MESSAGE_REF);
      expect(state.properties.model_name).toEqual({ type: "string" });
      expect(state.properties.count).toEqual({ type: "number" });
      expect(state.properties.note).toEqual({ type: "string" });
      // An update may leave out any key.
      expect(state.required ?? []).toEqual([]);
      expect(Object.keys(state.definitions ?? {})).toContain("BaseMessage<MessageStructure<MessageToolSet>,MessageType>");
      expect(lines.some((l) => l.msg === "Extracted graph schemas from TypeScript types")).toBe(true);
    },
    COMPILER_MS,
  );

  it(
    "types the config annotation, answered as config and context schema",
    async () => {
      const graph = await graphs.resolve("annotation", {});
      const module = await graphs.importLanggraph("./zod/schema");
      const schemas = graphSchemas(graph, "annotation", module, await graphs.typedSchemas("annotation"));
      const config = schemas.config_schema as ObjectSchema;
      expect(config.properties).toEqual({ model_name: { type: "string" }, temperature: { type: "number" } });
      expect(schemas.context_schema).toEqual(config);
      expect((schemas.state_schema as ObjectSchema | undefined)?.properties.model_name).toEqual({ type: "string" });
    },
    COMPILER_MS,
  );

  it(
    "keeps input and output apart when they differ from the state",
    async () => {
      const typed = await graphs.typedSchemas("io");
      expect(Object.keys((typed?.input as ObjectSchema | undefined)?.properties ?? {})).toEqual(["question"]);
      expect((typed?.output as ObjectSchema | undefined)?.properties).toEqual({ answer: { type: "string" } });
    },
    COMPILER_MS,
  );

  it(
    "types subgraphs by namespace, and a subgraph it cannot see as its parent",
    async () => {
      const child = await graphs.typedSchemas("nested", "child");
      expect((child?.state as ObjectSchema | undefined)?.properties).toEqual({
        steps: { type: "array", items: { type: "string" } },
        depth: { type: "number" },
      });
      const parent = await graphs.typedSchemas("nested");
      expect(Object.keys((parent?.state as ObjectSchema | undefined)?.properties ?? {})).toEqual(["steps", "title"]);
      expect(await graphs.typedSchemas("nested", "nowhere")).toEqual(parent);
    },
    COMPILER_MS,
  );

  it(
    "prefers a zod state's own schemas (with their descriptions) over the types",
    async () => {
      const graph = await graphs.resolve("zod", {});
      const module = await graphs.importLanggraph("./zod/schema");
      const schemas = graphSchemas(graph, "zod", module, await graphs.typedSchemas("zod"));
      expect((schemas.state_schema as ObjectSchema | undefined)?.properties.topic).toMatchObject({
        type: "string",
        description: "What to write about",
      });
    },
    COMPILER_MS,
  );

  it(
    "leaves a JavaScript graph to the channel schemas",
    async () => {
      expect(await graphs.typedSchemas("echo")).toBeUndefined();
      const schemas = graphSchemas(await graphs.resolve("echo", {}), "echo", undefined, undefined);
      expect(schemas.state_schema).toEqual({ type: "object", title: "echo.state", properties: { text: {} } });
      expect(schemas.config_schema).toBeUndefined();
    },
    COMPILER_MS,
  );
});

describe("schema extraction failures", () => {
  it(
    "never fails its caller: a failed extraction logs a warning and gives nothing",
    async () => {
      const lines: Array<Record<string, unknown>> = [];
      const capturing = createLogger({
        service: "test",
        level: "warn",
        destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
      });
      // A worker given no time at all cannot finish.
      const cache = startStaticSchemas(
        { io: { sourceFile: fixture("io.ts"), exportSymbol: "graph" } },
        { logger: capturing, timeoutMs: 1 },
      );
      expect(await cache.get("io")).toBeUndefined();
      expect(lines).toContainEqual(
        expect.objectContaining({ level: 40, msg: expect.stringContaining("Could not extract graph schemas"), graphs: ["io"] }),
      );
      // A source that is not there: the extractor answers no schema, and nothing throws.
      const missing = startStaticSchemas({ gone: { sourceFile: fixture("gone.ts"), exportSymbol: "graph" } }, { logger });
      expect(await missing.get("gone")).toBeUndefined();
    },
    COMPILER_MS,
  );
});
