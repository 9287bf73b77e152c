import { create } from "@bufbuild/protobuf";
import { AssistantSchema, AssistantVersionSchema } from "@langopen/gen/langopen/data/v1/assistant_pb";
import { IfExists, SortOrder } from "@langopen/gen/langopen/data/v1/common_pb";
import { describe, expect, it } from "vitest";
import {
  fromApiAssistantCount,
  fromApiAssistantCreate,
  fromApiAssistantPatch,
  fromApiAssistantSearch,
  fromApiAssistantVersions,
  toApiAssistant,
  toApiAssistantVersion,
  xrayDepth,
} from "./assistants.js";

const created = { seconds: 1719335433n, nanos: 109781000 };
const updated = { seconds: 1719335500n, nanos: 0 };

describe("toApiAssistant", () => {
  it("writes the public Assistant", () => {
    const assistant = create(AssistantSchema, {
      assistantId: "fe096781-5601-53d2-b2f6-0d3403f7e9ca",
      graphId: "agent",
      config: { configurable: { model: "a" } },
      context: { user: "u1" },
      metadata: { created_by: "system" },
      version: 3,
      name: "agent",
      description: "helps",
      createTime: created,
      updateTime: updated,
    });
    expect(toApiAssistant(assistant)).toStrictEqual({
      assistant_id: "fe096781-5601-53d2-b2f6-0d3403f7e9ca",
      graph_id: "agent",
      config: { configurable: { model: "a" } },
      context: { user: "u1" },
      created_at: "2024-06-25T17:10:33.109781+00:00",
      updated_at: "2024-06-25T17:11:40.000000+00:00",
      metadata: { created_by: "system" },
      version: 3,
      name: "agent",
      description: "helps",
    });
  });

  it("fills absent objects with {} and the description with null", () => {
    const api = toApiAssistant(create(AssistantSchema, { assistantId: "a", graphId: "g", version: 1, name: "n" }));
    expect(api).toMatchObject({ config: {}, context: {}, metadata: {}, description: null });
  });
});

describe("toApiAssistantVersion", () => {
  it("writes a version without updated_at", () => {
    const version = create(AssistantVersionSchema, {
      assistantId: "a",
      graphId: "g",
      version: 2,
      name: "n",
      metadata: { stage: "prod" },
      createTime: created,
    });
    expect(toApiAssistantVersion(version)).toStrictEqual({
      assistant_id: "a",
      graph_id: "g",
      config: {},
      context: {},
      created_at: "2024-06-25T17:10:33.109781+00:00",
      metadata: { stage: "prod" },
      version: 2,
      name: "n",
      description: null,
    });
  });
});

describe("requests", () => {
  it("builds CreateAssistant with raise as the default", () => {
    const req = fromApiAssistantCreate({ graph_id: "agent", metadata: { team: "red" }, description: null });
    expect(req.graphId).toBe("agent");
    expect(req.assistantId).toBe("");
    expect(req.ifExists).toBe(IfExists.RAISE);
    expect(req.metadata).toEqual({ team: "red" });
    expect(req.name).toBeUndefined();
    expect(req.description).toBeUndefined();
    expect(fromApiAssistantCreate({ graph_id: "g", if_exists: "do_nothing", name: "x" })).toMatchObject({
      ifExists: IfExists.DO_NOTHING,
      name: "x",
    });
  });

  it("builds UpdateAssistant with only the given fields", () => {
    const req = fromApiAssistantPatch("a1", { metadata: { stage: "prod" } });
    expect(req.assistantId).toBe("a1");
    expect(req.metadata).toEqual({ stage: "prod" });
    expect(req.graphId).toBeUndefined();
    expect(req.config).toBeUndefined();
    expect(req.name).toBeUndefined();
  });

  it("builds searches with the public defaults", () => {
    expect(fromApiAssistantSearch({})).toMatchObject({ limit: 10, offset: 0, graphId: "", name: "", sortBy: "" });
    expect(fromApiAssistantSearch({ sort_by: "name", sort_order: "asc", limit: 2, offset: 4 })).toMatchObject({
      sortBy: "name",
      sortOrder: SortOrder.ASC,
      limit: 2,
      offset: 4,
    });
    expect(fromApiAssistantCount({ graph_id: "agent" })).toMatchObject({ graphId: "agent", name: "" });
    expect(fromApiAssistantVersions("a1", {})).toMatchObject({ assistantId: "a1", limit: 10, offset: 0 });
  });
});

describe("xrayDepth", () => {
  it.each([
    [undefined, 0],
    ["false", 0],
    ["no", 0],
    ["true", -1],
    ["True", -1],
    ["0", 0],
    ["1", 1],
    ["3", 3],
  ])("reads %s as depth %i", (text, depth) => {
    expect(xrayDepth(text)).toBe(depth);
  });
});
