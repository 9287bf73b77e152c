import { fromBinary } from "@bufbuild/protobuf";
import { createRouterTransport, decodeBinaryHeader } from "@connectrpc/connect";
import { CALLER_HEADER, createLogger } from "@langopen/common";
import { CallerSchema, FilterOperator } from "@langopen/gen/langopen/data/v1/caller_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { describe, expect, it } from "vitest";
import { buildApp } from "../app.js";
import { parseApiKeys, staticApiKeys } from "./api-keys.js";
import { ROUTE_GUARDS } from "./events.js";
import { filterConditions, UnsupportedFilterError } from "./filter.js";

describe("API keys", () => {
  it("accepts a key given in clear or as its SHA-256, and names the principal", async () => {
    const keys = staticApiKeys(
      parseApiKeys(
        "alice=sk-alice, sk-anonymous\n# a comment\nbob=sha256:0f1f3b1a5b3a4b9cf6c6d0a2b9c5b3f0b1c6f0a9c0d5f8b3a1a2b3c4d5e6f7a8",
      ),
    );
    expect(await keys.verify("sk-alice")).toEqual({ name: "alice" });
    expect(await keys.verify("sk-anonymous")).toEqual({ name: "key-2" });
    expect(await keys.verify("sk-alic")).toBeUndefined();
    expect(await keys.verify("")).toBeUndefined();
  });

  it("matches a hashed entry by the key whose hash it is", async () => {
    const { createHash } = await import("node:crypto");
    const hash = createHash("sha256").update("sk-bob").digest("hex");
    const keys = staticApiKeys(parseApiKeys(`bob=sha256:${hash}`));
    expect(await keys.verify("sk-bob")).toEqual({ name: "bob" });
    expect(await keys.verify(`sha256:${hash}`)).toBeUndefined();
  });

  it("refuses an empty key and an empty list", () => {
    expect(() => parseApiKeys("alice=")).toThrow(/empty/);
    expect(() => staticApiKeys(parseApiKeys(" , \n"))).toThrow(/No API keys/);
  });
});

describe("auth filters", () => {
  const parsed = (filter: unknown) =>
    filterConditions(filter).map((c) => [c.field, FilterOperator[c.operator], JSON.parse(c.valueJson)]);

  it("reads the upstream operators: a plain value, $eq and $contains, several keys all applying", () => {
    expect(parsed(undefined)).toEqual([]);
    expect(parsed({})).toEqual([]);
    expect(parsed({ owner: "alice" })).toEqual([["owner", "EQ", "alice"]]);
    expect(parsed({ owner: { $eq: "alice" }, tags: { $contains: ["a", "b"] } })).toEqual([
      ["owner", "EQ", "alice"],
      ["tags", "CONTAINS", ["a", "b"]],
    ]);
    expect(parsed({ team: { name: "x" } })).toEqual([["team", "EQ", { name: "x" }]]);
  });

  it("refuses what it cannot apply instead of ignoring it (which would widen access)", () => {
    expect(() => filterConditions({ owner: { $ne: "alice" } })).toThrow(UnsupportedFilterError);
    expect(() => filterConditions({ owner: { $eq: "a", other: 1 } })).toThrow(UnsupportedFilterError);
    expect(() => filterConditions("alice")).toThrow(UnsupportedFilterError);
    expect(() => filterConditions({ owner: { $eq: undefined } })).toThrow(UnsupportedFilterError);
  });
});

describe("the auth plugin", () => {
  const logger = createLogger({ service: "auth-test", level: "silent" });
  const start = async (seen: string[] = []) => {
    const transport = createRouterTransport((router) =>
      router.service(ThreadService, {
        getThread(_req, ctx) {
          const header = ctx.requestHeader.get(CALLER_HEADER);
          seen.push(header === null ? "none" : fromBinary(CallerSchema, decodeBinaryHeader(header)).identity);
          return {};
        },
      }),
    );
    // With UI components declared, so that their routes are served (and must be guarded) too.
    return buildApp({
      logger,
      transport,
      auth: { apiKeys: staticApiKeys(parseApiKeys("alice=sk-alice")) },
      ui: true,
      httpAppTransport: transport,
    });
  };

  it("guards every route it serves (a route without an entry would be refused)", async () => {
    const app = await start();
    expect(app.unguardedRoutes).toEqual([]);
    for (const key of Object.keys(ROUTE_GUARDS)) {
      const [method, url] = key.split(" ") as [string, string];
      expect(app.hasRoute({ method: method as "GET", url }), key).toBe(true);
    }
    await app.close();
  });

  it("answers 401 without a key or with a wrong one, lets open routes through, and names the caller to the api-server", async () => {
    const seen: string[] = [];
    const app = await start(seen);
    const id = "8f7b2a4e-3c1d-4e5f-9a8b-7c6d5e4f3a2b";
    for (const headers of [{}, { "x-api-key": "sk-wrong" }, { "x-api-key": "" }]) {
      const res = await app.inject({ method: "GET", url: `/threads/${id}`, headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ detail: "Missing or invalid API key" });
    }
    expect(seen).toEqual([]);
    expect((await app.inject({ method: "GET", url: "/ok" })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/info" })).statusCode).toBe(200);
    const res = await app.inject({ method: "GET", url: `/threads/${id}`, headers: { "x-api-key": "sk-alice" } });
    expect(res.statusCode).not.toBe(401);
    expect(seen).toEqual(["alice"]);
    await app.close();
  });
});
