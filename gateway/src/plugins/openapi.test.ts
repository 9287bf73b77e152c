import { createRouterTransport } from "@connectrpc/connect";
import { createLogger } from "@langopen/common";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../app.js";
import { operationIdOf, TAGS, tagOf } from "./openapi.js";

const METHODS = ["get", "put", "post", "delete", "patch"] as const;

interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, unknown>;
}

interface Document {
  openapi: string;
  info: { title: string; version: string };
  tags: Array<{ name: string }>;
  paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
  components?: { schemas?: Record<string, unknown> };
}

/** Every route the app serves, as `METHOD /path/{param}`, read from Fastify's route tree. */
function servedRoutes(app: FastifyInstance): string[] {
  const out: string[] = [];
  const prefixes: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split("\n")) {
    const match = /^([│ ]*)[├└]── (.*?)(?: \(([^)]*)\))?$/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? "").length / 4;
    const path = (prefixes[depth - 1] ?? "") + (match[2] ?? "");
    prefixes[depth] = path;
    for (const method of (match[3] ?? "").split(",").map((m) => m.trim())) {
      if (method === "" || method === "HEAD" || method === "OPTIONS") continue;
      out.push(`${method} ${path.replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`);
    }
  }
  return out;
}

/** The Swagger UI's own files are served but not described. */
const isDocsAsset = (route: string) => route.startsWith("GET /docs") && route !== "GET /docs";

let app: FastifyInstance;
let doc: Document;

beforeAll(async () => {
  app = await buildApp({
    logger: createLogger({ service: "openapi-test", level: "silent" }),
    transport: createRouterTransport(() => {}),
    info: { version: "9.8.7" },
  });
  const res = await app.inject({ method: "GET", url: "/openapi.json" });
  expect(res.statusCode).toBe(200);
  doc = res.json();
});
afterAll(() => app?.close());

function operations(): Array<[string, string, Operation]> {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.flatMap((method) => (item[method] ? [[method, path, item[method]] as [string, string, Operation]] : [])),
  );
}

/** Follows local references; fails the test on a dangling one. */
function collectRefs(value: unknown, refs: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) collectRefs(item, refs);
  else if (value !== null && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      if (key === "$ref" && typeof child === "string") refs.push(child);
      else collectRefs(child, refs);
    }
  }
  return refs;
}

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3.1 document titled LangOpen, with the server version and the resource tags", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info).toMatchObject({ title: "LangOpen", version: "9.8.7" });
    expect(doc.tags.map((t) => t.name)).toEqual(TAGS.map((t) => t.name));
  });

  it("describes every route served, and serves every route described", () => {
    const served = servedRoutes(app).filter((r) => !isDocsAsset(r));
    const described = operations().map(([method, path]) => `${method.toUpperCase()} ${path}`);
    expect(served.length).toBeGreaterThan(50);
    expect([...described].sort()).toEqual([...new Set(served)].sort());
    for (const route of [
      "POST /a2a/{assistant_id}",
      "GET /.well-known/agent-card.json",
      "POST /mcp",
      "GET /docs",
      "GET /openapi.json",
    ]) {
      expect(described).toContain(route);
    }
  });

  it("gives every operation a tag, a summary, a unique id and its path parameters", () => {
    const tags = new Set<string>(TAGS.map((t) => t.name));
    const ids = new Set<string>();
    for (const [method, path, op] of operations()) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(op.tags?.length, where).toBe(1);
      expect(tags.has(op.tags?.[0] ?? ""), where).toBe(true);
      expect(op.summary, where).toEqual(expect.any(String));
      expect(op.operationId, where).toMatch(/^[a-z]+(_[A-Za-z0-9]+)*$/);
      expect(ids.has(op.operationId ?? ""), `${where}: duplicate operationId`).toBe(false);
      ids.add(op.operationId ?? "");
      expect(op.responses && Object.keys(op.responses).length, where).toBeGreaterThan(0);
      for (const name of path.match(/\{([^}]+)\}/g) ?? []) {
        const param = op.parameters?.find((p) => p.in === "path" && `{${p.name}}` === name);
        expect(param?.required, `${where}: path parameter ${name}`).toBe(true);
      }
    }
  });

  it("documents the request bodies, query strings and protocol envelopes the routes take", () => {
    const body = (method: string, path: string) => {
      const op = doc.paths[path]?.[method as (typeof METHODS)[number]];
      return op?.requestBody?.content?.["application/json"]?.schema as { properties?: Record<string, unknown> } | undefined;
    };
    expect(Object.keys(body("post", "/threads/{thread_id}/runs")?.properties ?? {})).toEqual(
      expect.arrayContaining(["assistant_id", "input", "command", "stream_mode", "multitask_strategy", "if_not_exists"]),
    );
    expect(Object.keys(body("post", "/a2a/{assistant_id}")?.properties ?? {})).toEqual(["jsonrpc", "id", "method", "params"]);
    expect(body("put", "/store/items")?.properties).toHaveProperty("namespace");
    const list = doc.paths["/threads/{thread_id}/runs"]?.get;
    expect(list?.parameters?.filter((p) => p.in === "query").map((p) => p.name)).toEqual(
      expect.arrayContaining(["limit", "offset", "status", "select"]),
    );
    const card = doc.paths["/.well-known/agent-card.json"]?.get;
    expect(card?.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: "assistant_id", in: "query", required: true })]),
    );
  });

  it("resolves every reference and leaves out the validator's own keywords", () => {
    const text = JSON.stringify(doc);
    expect(text).not.toContain('"errorMessage"');
    for (const ref of collectRefs(doc)) {
      expect(ref.startsWith("#/"), ref).toBe(true);
      const target = ref
        .slice(2)
        .split("/")
        .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc);
      expect(target, ref).toBeDefined();
    }
  });

  it("keeps the live validation messages, which the document leaves out", async () => {
    const res = await app.inject({ method: "POST", url: "/assistants/search", payload: { limit: 0 } });
    expect(res.statusCode).toBe(422);
    expect(res.json().detail).toBe("Invalid body: 'limit' must be an integer from 1 to 1000");
  });
});

describe("GET /docs", () => {
  it("renders the Swagger UI over the same document, with its assets under /docs/", async () => {
    for (const url of ["/docs", "/docs/"]) {
      const page = await app.inject({ method: "GET", url });
      expect(page.statusCode, url).toBe(200);
      expect(page.headers["content-type"]).toMatch(/^text\/html/);
      expect(page.body).toContain("swagger-ui");
    }
    const css = await app.inject({ method: "GET", url: "/docs/static/swagger-ui.css" });
    expect(css.statusCode).toBe(200);
    expect(css.headers["content-type"]).toMatch(/^text\/css/);
    const json = await app.inject({ method: "GET", url: "/docs/json" });
    expect(json.json()).toEqual(doc);
  });
});

describe("operation names", () => {
  it.each([
    ["/assistants/:assistant_id/versions", "Assistants"],
    ["/threads/:thread_id/runs/crons", "Crons"],
    ["/runs/crons/:cron_id", "Crons"],
    ["/threads/:thread_id/runs/:run_id/join", "Thread Runs"],
    ["/runs/cancel", "Thread Runs"],
    ["/runs/batch", "Stateless Runs"],
    ["/threads/:thread_id/state", "Threads"],
    ["/store/items", "Store"],
    ["/.well-known/agent-card.json", "A2A"],
    ["/mcp", "MCP"],
    ["/ok", "System"],
  ])("tags %s as %s", (url, tag) => {
    expect(tagOf(url)).toBe(tag);
  });

  it("derives operation ids from the method and path", () => {
    expect(operationIdOf("POST", "/threads/:thread_id/runs")).toBe("post_threads_thread_id_runs");
    expect(operationIdOf("GET", "/a2a/:assistant_id/.well-known/agent-card.json")).toBe(
      "get_a2a_assistant_id_well_known_agent_card_json",
    );
  });
});
