import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INTERNAL_WORDING } from "./test-fixtures/internal-wording.js";
import { startTestStack, type TestStack } from "./test-fixtures/stack.js";

/**
 * The public 4xx bodies of requests that the database or Fastify refuse: the upstream shape
 * `{"detail": "..."}` with a message written for users, never Postgres's or Fastify's own wording.
 */

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
}, 60_000);
afterAll(() => stack?.stop());

async function send(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown; text: string }> {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as unknown, text };
}

const NUL = "text must not contain the NUL character";
const UUID = "0190b3c2-8c4f-7000-8000-000000000001";
/** 2^64: past every integer column (bigint ends at 2^63 - 1). */
const HUGE = 1e19;

describe("public error bodies", () => {
  const cases: Array<[string, string, unknown, number, string]> = [
    ["POST", "/threads/search", { offset: 1e19 }, 422, "a value is out of range"],
    ["POST", "/assistants/search", { offset: 1e19 }, 422, "a value is out of range"],
    ["POST", "/store/items/search", { offset: 1e19 }, 422, "a value is out of range"],
    ["POST", "/threads", { metadata: { a: "\u0000" } }, 422, NUL],
    ["POST", "/threads/search", { metadata: { "\u0000": 1 } }, 422, NUL],
    ["PUT", "/store/items", { namespace: ["a"], key: "k\u0000", value: {} }, 422, NUL],
    ["PUT", "/store/items", { namespace: ["a"], key: "k", value: { x: "\u0000" } }, 422, NUL],
    ["POST", "/assistants", { graph_id: "agent", name: "a\u0000" }, 422, NUL],
    ["POST", "/threads", { ttl: { strategy: "delete", ttl: 1e300 } }, 422, "a date or time is out of range"],
    ["GET", `/threads/${"a".repeat(600)}`, undefined, 414, "Request URL is too long: a part of its path is over the limit"],
    ["GET", "/threads/%E0%A4%A", undefined, 400, "Request URL is not valid: a part of its path is not correctly percent-encoded"],
    // Huge integers in limit, offset and ttl fields, in bodies and query strings.
    ["POST", "/runs/crons/search", { offset: HUGE }, 422, "a value is out of range"],
    ["POST", "/store/namespaces", { offset: HUGE }, 422, "a value is out of range"],
    ["GET", `/threads/${UUID}/runs?offset=10000000000000000000`, undefined, 422, "a value is out of range"],
    ["POST", "/threads/search", { limit: HUGE }, 422, "Invalid body: 'limit' must be an integer from 1 to 1000"],
    [
      "GET",
      `/threads/${UUID}/runs?limit=10000000000000000000`,
      undefined,
      422,
      "Invalid query parameter: 'limit' must be an integer from 1 to 1000",
    ],
    ["PUT", "/store/items", { namespace: ["a"], key: "k", value: {}, ttl: 1e300 }, 422, "a date or time is out of range"],
    ["PUT", "/store/items", { namespace: ["a"], key: "k", value: {}, ttl: HUGE }, 422, "a date or time is out of range"],
    // NUL in metadata strings, filters and store values, wherever they are compared or stored.
    ["POST", "/threads/search", { values: { a: "\u0000" } }, 422, NUL],
    ["POST", "/threads/count", { metadata: { a: "\u0000" } }, 422, NUL],
    ["POST", "/assistants/search", { metadata: { a: "\u0000" } }, 422, NUL],
    ["POST", "/store/items/search", { filter: { a: "\u0000" } }, 422, NUL],
    ["PUT", "/store/items", { namespace: ["a"], key: "k", value: { nested: [{ x: "a\u0000b" }] } }, 422, NUL],
    ["GET", "/store/items?namespace=a&key=k%00", undefined, 422, NUL],
    ["POST", "/runs/crons", { assistant_id: "agent", schedule: "* * * * *", metadata: { a: "\u0000" } }, 422, NUL],
    // Text that is not valid Unicode (a lone surrogate) where Postgres keeps JSON.
    ["POST", "/threads", { metadata: { a: "\ud800" } }, 422, "a value is not valid JSON"],
    // Overlong path parameters and paths that are not valid UTF-8.
    [
      "GET",
      `/threads/${UUID}/runs/${"a".repeat(600)}`,
      undefined,
      414,
      "Request URL is too long: a part of its path is over the limit",
    ],
    [
      "GET",
      `/assistants/${"a".repeat(600)}/graph`,
      undefined,
      414,
      "Request URL is too long: a part of its path is over the limit",
    ],
    [
      "GET",
      "/assistants/%C3%28",
      undefined,
      400,
      "Request URL is not valid: a part of its path is not correctly percent-encoded",
    ],
    ["GET", "/threads/%FF", undefined, 400, "Request URL is not valid: a part of its path is not correctly percent-encoded"],
  ];
  for (const [method, path, body, status, detail] of cases) {
    it(`${method} ${path.slice(0, 40)} ${JSON.stringify(body) ?? ""} -> ${status} "${detail}"`, async () => {
      const res = await send(method, path, body);
      expect(res.status, res.text).toBe(status);
      expect(res.body).toEqual({ detail });
      expect(res.text).not.toMatch(INTERNAL_WORDING);
    });
  }

  it("answers headers too large for Node in its own words", async () => {
    const res = await fetch(`${stack.url}/${"a".repeat(100_000)}`);
    const text = await res.text();
    expect(res.status).toBe(431);
    expect(JSON.parse(text)).toEqual({ detail: "Request headers are too large" });
    expect(text).not.toMatch(INTERNAL_WORDING);
  });

  it("answers an OPTIONS that is no preflight (no Origin) as a method the path lacks", async () => {
    const res = await fetch(`${stack.url}/threads`, { method: "OPTIONS" });
    const text = await res.text();
    expect(res.status).toBe(405);
    expect(JSON.parse(text)).toEqual({ detail: "Method Not Allowed" });
    expect(text).not.toMatch(INTERNAL_WORDING);
  });

  it("answers a body Fastify cannot read in its own words", async () => {
    const res = await fetch(`${stack.url}/threads`, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
    const text = await res.text();
    expect(res.status).toBe(415);
    expect(JSON.parse(text)).toEqual({ detail: expect.any(String) });
    expect(text).not.toMatch(INTERNAL_WORDING);
  });
});
