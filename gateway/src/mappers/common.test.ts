import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { IfExists, SortOrder } from "@langopen/gen/langopen/data/v1/common_pb";
import { describe, expect, it } from "vitest";
import { isoTimestamp, paginationHeaders, queryBool, queryList, selectFields, toIfExists, toSortOrder } from "./common.js";

describe("isoTimestamp", () => {
  it("writes microseconds and an explicit UTC offset", () => {
    expect(isoTimestamp({ seconds: 1719335433n, nanos: 109781999 } as never)).toBe("2024-06-25T17:10:33.109781+00:00");
    expect(isoTimestamp(timestampFromDate(new Date("2024-01-02T03:04:05.006Z")))).toBe("2024-01-02T03:04:05.006000+00:00");
  });

  it("gives null for an absent timestamp", () => {
    expect(isoTimestamp(undefined)).toBeNull();
  });
});

describe("selectFields", () => {
  it("keeps only the listed fields, in their listed order", () => {
    expect(selectFields({ a: 1, b: 2, c: 3 }, ["c", "a", "missing"])).toEqual({ c: 3, a: 1 });
  });

  it("keeps everything without a selection", () => {
    const value = { a: 1 };
    expect(selectFields(value, undefined)).toBe(value);
    expect(selectFields(value, [])).toBe(value);
  });
});

describe("queryBool", () => {
  it.each([
    ["true", true],
    ["True", true],
    ["1", true],
    ["YES", true],
    ["false", false],
    ["False", false],
    ["0", false],
    ["no", false],
  ])("reads %s as %s", (text, value) => {
    expect(queryBool(text)).toBe(value);
  });

  it("leaves an absent parameter undefined", () => {
    expect(queryBool(undefined)).toBeUndefined();
  });
});

describe("queryList", () => {
  it("flattens repeated and comma-joined values", () => {
    expect(queryList("ttl")).toEqual(["ttl"]);
    expect(queryList("ttl, other")).toEqual(["ttl", "other"]);
    expect(queryList(["ttl", "a,b"])).toEqual(["ttl", "a", "b"]);
    expect(queryList(undefined)).toEqual([]);
    expect(queryList("")).toEqual([]);
    expect(queryList('["ttl","x"]')).toEqual(["ttl", "x"]);
  });
});

describe("enums", () => {
  it("maps sort orders and if_exists", () => {
    expect(toSortOrder("asc")).toBe(SortOrder.ASC);
    expect(toSortOrder("desc")).toBe(SortOrder.DESC);
    expect(toSortOrder(undefined)).toBe(SortOrder.UNSPECIFIED);
    expect(toIfExists(undefined)).toBe(IfExists.RAISE);
    expect(toIfExists("raise")).toBe(IfExists.RAISE);
    expect(toIfExists("do_nothing")).toBe(IfExists.DO_NOTHING);
  });
});

describe("paginationHeaders", () => {
  it("gives the next offset only when more results exist", () => {
    expect(paginationHeaders(0, 10, 25)).toEqual({ "x-pagination-total": "25", "x-pagination-next": "10" });
    expect(paginationHeaders(20, 5, 25)).toEqual({ "x-pagination-total": "25" });
    expect(paginationHeaders(30, 0, 25)).toEqual({ "x-pagination-total": "25" });
  });
});
