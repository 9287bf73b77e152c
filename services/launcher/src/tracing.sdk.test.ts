// Traces end to end under `npm start`, exported with OTLP/HTTP (JSON) to a receiver this test runs: the client's
// `traceparent` -> the gateway's request span -> the api-server's RPC span (which keeps the context with the run)
// -> the worker's attempt span -> its Execute call -> the runtime process's Execute span -> one span per graph node,
// all one trace with correct parent links, from two processes (the launcher and its runtime).
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { startTracing, type Tracing } from "@langopen/common";
import { until } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./test-fixtures/stack.js";

const PROJECT = fileURLToPath(new URL("./test-fixtures/tracing/langgraph.json", import.meta.url));

interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
}

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type OtlpAttribute = { key: string; value: OtlpValue };

const otlpValue = (v: OtlpValue) =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue));
const attributesOf = (list: OtlpAttribute[] = []) => Object.fromEntries(list.map((a) => [a.key, otlpValue(a.value)]));

/** An OTLP/HTTP receiver (JSON encoding): keeps every span it is sent. */
async function startReceiver() {
  const spans: ReceivedSpan[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      if (req.url === "/v1/traces") {
        const payload = JSON.parse(body) as {
          resourceSpans: Array<{
            resource: { attributes: OtlpAttribute[] };
            scopeSpans: Array<{ spans: Array<Omit<ReceivedSpan, "service" | "attributes"> & { attributes: OtlpAttribute[] }> }>;
          }>;
        };
        for (const resourceSpans of payload.resourceSpans) {
          const service = String(attributesOf(resourceSpans.resource.attributes)["service.name"]);
          for (const scope of resourceSpans.scopeSpans) {
            for (const span of scope.spans) spans.push({ ...span, service, attributes: attributesOf(span.attributes) });
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, spans, close: () => new Promise<void>((r) => server.close(() => r())) };
}

let receiver: Awaited<ReturnType<typeof startReceiver>>;
let tracing: Tracing;
let stack: TestStack;

beforeAll(async () => {
  receiver = await startReceiver();
  // The standard variables only; the runtime processes inherit them.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  process.env.OTEL_EXPORTER_OTLP_PROTOCOL = "http/json";
  process.env.OTEL_BSP_SCHEDULE_DELAY = "100";
  tracing = startTracing({ serviceName: "langopen", env: process.env });
  stack = await startTestStack(PROJECT);
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  await tracing?.shutdown();
  await receiver?.close();
});

describe("traces", () => {
  it("follow one streamed run from the client's traceparent to each graph node, across processes", async () => {
    const traceId = randomBytes(16).toString("hex");
    const clientSpanId = randomBytes(8).toString("hex");
    const client = new Client({ apiUrl: stack.url, defaultHeaders: { traceparent: `00-${traceId}-${clientSpanId}-01` } });
    const thread = await client.threads.create();
    let values: { visited?: string[] } = {};
    for await (const chunk of client.runs.stream(thread.thread_id, "three_steps", { input: {}, streamMode: ["values"] })) {
      if (chunk.event === "values") values = chunk.data as typeof values;
    }
    expect(values.visited).toEqual(["first", "second", "third"]);

    const inTrace = () => receiver.spans.filter((s) => s.traceId === traceId);
    // Spans are exported as they end, in batches: wait for the node spans and for every parent.
    const complete = () => {
      const got = inTrace();
      const ids = new Set(got.map((s) => s.spanId));
      return (
        ["node first", "node second", "node third"].every((name) => got.some((s) => s.name === name)) &&
        got.every((s) => s.parentSpanId === clientSpanId || (s.parentSpanId !== undefined && ids.has(s.parentSpanId)))
      );
    };
    await until(async () => complete(), "every span of the trace", { timeoutMs: 15_000, intervalMs: 100 }).catch(() => {});
    const spans = inTrace();
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const parentOf = (span: ReceivedSpan) => (span.parentSpanId ? byId.get(span.parentSpanId) : undefined);
    const one = (predicate: (s: ReceivedSpan) => boolean, what: string) => {
      const found = spans.filter(predicate);
      expect(found.length, what).toBeGreaterThanOrEqual(1);
      return found[0] as ReceivedSpan;
    };

    // Every span's parent is in the trace, but the first one's, which is the client's.
    const roots = spans.filter((s) => !s.parentSpanId || !byId.has(s.parentSpanId));
    expect(roots.map((s) => s.parentSpanId)).toEqual(roots.map(() => clientSpanId));

    const create = one((s) => s.name === "langopen.data.v1.RunService/CreateAndStreamRun" && s.kind === 2, "the RPC span");
    // Under npm start one service name covers every part: the api-server's spans say it is the api-server.
    expect(create.attributes["langopen.component"]).toBe("api-server");
    const run = one((s) => s.name === "run" && s.service === "langopen", "the worker's attempt span");
    expect(run.attributes).toMatchObject({ "langopen.thread_id": thread.thread_id, "langopen.attempt": 1 });
    expect(parentOf(run)?.spanId).toBe(create.spanId);
    const executeClient = one(
      (s) => s.name === "langopen.runtime.v1.RuntimeService/Execute" && s.kind === 3,
      "the worker's Execute call",
    );
    expect(parentOf(executeClient)?.spanId).toBe(run.spanId);
    const executeServer = one(
      (s) => s.name === "langopen.runtime.v1.RuntimeService/Execute" && s.kind === 2 && s.service === "langopen-runtime",
      "the runtime's Execute span",
    );
    expect(parentOf(executeServer)?.spanId).toBe(executeClient.spanId);
    for (const node of ["first", "second", "third"]) {
      const span = one((s) => s.name === `node ${node}`, node);
      expect(span.service).toBe("langopen-runtime");
      expect(span.attributes).toMatchObject({ "langgraph.node": node, "langopen.run_id": run.attributes["langopen.run_id"] });
      expect(parentOf(span)?.spanId).toBe(executeServer.spanId);
    }
    // Redis commands made for the run (its events, its wake-ups) are spans of the trace, with their command.
    const redis = spans.filter((s) => s.attributes["db.system.name"] === "redis");
    expect(
      redis.some((s) => parentOf(s)?.spanId === create.spanId),
      "a Redis call of the RPC (the wake-up)",
    ).toBe(true);
    expect(
      redis.some((s) => parentOf(s)?.spanId === run.spanId),
      "a Redis call of the run (its events)",
    ).toBe(true);
    for (const span of redis) {
      expect(span.kind, span.name).toBe(3);
      // The command, never its arguments (run events: the users' data).
      expect(span.attributes["db.query.text"], span.name).toMatch(/^\w+ \[\d+ arguments\]$/);
    }
    // Postgres queries are spans of the RPCs that made them (the checkpoints the run wrote).
    const putBatch = spans.filter((s) => s.name === "langopen.data.v1.CheckpointService/PutBatch" && s.kind === 2);
    expect(putBatch.length, "the checkpoint writes").toBeGreaterThanOrEqual(1);
    const queries = spans.filter(
      (s) => s.attributes["db.system"] === "postgresql" || s.attributes["db.system.name"] === "postgresql",
    );
    expect(
      queries.some((q) => putBatch.some((p) => parentOf(q)?.spanId === p.spanId)),
      `a query under PutBatch (queries: ${queries.length})`,
    ).toBe(true);
    // The gateway's request span is an ancestor of the RPC's.
    let ancestor = parentOf(create);
    while (ancestor && ancestor.kind !== 2) ancestor = parentOf(ancestor);
    expect(ancestor?.parentSpanId).toBe(clientSpanId);
  });

  it("keeps every attempt of a retried run in the trace of the request that created it", async () => {
    const traceId = randomBytes(16).toString("hex");
    const clientSpanId = randomBytes(8).toString("hex");
    const client = new Client({ apiUrl: stack.url, defaultHeaders: { traceparent: `00-${traceId}-${clientSpanId}-01` } });
    const thread = await client.threads.create();
    // The first attempt takes its runtime process down; the worker tries again on another.
    const out = (await client.runs.wait(thread.thread_id, "crash_once", { input: {} })) as { visited?: string[] };
    expect(out.visited).toEqual(["survived"]);
    const creating = (s: ReceivedSpan) =>
      s.traceId === traceId && s.name === "langopen.data.v1.RunService/CreateAndJoinRun" && s.kind === 2;
    const attempts = await until(
      async () => {
        const runs = receiver.spans.filter((s) => s.traceId === traceId && s.name === "run");
        return runs.length >= 2 && receiver.spans.some(creating) && runs;
      },
      "both attempts' spans and the creating call's",
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(attempts.map((s) => s.attributes["langopen.attempt"]).sort()).toEqual([1, 2]);
    const create = receiver.spans.find(creating);
    for (const attempt of attempts) expect(attempt.parentSpanId).toBe(create?.spanId);
  });

  it("makes a span of a model call, with the GenAI attributes, under its node", async () => {
    const traceId = randomBytes(16).toString("hex");
    const client = new Client({
      apiUrl: stack.url,
      defaultHeaders: { traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01` },
    });
    const out = (await client.runs.wait(null, "chat", { input: { messages: [{ role: "user", content: "hi" }] } })) as {
      messages: Array<{ content: string }>;
    };
    expect(out.messages.at(-1)?.content).toBe("hello from the model");
    const call = await until(
      async () => receiver.spans.find((s) => s.traceId === traceId && s.attributes["gen_ai.operation.name"] === "chat"),
      "the model call's span",
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    expect(call.kind).toBe(3);
    expect(call.service).toBe("langopen-runtime");
    const node = await until(
      async () => receiver.spans.find((s) => s.traceId === traceId && s.name === "node model"),
      "the node's span",
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    expect(call.parentSpanId).toBe(node.spanId);
  });

  it("nests a subgraph's node spans under its node's, its model call under the inner node only; an interrupt is no error", async () => {
    const traceId = randomBytes(16).toString("hex");
    const client = new Client({
      apiUrl: stack.url,
      defaultHeaders: { traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01` },
    });
    const thread = await client.threads.create();
    await client.runs.wait(thread.thread_id, "nested", { input: { messages: [{ role: "user", content: "hi" }] } });
    expect((await client.threads.get(thread.thread_id)).status).toBe("interrupted");
    const find = (name: string) => receiver.spans.find((s) => s.traceId === traceId && s.name === name);
    const [outer, innerNode, ask] = await until(
      async () => {
        const found = [find("node outer"), find("node inner"), find("node ask")];
        return found.every(Boolean) && (found as ReceivedSpan[]);
      },
      "the three node spans",
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    expect(innerNode?.parentSpanId).toBe(outer?.spanId);
    expect(innerNode?.attributes["langopen.thread_id"]).toBe(thread.thread_id);
    const calls = receiver.spans.filter((s) => s.traceId === traceId && s.attributes["gen_ai.operation.name"] === "chat");
    expect(calls.map((s) => s.parentSpanId)).toEqual([innerNode?.spanId]);
    // The interrupt bubbles up through its node: the node's span is not a failure.
    expect((ask as ReceivedSpan & { status?: { code?: number } }).status?.code ?? 0).not.toBe(2);
  });

  it("makes no node spans for a trace the client did not sample", async () => {
    const unsampled = randomBytes(16).toString("hex");
    const sampled = randomBytes(16).toString("hex");
    const run = (traceId: string, flags: string) =>
      new Client({
        apiUrl: stack.url,
        defaultHeaders: { traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-${flags}` },
      }).runs.wait(null, "three_steps", { input: {} });
    await run(unsampled, "00");
    await run(sampled, "01");
    // Spans are exported in order of ending: once the later run's nodes are in, the earlier's would be too.
    await until(
      async () => receiver.spans.some((s) => s.traceId === sampled && s.name === "node third"),
      "the sampled run's node spans",
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    expect(receiver.spans.filter((s) => s.traceId === unsampled)).toEqual([]);
  });

  it("links the latency histograms to traces with exemplars", async () => {
    const res = await fetch(`${stack.url}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/^application\/openmetrics-text/);
    const text = await res.text();
    const traced = new Set(receiver.spans.filter((s) => s.name === "run").map((s) => s.traceId));
    const exemplars = [...text.matchAll(/^langopen_run_duration_seconds_bucket\{[^}]*\} \S+ # \{trace_id="([0-9a-f]{32})"/gm)];
    expect(exemplars.length).toBeGreaterThan(0);
    expect(exemplars.every((m) => traced.has(m[1] as string))).toBe(true);
    expect(text).toMatch(
      /^langopen_gateway_http_request_duration_seconds_bucket\{[^}]*\} \S+ # \{trace_id="[0-9a-f]{32}",span_id="[0-9a-f]{16}"\}/m,
    );
  });
});
