import { create } from "@bufbuild/protobuf";
import { jsonBytes, parseJsonBytes } from "@langopen/common";
import { ItemSchema } from "@langopen/gen/langopen/data/v1/store_pb";
import { ListNamespacesResponseSchema } from "@langopen/gen/langopen/data/v1/store_service_pb";
import { describe, expect, it } from "vitest";
import {
  fromApiDeleteItem,
  fromApiListNamespaces,
  fromApiPutItem,
  fromApiSearchItems,
  namespaceFromQuery,
  toApiItem,
  toApiNamespaces,
} from "./store.js";

const t0 = { seconds: 1719335433n, nanos: 109781000 };

describe("toApiItem", () => {
  it("writes the public Item", () => {
    const item = create(ItemSchema, {
      namespace: ["users", "ada"],
      key: "prefs",
      valueJson: jsonBytes({ theme: "dark" }),
      createTime: t0,
      updateTime: t0,
    });
    expect(toApiItem(item)).toStrictEqual({
      namespace: ["users", "ada"],
      key: "prefs",
      value: { theme: "dark" },
      created_at: "2024-06-25T17:10:33.109781+00:00",
      updated_at: "2024-06-25T17:10:33.109781+00:00",
    });
  });

  it("adds the score of a semantic search", () => {
    expect(toApiItem(create(ItemSchema, { namespace: ["a"], key: "k", score: 0.25 })).score).toBe(0.25);
  });
});

describe("toApiNamespaces", () => {
  it("wraps the label lists as the SDKs expect", () => {
    const res = create(ListNamespacesResponseSchema, { namespaces: [{ labels: ["org", "eng"] }, { labels: ["org"] }] });
    expect(toApiNamespaces(res)).toStrictEqual({ namespaces: [["org", "eng"], ["org"]] });
  });
});

describe("requests", () => {
  it("builds PutItem with index and TTL", () => {
    const plain = fromApiPutItem({ namespace: ["a"], key: "k", value: { v: 1 } });
    expect(parseJsonBytes(plain.valueJson, null)).toEqual({ v: 1 });
    expect(plain).toMatchObject({ indexFields: [], indexDisabled: false });
    expect(plain.ttlMinutes).toBeUndefined();
    expect(fromApiPutItem({ namespace: ["a"], key: "k", value: {}, index: false, ttl: 5 })).toMatchObject({
      indexDisabled: true,
      ttlMinutes: 5,
    });
    expect(fromApiPutItem({ namespace: ["a"], key: "k", value: {}, index: ["text"], ttl: null })).toMatchObject({
      indexFields: ["text"],
      indexDisabled: false,
    });
  });

  it("builds DeleteItem, SearchItems and ListNamespaces with the public defaults", () => {
    expect(fromApiDeleteItem({ namespace: ["a"], key: "k" })).toMatchObject({ namespace: ["a"], key: "k" });
    const search = fromApiSearchItems({ namespace_prefix: ["docs"], filter: { kind: "note" }, refresh_ttl: false });
    expect(search).toMatchObject({ namespacePrefix: ["docs"], limit: 10, offset: 0, query: "", refreshTtl: false });
    expect(parseJsonBytes(search.filterJson, null)).toEqual({ kind: "note" });
    const bare = fromApiSearchItems({ namespace_prefix: null, filter: null, query: null, refresh_ttl: null });
    expect(bare.namespacePrefix).toEqual([]);
    expect(bare.filterJson.length).toBe(0);
    expect(bare.refreshTtl).toBeUndefined();
    expect(fromApiListNamespaces({})).toMatchObject({ prefix: [], suffix: [], maxDepth: 0, limit: 100, offset: 0 });
  });
});

describe("namespaceFromQuery", () => {
  it("splits the dot-joined form the SDKs send", () => {
    expect(namespaceFromQuery("users.ada")).toEqual(["users", "ada"]);
    expect(namespaceFromQuery("single")).toEqual(["single"]);
    expect(namespaceFromQuery("")).toEqual([]);
    expect(namespaceFromQuery(undefined)).toEqual([]);
  });

  it("takes repeated parameters, or a JSON list, as labels", () => {
    expect(namespaceFromQuery(["users", "ada"])).toEqual(["users", "ada"]);
    expect(namespaceFromQuery('["users","ada.b"]')).toEqual(["users", "ada.b"]);
  });
});
