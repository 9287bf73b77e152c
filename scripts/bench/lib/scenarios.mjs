// The scenarios, each run against one target's public API: HTTP load with autocannon, streamed and
// background runs with the official SDK. Each is bounded in time (and in count where it counts runs).
import { Client } from "@langchain/langgraph-sdk";
import autocannon from "autocannon";

export const SCENARIOS = ["threads", "wait-latency", "wait-throughput", "stream", "background"];

/** Metric definitions, in table order. `better` orients the ratio so that > 1 means LangOpen is better. */
export const METRICS = [
  { key: "threads_rps", scenario: "threads", label: "thread create, 16 clients (req/s)", better: "higher" },
  { key: "wait_p50_ms", scenario: "wait-latency", label: "stateless wait, 1 client, p50 (ms)", better: "lower" },
  { key: "wait_p99_ms", scenario: "wait-latency", label: "stateless wait, 1 client, p99 (ms)", better: "lower" },
  { key: "wait_rps_32", scenario: "wait-throughput", label: "stateless wait, 32 clients (runs/s)", better: "higher" },
  { key: "wait_p50_ms_32", scenario: "wait-throughput", label: "stateless wait, 32 clients, p50 (ms)", better: "lower" },
  { key: "stream_first_event_ms", scenario: "stream", label: "stream 3 steps: first event, p50 (ms)", better: "lower" },
  { key: "stream_first_update_ms", scenario: "stream", label: "stream 3 steps: first graph update, p50 (ms)", better: "lower" },
  { key: "stream_end_ms", scenario: "stream", label: "stream 3 steps: end of run, p50 (ms)", better: "lower" },
  {
    key: "bg_runs_per_s",
    scenario: "background",
    label: "background: {runs} runs / {threads} threads, enqueue (runs/s)",
    better: "higher",
  },
  { key: "bg_enqueue_per_s", scenario: "background", label: "background: creating the {runs} runs (req/s)", better: "higher" },
];

const JSON_HEADERS = { "content-type": "application/json" };
const TERMINAL = new Set(["success", "error", "interrupted", "timeout"]);

const now = () => performance.now();

export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, index))];
}

function sdk(url) {
  return new Client({ apiUrl: url, callerOptions: { maxRetries: 0 }, timeoutMs: 60_000 });
}

/** Runs fn over items with at most `limit` in flight. */
async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  });
  await Promise.all(lanes);
  return results;
}

/**
 * Closed-loop HTTP load: `connections` clients each sending the next request when the previous one has
 * answered, for durationS seconds. Latencies are autocannon's per-request timings (hrtime, sub-ms).
 */
export function load({ url, path, body, connections, durationS }) {
  return new Promise((resolve, reject) => {
    const latencies = [];
    const statuses = {};
    const instance = autocannon(
      {
        url: `${url}${path}`,
        method: "POST",
        headers: JSON_HEADERS,
        body: JSON.stringify(body),
        connections,
        duration: durationS,
        timeout: 30,
      },
      (err, result) => {
        if (err) return reject(err);
        latencies.sort((a, b) => a - b);
        resolve({
          ok: latencies.length,
          durationS: result.duration,
          rps: latencies.length / result.duration,
          latencies,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          statuses,
        });
      },
    );
    instance.on("response", (_client, status, _bytes, ms) => {
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
}

/** When a load had failures, one more request shows what the server says. */
async function explain(url, path, body, res) {
  if (res.non2xx === 0 && res.errors === 0) return [];
  let sample = "";
  try {
    const r = await fetch(`${url}${path}`, {
      method: "POST",
      headers: JSON_HEADERS,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    sample = `a retry answered ${r.status} ${(await r.text()).slice(0, 200)}`;
  } catch (err) {
    sample = `a retry failed: ${err.message}`;
  }
  return [
    `POST ${path}: ${res.non2xx} non-2xx (${JSON.stringify(res.statuses)}), ${res.errors} errors, ${res.timeouts} timeouts; ${sample}`,
  ];
}

const WAIT_BODY = { assistant_id: "echo", input: { text: "hello" } };

/** Scenario implementations: (target, cfg) -> { metrics, ops, problems }. */
export const RUNNERS = {
  async threads(target, cfg) {
    const res = await load({ url: target.url, path: "/threads", body: {}, connections: 16, durationS: cfg.durationS });
    return {
      metrics: { threads_rps: res.rps },
      ops: res.ok,
      problems: await explain(target.url, "/threads", {}, res),
    };
  },

  async "wait-latency"(target, cfg) {
    const res = await load({ url: target.url, path: "/runs/wait", body: WAIT_BODY, connections: 1, durationS: cfg.durationS });
    return {
      metrics: { wait_p50_ms: percentile(res.latencies, 50), wait_p99_ms: percentile(res.latencies, 99) },
      ops: res.ok,
      problems: await explain(target.url, "/runs/wait", WAIT_BODY, res),
    };
  },

  async "wait-throughput"(target, cfg) {
    const res = await load({ url: target.url, path: "/runs/wait", body: WAIT_BODY, connections: 32, durationS: cfg.durationS });
    return {
      metrics: { wait_rps_32: res.rps, wait_p50_ms_32: percentile(res.latencies, 50) },
      ops: res.ok,
      problems: await explain(target.url, "/runs/wait", WAIT_BODY, res),
    };
  },

  /** Sequential streamed runs of the three-step graph, each on a fresh thread (created untimed). */
  async stream(target, cfg) {
    const client = sdk(target.url);
    const first = [];
    const firstUpdate = [];
    const end = [];
    const problems = [];
    const deadline = Date.now() + cfg.streamMaxS * 1000;
    for (let i = 0; i < cfg.streamRuns && Date.now() < deadline; i++) {
      const { thread_id } = await client.threads.create();
      const t0 = now();
      let tFirst;
      let tUpdate;
      let updates = 0;
      try {
        for await (const chunk of client.runs.stream(thread_id, "steps", {
          input: { topic: `run ${i}` },
          streamMode: "updates",
        })) {
          const t = now() - t0;
          tFirst ??= t;
          if (chunk.event === "updates") {
            tUpdate ??= t;
            updates++;
          } else if (chunk.event === "error") {
            problems.push(`stream: error event ${JSON.stringify(chunk.data).slice(0, 200)}`);
          }
        }
      } catch (err) {
        problems.push(`stream: ${err.message}`);
        continue;
      }
      if (updates !== 3) {
        problems.push(`stream: expected 3 updates events, got ${updates}`);
        continue;
      }
      first.push(tFirst);
      firstUpdate.push(tUpdate);
      end.push(now() - t0);
    }
    for (const list of [first, firstUpdate, end]) list.sort((a, b) => a - b);
    return {
      metrics: {
        stream_first_event_ms: percentile(first, 50),
        stream_first_update_ms: percentile(firstUpdate, 50),
        stream_end_ms: percentile(end, 50),
      },
      ops: end.length,
      problems: problems.slice(0, 5),
    };
  },

  /**
   * Background runs (multitask_strategy "enqueue"; 500 over 50 threads by default) created by 16
   * concurrent clients; runs/s is counted from the first create to the moment every run has ended.
   */
  async background(target, cfg) {
    const client = sdk(target.url);
    const { bgRuns: total, bgThreads: threadCount } = cfg;
    const threads = await pool(Array.from({ length: threadCount }), 8, async () => (await client.threads.create()).thread_id);
    const deadline = Date.now() + cfg.bgMaxS * 1000;
    const problems = [];
    const t0 = now();
    const created = await pool(Array.from({ length: total }), 16, async (_x, i) => {
      const threadId = threads[i % threadCount];
      try {
        const run = await client.runs.create(threadId, "echo", {
          input: { text: `background ${i}` },
          multitaskStrategy: "enqueue",
        });
        return { threadId, runId: run.run_id };
      } catch (err) {
        if (problems.length < 5) problems.push(`runs.create: ${err.message}`);
        return undefined;
      }
    });
    const enqueueS = (now() - t0) / 1000;
    const ok = created.filter(Boolean);
    // Wait for the last run created on each thread (enqueued runs of a thread run in order), then check
    // every run's status and wait for any that has not ended, until all have or the time is up.
    const lastOf = new Map();
    for (const run of ok) lastOf.set(run.threadId, run.runId);
    const join = (threadId, runId) =>
      client.runs.join(threadId, runId).catch((err) => {
        if (problems.length < 5) problems.push(`runs.join: ${err.message}`);
      });
    await withDeadline(
      pool([...lastOf], 50, ([threadId, runId]) => join(threadId, runId)),
      deadline,
    );
    let statuses = {};
    for (let pass = 0; pass < 20 && Date.now() < deadline; pass++) {
      const lists = await pool(threads, 16, (threadId) => client.runs.list(threadId, { limit: 100 }));
      const mine = new Set(ok.map((r) => r.runId));
      const pending = [];
      statuses = {};
      for (const [i, runs] of lists.entries()) {
        for (const run of runs) {
          if (!mine.has(run.run_id)) continue;
          statuses[run.status] = (statuses[run.status] ?? 0) + 1;
          if (!TERMINAL.has(run.status)) pending.push([threads[i], run.run_id]);
        }
      }
      if (pending.length === 0) break;
      await withDeadline(
        pool(pending, 50, ([threadId, runId]) => join(threadId, runId)),
        deadline,
      );
    }
    const doneS = (now() - t0) / 1000;
    const finished = Object.entries(statuses)
      .filter(([status]) => TERMINAL.has(status))
      .reduce((sum, [, n]) => sum + n, 0);
    const succeeded = statuses.success ?? 0;
    if (succeeded !== total) {
      problems.push(`background: ${succeeded} of ${total} runs succeeded (${JSON.stringify(statuses)}) in ${doneS.toFixed(1)} s`);
    }
    return {
      metrics: { bg_runs_per_s: finished / doneS, bg_enqueue_per_s: ok.length / enqueueS },
      ops: finished,
      problems,
    };
  },
};

async function withDeadline(promise, deadline) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
  });
  try {
    await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A short untimed pass of each scenario that will run (every one by default), so that JIT and
 * connection pools are warm; a narrowed run does not depend on the paths it does not measure.
 */
export async function warmUp(target, scenarios = SCENARIOS) {
  const wanted = new Set(scenarios);
  if (wanted.has("threads")) await load({ url: target.url, path: "/threads", body: {}, connections: 8, durationS: 1 });
  if (wanted.has("wait-latency") || wanted.has("wait-throughput")) {
    await load({ url: target.url, path: "/runs/wait", body: WAIT_BODY, connections: 8, durationS: 1 });
  }
  if (wanted.has("stream")) await RUNNERS.stream(target, { streamRuns: 3, streamMaxS: 10 });
  if (wanted.has("background")) await RUNNERS.background(target, { bgRuns: 20, bgThreads: 5, bgMaxS: 20 });
}
