import type { Transport } from "@connectrpc/connect";
import { createLogger } from "@langopen/common";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { buildApp } from "../app.js";
import { DEFAULT_JSON_LIMITS, exceededJsonLimit, type JsonLimits } from "./json-body.js";

/** The true shape of a parsed value, walked with an explicit stack: depth, items, largest object. */
function measure(value: unknown): JsonLimits {
  let maxDepth = 0;
  let maxItems = 0;
  let maxObjectKeys = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (node === null || typeof node !== "object") continue;
    maxDepth = Math.max(maxDepth, depth);
    const children = Array.isArray(node) ? node : Object.values(node);
    maxItems += children.length;
    if (!Array.isArray(node)) maxObjectKeys = Math.max(maxObjectKeys, children.length);
    for (const child of children) stack.push([child, depth + 1]);
  }
  return { maxDepth, maxItems, maxObjectKeys };
}

const nestedArrays = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
const nestedObjects = (depth: number) => `${'{"a":'.repeat(depth - 1)}{}${"}".repeat(depth - 1)}`;
const objectWithKeys = (n: number) => `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(",")}}`;
const limits = (overrides: Partial<JsonLimits>): JsonLimits => ({ ...DEFAULT_JSON_LIMITS, ...overrides });

describe("exceededJsonLimit", () => {
  it("takes a body exactly at the depth limit and refuses one level more", () => {
    for (const build of [nestedArrays, nestedObjects]) {
      expect(exceededJsonLimit(build(200), limits({ maxDepth: 200 }))).toBeUndefined();
      expect(exceededJsonLimit(build(201), limits({ maxDepth: 200 }))).toBe(
        "Request body is nested too deeply: the limit is 200 levels",
      );
    }
    // 5 000 levels, the attack: refused after reading 201 characters of it.
    expect(exceededJsonLimit(nestedObjects(5_000), DEFAULT_JSON_LIMITS)).toMatch(/nested too deeply/);
  });

  it("counts every key and element of the body, and the keys of each object", () => {
    const body = JSON.stringify({ a: [1, 2, 3], b: { c: [], d: {} }, e: "x" });
    // a, b, e; 1, 2, 3; c, d
    expect(exceededJsonLimit(body, limits({ maxItems: 8 }))).toBeUndefined();
    expect(exceededJsonLimit(body, limits({ maxItems: 7 }))).toBe(
      "Request body has too many values: the limit is 7 object keys and array elements in all",
    );
    expect(exceededJsonLimit(objectWithKeys(50), limits({ maxObjectKeys: 50 }))).toBeUndefined();
    expect(exceededJsonLimit(objectWithKeys(51), limits({ maxObjectKeys: 50 }))).toBe(
      "Request body has an object with too many keys: the limit is 50 keys per object",
    );
    // Arrays are not objects: as long as the total allows.
    expect(exceededJsonLimit(JSON.stringify(Array.from({ length: 51 }, () => 0)), limits({ maxObjectKeys: 50 }))).toBeUndefined();
  });

  it("does not count what strings hold, escaped quotes and backslashes included", () => {
    const tricky = JSON.stringify({ s: '[{"a":1,"b":[2,3]}]', t: 'a\\"b\\\\', u: "\\", v: "}]]]" });
    expect(exceededJsonLimit(tricky, limits({ maxItems: 4, maxDepth: 1 }))).toBeUndefined();
    expect(exceededJsonLimit(` \n\t{ "a" : [ 1 , { } ] }\r\n`, limits({ maxItems: 3, maxDepth: 3 }))).toBeUndefined();
    expect(exceededJsonLimit(` \n\t{ "a" : [ 1 , { } ] }\r\n`, limits({ maxItems: 2 }))).toMatch(/too many values/);
  });

  it("agrees with the parsed value on any JSON: accepted at its exact measure, refused one below", () => {
    const json = fc.jsonValue({ maxDepth: 8 });
    fc.assert(
      fc.property(json, fc.constantFrom(0, 2), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        const exact = measure(value);
        // Limits are at least 1: a value with no container (or empty ones) passes any limits.
        const at = {
          maxDepth: Math.max(exact.maxDepth, 1),
          maxItems: Math.max(exact.maxItems, 1),
          maxObjectKeys: Math.max(exact.maxObjectKeys, 1),
        };
        expect(exceededJsonLimit(text, at)).toBeUndefined();
        if (exact.maxDepth > 1) expect(exceededJsonLimit(text, { ...at, maxDepth: exact.maxDepth - 1 })).toMatch(/deeply/);
        if (exact.maxItems > 1) expect(exceededJsonLimit(text, { ...at, maxItems: exact.maxItems - 1 })).toMatch(/values/);
        if (exact.maxObjectKeys > 1) {
          expect(exceededJsonLimit(text, { ...at, maxObjectKeys: exact.maxObjectKeys - 1 })).toMatch(/keys per object/);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("JSON body limits in the gateway", () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  /** The gateway in front of an api-server that must never be called. */
  async function gateway(jsonLimits?: Partial<JsonLimits>) {
    const calls: string[] = [];
    const transport: Transport = {
      unary(method) {
        calls.push(method.name);
        throw new Error(`unexpected call ${method.name}`);
      },
      stream(method) {
        calls.push(method.name);
        throw new Error(`unexpected call ${method.name}`);
      },
    };
    app = await buildApp({ logger: createLogger({ service: "json-body-test", level: "silent" }), transport, jsonLimits });
    return { app, calls };
  }

  const post = (instance: FastifyInstance, url: string, payload: string) =>
    instance.inject({ method: "POST", url, payload, headers: { "content-type": "application/json" } });

  it("answers 413 in the upstream shape before any route or RPC runs", async () => {
    const { app, calls } = await gateway();
    const deep = await post(app, "/threads", `{"metadata":${nestedObjects(5_000)}}`);
    expect(deep.statusCode).toBe(413);
    expect(deep.json()).toEqual({ detail: "Request body is nested too deeply: the limit is 200 levels" });
    const wide = await post(app, "/threads", `{"metadata":${objectWithKeys(10_001)}}`);
    expect(wide.statusCode).toBe(413);
    expect(wide.json()).toEqual({ detail: "Request body has an object with too many keys: the limit is 10000 keys per object" });
    const many = await post(app, "/store/items/search", JSON.stringify({ namespace_prefix: Array(200_001).fill(0) }));
    expect(many.statusCode).toBe(413);
    expect(many.json().detail).toMatch(/too many values: the limit is 200000/);
    // The protocol endpoints, which parse their bodies leniently, have the same limits.
    const mcp = await app.inject({
      method: "POST",
      url: "/mcp",
      payload: nestedArrays(5_000),
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    });
    expect(mcp.statusCode).toBe(413);
    expect(calls).toEqual([]);
  });

  it("takes its limits from the options and lets a body at them through to validation", async () => {
    const { app, calls } = await gateway({ maxDepth: 4 });
    // Depth 4 (body, metadata, a, b) reaches the schema: `limit` is refused there, with 422.
    const atLimit = await post(app, "/threads/search", JSON.stringify({ metadata: { a: { b: {} } }, limit: "x" }));
    expect(atLimit.statusCode).toBe(422);
    const over = await post(app, "/threads/search", JSON.stringify({ metadata: { a: { b: { c: {} } } }, limit: "x" }));
    expect(over.statusCode).toBe(413);
    expect(over.json()).toEqual({ detail: "Request body is nested too deeply: the limit is 4 levels" });
    expect(calls).toEqual([]);
  });
});
