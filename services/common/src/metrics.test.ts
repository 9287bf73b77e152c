import { createClient } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "@langopen/gen/health/v1/health_pb";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";
import { createMetricsRegistry, type MetricsServer, mergeExpositions, startMetricsServer } from "./metrics.js";
import { type RpcServer, startRpcServer } from "./rpc-server.js";

const logger = createLogger({ service: "metrics-test", level: "silent" });

describe("metrics", () => {
  let server: MetricsServer | undefined;
  let rpc: RpcServer | undefined;
  afterEach(async () => {
    await server?.close();
    await rpc?.close(0);
  });

  it("serves GET and HEAD /metrics over HTTP/1.1 and nothing else", async () => {
    const registry = createMetricsRegistry();
    server = await startMetricsServer({ host: "127.0.0.1", port: 0, registry });
    const got = await fetch(server.url);
    expect(got.status).toBe(200);
    expect(got.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await got.text();
    expect(text).toContain("# TYPE process_cpu_user_seconds_total counter");
    // prom-client's gauges misnamed with _total are left out (promtool rejects them).
    expect(text).not.toContain("nodejs_active_handles_total");
    expect((await fetch(server.url, { method: "HEAD" })).status).toBe(200);
    expect((await fetch(server.url, { method: "POST" })).status).toBe(404);
    expect((await fetch(server.url.replace("/metrics", "/other"))).status).toBe(404);
  });

  it("counts and times the RPCs a server answers, by service, method and code", async () => {
    const registry = createMetricsRegistry();
    rpc = await startRpcServer({ host: "127.0.0.1", port: 0, logger, services: [], routes: () => {}, metrics: registry });
    const health = createClient(Health, rpc.inProcessTransport);
    expect((await health.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    await expect(health.check({ service: "no.such.Service" })).rejects.toThrow();
    const text = await registry.metrics();
    expect(text).toContain('langopen_rpc_server_requests_total{service="grpc.health.v1.Health",method="Check",code="ok"} 1');
    expect(text).toContain(
      'langopen_rpc_server_requests_total{service="grpc.health.v1.Health",method="Check",code="not_found"} 1',
    );
    expect(text).toMatch(
      /langopen_rpc_server_duration_seconds_count\{service="grpc.health.v1.Health",method="Check",code="ok"\} 1/,
    );
  });

  it("merges other processes' expositions, labelled, into one family each", () => {
    const own = ["# HELP a_total A.", "# TYPE a_total counter", 'a_total{x="1"} 2', ""].join("\n");
    const child = [
      "# HELP a_total A.",
      "# TYPE a_total counter",
      "a_total 5",
      "# HELP b B.",
      "# TYPE b gauge",
      "b{} 1",
      'b{v="a}b\\"c"} 2 # {trace_id="t"} 1',
      "",
    ].join("\n");
    expect(mergeExpositions(own, [{ labels: { runtime: "0" }, text: child }]).split("\n")).toEqual([
      "# HELP a_total A.",
      "# TYPE a_total counter",
      'a_total{x="1"} 2',
      'a_total{runtime="0"} 5',
      "# HELP b B.",
      "# TYPE b gauge",
      'b{runtime="0"} 1',
      'b{v="a}b\\"c",runtime="0"} 2 # {trace_id="t"} 1',
      "",
    ]);
    expect(mergeExpositions("# TYPE c counter\nc_total 1\n# EOF\n", []).endsWith("# EOF\n")).toBe(true);
  });
});
