import { createHmac, timingSafeEqual } from "node:crypto";
import http, { type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "@langchain/langgraph-sdk";
import { createLogger, type Pool } from "@langopen/common";
import { createPool } from "@langopen/data-plane";
import { until } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_GRAPHS, type TestStack } from "./test-fixtures/stack.js";
import { startTunedStack } from "./test-fixtures/tuned-stack.js";

const SECRET = "test-webhook-secret";

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A loopback receiver: records every request; a path's answers can be scripted (default 200). */
function startReceiver() {
  const received: Received[] = [];
  const scripts = new Map<string, number[]>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      const status = scripts.get(path)?.shift() ?? 200;
      res.writeHead(status, { "content-type": "text/plain" }).end(status < 300 ? "ok" : "not now");
    });
  });
  return {
    received,
    /** The next answers to POSTs on this path. */
    script: (path: string, statuses: number[]) => scripts.set(path, [...statuses]),
    on: (path: string) => received.filter((r) => r.path === path),
    listen: () =>
      new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port))),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let receiver: ReturnType<typeof startReceiver>;
let port: number;
let stack: TestStack;
let client: Client;
let db: Pool;

beforeAll(async () => {
  receiver = startReceiver();
  port = await receiver.listen();
  stack = await startTunedStack(TEST_GRAPHS, {
    cronPollMs: 50,
    webhooks: {
      secret: SECRET,
      allowedHosts: [`127.0.0.1:${port}`],
      backoffBaseMs: 50,
      maxAttempts: 5,
      pollMs: 50,
      timeoutMs: 2_000,
    },
  });
  client = new Client({ apiUrl: stack.url });
  db = createPool(
    { connectionString: stack.databaseUrl, applicationName: "webhooks-test" },
    createLogger({ service: "test", level: "error" }),
  );
}, 90_000);

afterAll(async () => {
  await db?.end();
  await stack?.stop();
  await receiver?.close();
});

const hi = (text: string) => ({ messages: [{ role: "human", content: text }] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Delivery {
  delivery_id: string;
  run_id: string;
  url: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  next_attempt_at: string | null;
  last_error: string | null;
  last_status: number | null;
  created_at: string;
  delivered_at: string | null;
}

async function deliveries(runId: string, query = ""): Promise<{ status: number; json: Delivery[] }> {
  const res = await fetch(`${stack.url}/runs/${runId}/webhooks${query}`);
  return { status: res.status, json: (await res.json()) as Delivery[] };
}

/** Waits until the run's deliveries have all settled (delivered or failed). */
const settled = (runId: string) =>
  until(async () => {
    const { json } = await deliveries(runId);
    return json.length > 0 && json.every((d) => d.status !== "pending") ? json : undefined;
  }, "the webhook to settle");

/** Checks `t=<unix>,v1=<hex>` against the body, as a receiver would. */
function verifySignature(header: string | undefined, body: string): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? "");
  if (!match) return false;
  const [, t, mac] = match as unknown as [string, string, string];
  if (Math.abs(Date.now() / 1000 - Number(t)) > 300) return false;
  const expected = createHmac("sha256", SECRET).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(mac, "hex"));
}

describe("run webhooks", () => {
  it("POSTs one signed notification when a run ends", async () => {
    const thread = await client.threads.create();
    const url = `http://127.0.0.1:${port}/done`;
    const values = await client.runs.wait(thread.thread_id, "echo", { input: hi("ping"), webhook: url, metadata: { n: 1 } });
    const [run] = await client.runs.list(thread.thread_id);
    const done = await settled(run?.run_id as string);
    await sleep(300); // room for a duplicate, which must not come
    const got = receiver.on("/done");
    expect(got).toHaveLength(1);
    const [request] = got as [Received];
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.headers["user-agent"]).toMatch(/^LangOpen-Webhooks\//);
    expect(verifySignature(request.headers["x-langopen-signature"] as string, request.body)).toBe(true);
    expect(verifySignature(request.headers["x-langopen-signature"] as string, `${request.body} `)).toBe(false);
    const body = JSON.parse(request.body);
    expect(body).toMatchObject({
      run_id: run?.run_id,
      thread_id: thread.thread_id,
      assistant_id: run?.assistant_id,
      status: "success",
      metadata: { n: 1 },
      multitask_strategy: "enqueue",
      kwargs: { input: hi("ping"), webhook: url },
      values,
    });
    for (const key of ["created_at", "updated_at", "run_started_at", "run_ended_at", "webhook_sent_at"]) {
      expect(body[key]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/);
    }
    expect(body).not.toHaveProperty("error");
    expect(done).toEqual([
      expect.objectContaining({ run_id: run?.run_id, url, status: "delivered", attempts: 1, last_status: 200, last_error: null }),
    ]);
    expect(done[0]?.delivered_at).not.toBeNull();
    expect(done[0]?.next_attempt_at).toBeNull();
  });

  it("reports a failed run with its error, and no webhook for runs without one", async () => {
    const thread = await client.threads.create();
    const url = `http://127.0.0.1:${port}/failed`;
    await client.runs.wait(thread.thread_id, "steps", {
      input: { topic: "x" },
      config: { recursion_limit: 1 },
      webhook: url,
      raiseError: false,
    });
    const [run] = await client.runs.list(thread.thread_id);
    expect(run?.status).toBe("error");
    await settled(run?.run_id as string);
    const body = JSON.parse(receiver.on("/failed")[0]?.body ?? "{}");
    expect(body).toMatchObject({
      run_id: run?.run_id,
      status: "error",
      error: { error: expect.any(String), message: expect.any(String) },
    });

    await client.runs.wait(thread.thread_id, "echo", { input: hi("quiet") });
    const [quiet] = await client.runs.list(thread.thread_id);
    expect((await deliveries(quiet?.run_id as string)).json).toEqual([]);
  });

  it("retries with backoff until the receiver answers 2xx", async () => {
    receiver.script("/flaky", [500, 500, 200]);
    const thread = await client.threads.create();
    await client.runs.wait(thread.thread_id, "echo", { input: hi("retry"), webhook: `http://127.0.0.1:${port}/flaky` });
    const [run] = await client.runs.list(thread.thread_id);
    const [delivery] = await settled(run?.run_id as string);
    expect(delivery).toMatchObject({ status: "delivered", attempts: 3, last_status: 200, last_error: null });
    const got = receiver.on("/flaky");
    expect(got).toHaveLength(3);
    expect(got.map((r) => r.headers["x-langopen-attempt"])).toEqual(["1", "2", "3"]);
    expect(new Set(got.map((r) => r.headers["x-langopen-delivery"])).size).toBe(1);
    for (const r of got) expect(verifySignature(r.headers["x-langopen-signature"] as string, r.body)).toBe(true);
  });

  it("gives up after the last attempt and records why", async () => {
    receiver.script("/down", [503, 503, 503, 503, 503, 503]);
    const thread = await client.threads.create();
    await client.runs.wait(thread.thread_id, "echo", { input: hi("x"), webhook: `http://127.0.0.1:${port}/down` });
    const [run] = await client.runs.list(thread.thread_id);
    const [delivery] = await settled(run?.run_id as string);
    expect(delivery).toMatchObject({ status: "failed", attempts: 5, last_status: 503, next_attempt_at: null });
    expect(delivery?.last_error).toMatch(/gave up after 5 attempts: .*HTTP 503/);
    expect(receiver.on("/down")).toHaveLength(5);
  });

  // A path (no host) is this installation's own API: custom-routes.sdk.test.ts delivers one.
  it("refuses loopback targets that are not allow-listed, and protocol-relative ones", async () => {
    const thread = await client.threads.create();
    const targets = [
      `http://localhost:${port}/sneaky`,
      `http://127.0.0.1:${port + 1}/other-port`,
      "http://[::1]/v6",
      "//127.0.0.1/protocol-relative",
    ];
    for (const webhook of targets) {
      await client.runs.wait(thread.thread_id, "echo", { input: hi("x"), webhook });
    }
    const runs = await client.runs.list(thread.thread_id);
    expect(runs).toHaveLength(targets.length);
    for (const run of runs) {
      const [delivery] = await settled(run.run_id);
      expect(delivery).toMatchObject({ status: "failed", attempts: 1, last_status: null });
      expect(delivery?.last_error).toMatch(/^refused webhook/);
    }
    const byUrl = new Map<string, string | null>();
    for (const run of runs) {
      const [d] = (await deliveries(run.run_id)).json;
      if (d) byUrl.set(d.url, d.last_error);
    }
    expect(byUrl.get("//127.0.0.1/protocol-relative")).toMatch(/neither an absolute URL nor a path/);
    expect(byUrl.get(`http://localhost:${port}/sneaky`)).toMatch(/loopback, private/);
    expect(receiver.on("/sneaky")).toHaveLength(0);
    // Failed deliveries are listed by status too.
    const failed = await deliveries(runs[0]?.run_id as string, "?status=failed");
    expect(failed.json).toHaveLength(1);
    expect((await deliveries(runs[0]?.run_id as string, "?status=delivered")).json).toEqual([]);
  });

  it("notifies an interrupted run, and a cron passes its webhook to the runs it creates", async () => {
    const thread = await client.threads.create();
    const run = await client.runs.create(thread.thread_id, "slow", {
      input: {},
      config: { configurable: { ticks: 100 } },
      webhook: `http://127.0.0.1:${port}/cancelled`,
    });
    await until(
      async () => ((await client.runs.get(thread.thread_id, run.run_id)).status === "running" ? true : undefined),
      "the run",
    );
    await client.runs.cancel(thread.thread_id, run.run_id, true);
    await settled(run.run_id);
    expect(JSON.parse(receiver.on("/cancelled")[0]?.body ?? "{}")).toMatchObject({ run_id: run.run_id, status: "interrupted" });

    const cron = await client.crons.create("echo", {
      schedule: "0 * * * *",
      input: hi("from cron"),
      webhook: `http://127.0.0.1:${port}/cron`,
      metadata: { source: "cron-test" },
    });
    await db.query("UPDATE crons SET next_run_date = now() - interval '1 second' WHERE cron_id = $1", [cron.cron_id]);
    await until(async () => (receiver.on("/cron").length > 0 ? true : undefined), "the cron run's webhook");
    const body = JSON.parse(receiver.on("/cron")[0]?.body ?? "{}");
    // A stateless cron's thread is gone by the time its run ends.
    expect(body).toMatchObject({ status: "success", thread_id: null, metadata: { source: "cron-test", cron_id: cron.cron_id } });
    expect(body).not.toHaveProperty("values");
    await client.crons.delete(cron.cron_id);
  });

  it("refuses bad input on the deliveries route", async () => {
    for (const [path, expected] of [
      ["/runs/not-a-uuid/webhooks", 422],
      [`/runs/${crypto.randomUUID()}/webhooks?status=lost`, 422],
      [`/runs/${crypto.randomUUID()}/webhooks?limit=0`, 422],
    ] as const) {
      const res = await fetch(`${stack.url}${path}`);
      expect({ path, status: res.status }).toEqual({ path, status: expected });
    }
    expect((await deliveries(crypto.randomUUID())).json).toEqual([]);
    const bad = await fetch(`${stack.url}/threads/${crypto.randomUUID()}/runs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ assistant_id: "echo", webhook: "" }),
    });
    expect(bad.status).toBe(422);
    const { rows } = await db.query<{ n: string }>("SELECT count(*) AS n FROM webhook_deliveries WHERE url = ''");
    expect(Number(rows[0]?.n)).toBe(0);
  });
});
