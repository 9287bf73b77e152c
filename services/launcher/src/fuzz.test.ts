import { fileURLToPath } from "node:url";
import { type PostgresServer, startPostgres } from "@langopen/testkit";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INTERNAL_WORDING } from "./test-fixtures/internal-wording.js";
import { startTestStack, type TestStack } from "./test-fixtures/stack.js";

/**
 * Bad input at scale: malformed and boundary bodies, ids, query strings and headers against
 * every public route. Each answer must be below 500, and a rejected request (4xx) must write
 * nothing; its body is `{"detail": "..."}` without Postgres's or Fastify's wording. A write is
 * seen through Postgres's transaction ids: every transaction that inserts, updates, deletes or
 * locks a row takes a new one, and reads take none. Transaction ids are
 * shared by a whole server, so this file runs LangOpen on a Postgres server of its own; the stack
 * serves no graphs, so no run starts in the background and writes only come from the requests.
 */
const NO_GRAPHS = fileURLToPath(new URL("./test-fixtures/no-graphs/langgraph.json", import.meta.url));
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
const ROUTES: Array<[Method, string]> = [
  ["POST", "/assistants"],
  ["POST", "/assistants/search"],
  ["POST", "/assistants/count"],
  ["GET", "/assistants/{a}"],
  ["PATCH", "/assistants/{a}"],
  ["DELETE", "/assistants/{a}"],
  ["POST", "/assistants/{a}/versions"],
  ["POST", "/assistants/{a}/latest"],
  ["GET", "/assistants/{a}/graph"],
  ["GET", "/assistants/{a}/schemas"],
  ["GET", "/assistants/{a}/subgraphs"],
  ["POST", "/threads"],
  ["POST", "/threads/search"],
  ["POST", "/threads/count"],
  ["POST", "/threads/prune"],
  ["GET", "/threads/{t}"],
  ["PATCH", "/threads/{t}"],
  ["DELETE", "/threads/{t}"],
  ["POST", "/threads/{t}/copy"],
  ["GET", "/threads/{t}/storage"],
  ["GET", "/threads/{t}/state"],
  ["POST", "/threads/{t}/state"],
  ["PATCH", "/threads/{t}/state"],
  ["GET", "/threads/{t}/state/{c}"],
  ["POST", "/threads/{t}/state/checkpoint"],
  ["GET", "/threads/{t}/history"],
  ["POST", "/threads/{t}/history"],
  ["GET", "/threads/{t}/runs"],
  ["POST", "/threads/{t}/runs"],
  ["POST", "/threads/{t}/runs/wait"],
  ["GET", "/threads/{t}/runs/{r}"],
  ["DELETE", "/threads/{t}/runs/{r}"],
  ["GET", "/threads/{t}/runs/{r}/join"],
  ["POST", "/threads/{t}/runs/{r}/cancel"],
  ["POST", "/runs"],
  ["POST", "/runs/wait"],
  ["POST", "/runs/batch"],
  ["POST", "/runs/cancel"],
  ["PUT", "/store/items"],
  ["GET", "/store/items"],
  ["DELETE", "/store/items"],
  ["POST", "/store/items/search"],
  ["POST", "/store/namespaces"],
  ["GET", "/ok"],
  ["GET", "/info"],
];

const idArb = fc.oneof(
  fc.uuid(),
  fc.string({ maxLength: 40 }),
  fc.constantFrom("", "agent", "..", "%00", "null", "-1", "0".repeat(300), "00000000-0000-0000-0000-000000000000"),
  fc.stringMatching(/^[0-9a-f-]{30,40}$/),
);

const jsonLeaf = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: false }),
  fc.string({ maxLength: 30 }),
  fc.constantFrom(-1, 0, 1001, 2 ** 53, -1e308, "", "*", "a.b", "\u0000", "' OR 1=1 --"),
);
const fieldNames = fc.constantFrom(
  "assistant_id",
  "graph_id",
  "thread_id",
  "metadata",
  "config",
  "input",
  "command",
  "limit",
  "offset",
  "sort_by",
  "sort_order",
  "namespace",
  "key",
  "value",
  "ttl",
  "values",
  "status",
  "ids",
  "thread_ids",
  "strategy",
  "version",
  "stream_mode",
  "multitask_strategy",
  "checkpoint",
  "if_exists",
  "select",
  "extract",
  "run_ids",
  "after_seconds",
);
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small" }, jsonLeaf, fc.array(tie("value"), { maxLength: 4 }), tie("object")),
  object: fc.dictionary(fc.oneof(fieldNames, fc.string({ maxLength: 10 })), tie("value"), { maxKeys: 6 }),
})).value;

/** Nesting around and far past the depth limit (200), as text: objects or arrays. */
const nestedText = fc
  .tuple(fc.integer({ min: 100, max: 6_000 }), fc.boolean())
  .map(([depth, arrays]) => (arrays ? "[".repeat(depth) + "]".repeat(depth) : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`));
/** Arrays around and past the limit of values in a body (200 000): at most about 1.25 MB of text. */
const hugeArrayText = fc
  .tuple(fc.integer({ min: 1_000, max: 250_000 }), fc.constantFrom("0", '""', "{}", "[]", "null"))
  .map(([length, item]) => `[${Array(length).fill(item).join(",")}]`);
/** A body whose one field holds a deep or huge value: the complexity limits answer, or the schema. */
const complexBody = fc
  .tuple(fieldNames, fc.oneof(nestedText, hugeArrayText), fc.boolean())
  .map(([field, value, bare]) => ({ text: bare ? value : `{${JSON.stringify(field)}:${value}}`, type: "application/json" }));

const bodyArb = fc
  .oneof(
    jsonValue.map((v) => ({ text: JSON.stringify(v), type: "application/json" })),
    complexBody,
    fc.string({ maxLength: 60 }).map((s) => ({ text: s, type: "application/json" })),
    fc.constantFrom("{", "[1,", '{"a":}', "nul", "\u0000", '{"metadata": {"a": 1}'),
    fc.constant(undefined),
    jsonValue.map((v) => ({ text: JSON.stringify(v), type: "text/plain" })),
  )
  .map((b) => (typeof b === "string" ? { text: b, type: "application/json" } : b));

const queryArb = fc.array(
  fc.tuple(
    fc.oneof(
      fc.constantFrom(
        "limit",
        "offset",
        "status",
        "select",
        "namespace",
        "key",
        "wait",
        "action",
        "include",
        "xray",
        "stream_mode",
        "before",
      ),
      fc.string({ maxLength: 8 }),
    ),
    fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom("-1", "1e9", "true", "yes", "[]", "a.b", "")),
  ),
  { maxLength: 4 },
);

const requestArb = fc.record({
  route: fc.constantFrom(...ROUTES),
  ids: fc.tuple(idArb, idArb, idArb),
  body: bodyArb,
  query: queryArb,
  lastEventId: fc.option(fc.string({ maxLength: 20 })),
});

let postgres: PostgresServer;
let stack: TestStack;
let db: pg.Client;

beforeAll(async () => {
  postgres = await startPostgres();
  // Autovacuum's ANALYZE writes statistics (a catalog write, so a transaction id): off here.
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  await admin.query("ALTER SYSTEM SET autovacuum = off");
  await admin.query("SELECT pg_reload_conf()");
  await admin.end();
  stack = await startTestStack(NO_GRAPHS, { postgresUrl: postgres.url });
  db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
}, 90_000);
afterAll(async () => {
  await db?.end();
  await stack?.stop();
  await postgres?.stop();
});

/** The next transaction id Postgres will hand out: it moves only when something writes. */
async function nextXid(): Promise<bigint> {
  const { rows } = await db.query<{ xmax: string }>("SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax");
  return BigInt(rows[0]?.xmax ?? "0");
}

describe("fuzzing every public route", () => {
  it("answers bad input with 4xx, never 5xx, and writes nothing when it rejects", async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArb, async ({ route, ids, body, query, lastEventId }) => {
        const [method, template] = route;
        const path = template
          .replace("{a}", encodeURIComponent(ids[0]))
          .replace("{t}", encodeURIComponent(ids[1]))
          .replace("{r}", encodeURIComponent(ids[2]))
          .replace("{c}", encodeURIComponent(ids[2]));
        const qs = new URLSearchParams(query).toString();
        const headers: Record<string, string> = {};
        if (body && method !== "GET") headers["content-type"] = body.type;
        if (lastEventId !== null) headers["last-event-id"] = lastEventId.replace(/[\r\n]/g, "");
        const before = await nextXid();
        const res = await fetch(`${stack.url}${path}${qs ? `?${qs}` : ""}`, {
          method,
          headers,
          body: body && method !== "GET" ? body.text : undefined,
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.text();
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        expect(res.status, `${method} ${path}?${qs} ${body?.text ?? ""} -> ${text}`).toBeLessThan(500);
        if (res.status >= 400) {
          expect(() => JSON.parse(text), `error body of ${method} ${path} is JSON`).not.toThrow();
          // The upstream shape, with a message written for users: no Postgres or Fastify wording.
          expect(JSON.parse(text), `error body of ${method} ${path}: ${text}`).toEqual({ detail: expect.any(String) });
          expect(text, `error body of ${method} ${path} ${body?.text ?? ""}`).not.toMatch(INTERNAL_WORDING);
          expect(await nextXid(), `${method} ${path} rejected with ${res.status} but wrote: ${body?.text ?? ""}`).toBe(before);
        }
      }),
      { numRuns: RUNS * ROUTES.length, interruptAfterTimeLimit: 120_000 },
    );
    // Some requests were valid and some were not: the fuzzer reached both sides.
    expect([...seen.keys()].some((s) => s >= 400)).toBe(true);
  }, 180_000);

  it("sees writes: the detector is not blind", async () => {
    const before = await nextXid();
    const res = await fetch(`${stack.url}/threads`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(await nextXid()).toBeGreaterThan(before);
  });

  it("refuses bodies 5 000 deep on every route that takes one with 4xx, and writes nothing", async () => {
    const deep = `{"metadata":${'{"a":'.repeat(5_000)}1${"}".repeat(5_000)},"input":${"[".repeat(5_000)}${"]".repeat(5_000)}}`;
    const id = "00000000-0000-4000-8000-000000000001";
    for (const [method, template] of ROUTES.filter(([m]) => m !== "GET")) {
      const path = template.replace(/\{[atrc]\}/g, id);
      const before = await nextXid();
      const res = await fetch(`${stack.url}${path}`, {
        method,
        headers: { "content-type": "application/json" },
        body: deep,
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      expect(res.status, `${method} ${path} -> ${text}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${method} ${path} -> ${text}`).toBeLessThan(500);
      expect(JSON.parse(text), `${method} ${path}`).toEqual({ detail: expect.any(String) });
      expect(await nextXid(), `${method} ${path} wrote`).toBe(before);
    }
  });

  it("refuses oversized bodies with 413 and writes nothing", async () => {
    const before = await nextXid();
    const res = await fetch(`${stack.url}/threads`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ metadata: { blob: "x".repeat(11 * 1024 * 1024) } }),
    });
    expect(res.status).toBe(413);
    expect(await nextXid()).toBe(before);
  });
});
