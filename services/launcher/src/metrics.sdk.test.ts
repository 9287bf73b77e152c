// The metrics of one process under `npm start` (GET /metrics of the gateway shows every part's): what one run's
// life adds, the queue, pools, RPCs and webhooks, that Prometheus accepts the exposition (`promtool check metrics`),
// and that every metric the shipped alerts (charts/langopen/files/alerts.yml) and dashboard (charts/langopen/files/) use is exported.
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { until } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./test-fixtures/stack.js";

const ALERTS = fileURLToPath(new URL("../../../charts/langopen/files/alerts.yml", import.meta.url));
const DASHBOARD = fileURLToPath(new URL("../../../charts/langopen/files/dashboard.json", import.meta.url));
const hasPromtool = spawnSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" }).stdout.trim() !== "";
if (!hasPromtool && !process.env.CI) console.log("Skipping the promtool checks: apt-get install prometheus");

let stack: TestStack;
let client: Client;

beforeAll(async () => {
  stack = await startTestStack();
  client = new Client({ apiUrl: stack.url });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const scrape = async () => {
  const res = await fetch(`${stack.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
};

/** The value of one sample (`name{labels}` exactly as exported, labels in their order), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("metrics under npm start", () => {
  it("counts one run's life: its wait, its attempt, its events, its RPCs", async () => {
    const before = await scrape();
    const attempts = (text: string) => sample(text, 'langopen_run_attempts_total{outcome="success"}') ?? 0;
    const waits = (text: string) => sample(text, "langopen_run_queue_wait_seconds_count") ?? 0;
    const durations = (text: string) => sample(text, 'langopen_run_duration_seconds_count{outcome="success"}') ?? 0;
    const events = (text: string) => sample(text, "langopen_stream_events_total") ?? 0;
    const lagged = (text: string) => sample(text, "langopen_stream_event_lag_seconds_count") ?? 0;

    const thread = await client.threads.create();
    const chunks: string[] = [];
    let runId = "";
    for await (const chunk of client.runs.stream(thread.thread_id, "agent", { input: { value: 1 }, streamMode: ["values"] })) {
      chunks.push(chunk.event);
      if (chunk.event === "metadata") runId = (chunk.data as { run_id: string }).run_id;
    }
    expect(chunks).toContain("values");

    const after = await scrape();
    expect(attempts(after) - attempts(before)).toBe(1);
    expect(waits(after) - waits(before)).toBe(1);
    expect(durations(after) - durations(before)).toBe(1);
    // metadata, values, end at least.
    expect(events(after) - events(before)).toBeGreaterThanOrEqual(3);
    // Each event this client received live was timed from its append to its hand-off to the stream.
    expect(lagged(after) - lagged(before)).toBe(chunks.length);
    expect(sample(after, 'langopen_stream_event_lag_seconds_bucket{le="+Inf"}')).toBe(lagged(after));
    // Joining the ended run replays its events: old ones, not lag.
    const replayed: string[] = [];
    for await (const chunk of client.runs.joinStream(thread.thread_id, runId, { lastEventId: "0" })) replayed.push(chunk.event);
    expect(replayed.length).toBeGreaterThan(1);
    expect(lagged(await scrape())).toBe(lagged(after));
    expect(sample(after, "langopen_runs_pending")).toBe(0);
    expect(sample(after, "langopen_runs_running")).toBe(0);
    expect(sample(after, "langopen_workers_busy")).toBe(0);
    expect(sample(after, "langopen_workers_capacity")).toBeGreaterThan(0);
    const created =
      'langopen_rpc_server_requests_total{service="langopen.data.v1.RunService",method="CreateAndStreamRun",code="ok"}';
    expect((sample(after, created) ?? 0) - (sample(before, created) ?? 0)).toBe(1);
    expect(
      sample(
        after,
        'langopen_gateway_http_requests_total{method="POST",route="/threads/:thread_id/runs/stream",status_code="200"}',
      ),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'langopen_pg_pool_max_connections{pool="api-server"}')).toBeGreaterThan(0);
    expect(sample(after, 'langopen_pg_pool_connections{pool="worker"}')).toBeGreaterThan(0);
    expect(sample(after, 'langopen_redis_up{client="langopen"}')).toBe(1);
    // The runtime processes' own metrics, labelled by process: the Execute the run made, and their memory.
    expect(after).toMatch(
      /^langopen_rpc_server_requests_total\{service="langopen\.runtime\.v1\.RuntimeService",method="Execute",code="ok",runtime="\d"\} [1-9]/m,
    );
    expect(after).toMatch(/^nodejs_heap_size_used_bytes\{runtime="0"\} [1-9]/m);
  });

  it("counts failed RPCs by code, refused webhooks, and reports each dependency up", async () => {
    const before = await scrape();
    const missing =
      'langopen_rpc_server_requests_total{service="langopen.data.v1.ThreadService",method="GetThread",code="not_found"}';
    await expect(client.threads.get("00000000-0000-4000-8000-000000000000")).rejects.toThrow(/404/);
    const refused = 'langopen_webhook_deliveries_total{outcome="refused"}';
    // A loopback target that is not allow-listed: refused at once.
    await client.runs.wait(null, "agent", { input: { value: 2 }, webhook: "http://127.0.0.1:9/hook" });
    const after = await until(
      async () => {
        const text = await scrape();
        return (sample(text, refused) ?? 0) > (sample(before, refused) ?? 0) && text;
      },
      "the refused webhook to be counted",
      { timeoutMs: 10_000 },
    );
    expect((sample(after, missing) ?? 0) - (sample(before, missing) ?? 0)).toBe(1);
    const up = await until(
      async () => {
        const text = await scrape();
        return sample(text, 'langopen_dependency_up{dependency="runtime"}') === 1 && text;
      },
      "the dependency probes",
      { timeoutMs: 15_000 },
    );
    expect(sample(up, 'langopen_dependency_up{dependency="postgres"}')).toBe(1);
    expect(sample(up, 'langopen_dependency_up{dependency="redis"}')).toBe(1);
    expect(sample(up, "langopen_runtime_restarts_total")).toBe(0);
  });

  it("exports every metric the shipped alerts and dashboard use", async () => {
    const text = await scrape();
    const used = new Set<string>();
    for (const file of [ALERTS, DASHBOARD]) {
      for (const match of (await readFile(file, "utf8")).matchAll(/\blangopen_[a-z_]+/g)) {
        used.add(match[0].replace(/_(bucket|sum|count)$/, ""));
      }
    }
    expect(used.size).toBeGreaterThan(10);
    // Only the in-process event logs (no Redis) have this one.
    used.delete("langopen_event_log_bytes");
    const exported = new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
    expect([...used].filter((name) => !exported.has(name))).toEqual([]);
  });

  it.skipIf(!hasPromtool && !process.env.CI)("passes promtool check metrics", async () => {
    const checked = spawnSync("promtool", ["check", "metrics"], { input: await scrape(), encoding: "utf8" });
    expect(checked.error).toBeUndefined();
    expect(`${checked.stdout}${checked.stderr}`).toBe("");
    expect(checked.status).toBe(0);
  });
});
