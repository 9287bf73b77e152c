import http from "node:http";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { notFound } from "@langopen/common";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import type { FastifyInstance } from "fastify";
import { describe, expect, it } from "vitest";
import { standInGateway } from "../../test-fixtures/stand-in.js";

// GET /metrics: the gateway's own registry, with request counters by route pattern, durations,
// open event streams and the process's default metrics.

const THREAD = "0190b3c2-8c4f-7000-8000-000000000001";

const startGateway = standInGateway("metrics-route-test");
const startSecond = standInGateway("metrics-route-test-second");

/** A gateway whose ThreadService knows no thread, except that its stream stays open until the caller leaves. */
async function start(): Promise<FastifyInstance> {
  const { app } = await startGateway((router: ConnectRouter) =>
    router.service(ThreadService, {
      async getThread(req) {
        throw notFound("Thread", req.threadId);
      },
      async *streamThread(_req, ctx: HandlerContext) {
        yield {};
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
      },
    }),
  );
  return app;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses the Prometheus text exposition format (0.0.4) strictly: every line is a comment
 * (# HELP / # TYPE with a known type), or a sample `name{labels} value`; throws otherwise.
 */
function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|NaN|\+Inf|-Inf))(?: -?\d+)?$/;
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("# HELP ")) continue;
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ");
      if (name === undefined || !["counter", "gauge", "histogram", "summary", "untyped"].includes(type ?? "")) {
        throw new Error(`bad TYPE line: ${line}`);
      }
      types.set(name, type as string);
      continue;
    }
    const match = sample.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(label)) labels[key as string] = value as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return { samples, types };
}

function sampleValue(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

async function scrape(app: FastifyInstance) {
  const res = await app.inject({ method: "GET", url: "/metrics" });
  expect(res.statusCode).toBe(200);
  return parsePrometheus(res.body);
}

describe("GET /metrics", () => {
  it("counts requests by method, route pattern and status, with their durations", async () => {
    const app = await start();
    const before = await scrape(app);
    expect(sampleValue(before.samples, "langopen_gateway_http_requests_total", { route: "/ok" })).toBeUndefined();

    for (let i = 0; i < 3; i++) expect((await app.inject({ method: "GET", url: "/ok" })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: `/threads/${THREAD}` })).statusCode).toBe(404);
    expect((await app.inject({ method: "GET", url: "/threads/0190b3c2-8c4f-7000-8000-000000000002" })).statusCode).toBe(404);
    expect((await app.inject({ method: "GET", url: "/no/such/path" })).statusCode).toBe(404);

    const after = await scrape(app);
    const requests = "langopen_gateway_http_requests_total";
    expect(after.types.get(requests)).toBe("counter");
    expect(sampleValue(after.samples, requests, { method: "GET", route: "/ok", status_code: "200" })).toBe(3);
    // By route pattern, never the raw URL: both thread ids are one series.
    expect(sampleValue(after.samples, requests, { method: "GET", route: "/threads/:thread_id", status_code: "404" })).toBe(2);
    expect(after.samples.some((s) => s.labels.route?.includes(THREAD))).toBe(false);
    expect(sampleValue(after.samples, requests, { method: "GET", route: "unmatched", status_code: "404" })).toBe(1);
    // The scrape before this one was counted too.
    expect(sampleValue(after.samples, requests, { method: "GET", route: "/metrics", status_code: "200" })).toBe(1);

    const duration = "langopen_gateway_http_request_duration_seconds";
    expect(after.types.get(duration)).toBe("histogram");
    expect(sampleValue(after.samples, `${duration}_count`, { route: "/ok", status_code: "200" })).toBe(3);
    expect(sampleValue(after.samples, `${duration}_bucket`, { route: "/ok", status_code: "200", le: "+Inf" })).toBe(3);
    expect(sampleValue(after.samples, `${duration}_sum`, { route: "/ok", status_code: "200" })).toBeGreaterThan(0);

    // The process's default metrics are on the gateway's registry.
    expect(after.types.get("process_cpu_user_seconds_total")).toBe("counter");
    expect(after.types.get("nodejs_eventloop_lag_seconds")).toBe("gauge");
    expect(after.types.get("nodejs_heap_size_used_bytes")).toBe("gauge");
  });

  it("answers Prometheus text by default and with format=prometheus", async () => {
    const app = await start();
    for (const url of ["/metrics", "/metrics?format=prometheus"]) {
      const res = await app.inject({ method: "GET", url });
      expect(res.statusCode).toBe(200);
      expect(res.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
      expect(() => parsePrometheus(res.body)).not.toThrow();
    }
  });

  it("answers the registry as JSON with format=json", async () => {
    const app = await start();
    await app.inject({ method: "GET", url: "/ok" });
    const res = await app.inject({ method: "GET", url: "/metrics?format=json" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    const metrics = res.json() as Array<{
      name: string;
      type: string;
      help: string;
      values: Array<{ labels: object; value: number }>;
    }>;
    const requests = metrics.find((m) => m.name === "langopen_gateway_http_requests_total");
    expect(requests).toMatchObject({ type: "counter", help: expect.any(String) });
    expect(requests?.values).toContainEqual({ labels: { method: "GET", route: "/ok", status_code: "200" }, value: 1 });
    expect(metrics.some((m) => m.name === "process_cpu_user_seconds_total")).toBe(true);
  });

  it("answers 422 for another format", async () => {
    const app = await start();
    const res = await app.inject({ method: "GET", url: "/metrics?format=xml" });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toEqual({ detail: `Invalid query parameter: 'format' must be one of "prometheus", "json"` });
  });

  it("keeps registries apart: a second gateway in the process starts from zero", async () => {
    const first = await start();
    await first.inject({ method: "GET", url: "/ok" });
    const { app: second } = await startSecond();
    const { samples } = await scrape(second);
    expect(sampleValue(samples, "langopen_gateway_http_requests_total", { route: "/ok" })).toBeUndefined();
  });

  it("gauges the event streams open now", async () => {
    const app = await start();
    await app.listen({ port: 0, host: "127.0.0.1" });
    const address = app.server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const open = "langopen_gateway_sse_streams_open";
    const route = "/threads/:thread_id/stream";
    const gauge = async () => sampleValue((await scrape(app)).samples, open, { route }) ?? 0;
    expect(await gauge()).toBe(0);

    // A connection of its own (no keep-alive pool), closed when the client leaves.
    const { request, response } = await new Promise<{ request: http.ClientRequest; response: http.IncomingMessage }>(
      (resolve, reject) => {
        const request = http.get(
          { host: "127.0.0.1", port: address.port, path: `/threads/${THREAD}/stream`, agent: false },
          (response) => resolve({ request, response }),
        );
        request.on("error", reject);
      },
    );
    expect(response.headers["content-type"]).toBe("text/event-stream");
    expect(await gauge()).toBe(1);
    expect((await scrape(app)).types.get(open)).toBe("gauge");

    request.destroy();
    const deadline = Date.now() + 5_000;
    while ((await gauge()) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await gauge()).toBe(0);
    // The closed stream was counted as an answered request of its route.
    const { samples } = await scrape(app);
    expect(sampleValue(samples, "langopen_gateway_http_requests_total", { route, status_code: "200" })).toBe(1);
  });
});
