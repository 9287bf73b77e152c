// The attacks of the abuse suite: each replays one finding of the "no sequence of requests can crash
// it or starve others" issue against a running server, at the issue's sizes times a profile's scale.
// An attack counts every answer by status (and every request that got none), and may add checks
// (a refusal the server must give, a result it must not give) and figures (an echo run's delay).
// Every loop is bounded in count and in time.
import { percentile } from "./monitor.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Answers by status and requests without an answer, for one attack. */
export function newStats() {
  return { requests: 0, statuses: {}, errors: {}, checks: [], figures: {} };
}

function count(map, key) {
  map[key] = (map[key] ?? 0) + 1;
}

/** The error's cause as a short word: timeout, ECONNRESET, … */
function errorName(err) {
  if (err?.name === "TimeoutError" || err?.name === "AbortError") return "timeout";
  return err?.cause?.code ?? err?.code ?? err?.name ?? "error";
}

/**
 * One request. `body`: a string is sent as is (large bodies are serialised once, by the caller),
 * anything else as JSON. `drain`: read the answer without keeping it (big streams); the answer
 * text is kept up to 64 KB otherwise. Never throws: a request without an answer is counted.
 */
export async function call(
  ctx,
  stats,
  method,
  path,
  body,
  { timeoutMs = 60_000, headers = {}, drain = false, keep = 65_536 } = {},
) {
  stats.requests += 1;
  const init = { method, headers: { ...headers }, signal: AbortSignal.timeout(timeoutMs) };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers["content-type"] ??= "application/json";
  }
  try {
    const res = await fetch(`${ctx.url}${path}`, init);
    let text = "";
    let bytes = 0;
    if (drain && res.body) {
      for await (const chunk of res.body) bytes += chunk.length;
    } else {
      text = await res.text();
      bytes = text.length;
      if (text.length > keep) text = text.slice(0, keep);
    }
    count(stats.statuses, res.status);
    return { status: res.status, headers: res.headers, text, bytes, json: () => parse(text) };
  } catch (err) {
    count(stats.errors, errorName(err));
    return { status: undefined, error: errorName(err), text: "", bytes: 0, json: () => undefined };
  }
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Runs task(i) for i < total, `concurrency` at a time, starting none after the deadline. */
async function inParallel(total, concurrency, deadline, task) {
  let next = 0;
  const lane = async () => {
    while (next < total && Date.now() < deadline) {
      const i = next++;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane));
}

function check(stats, ok, text) {
  stats.checks.push({ ok, text });
}

/** A small run unrelated to the attack, timed: stateless, on the echo graph, waited for. */
async function echoRun(ctx, stats, text = "ping") {
  const started = performance.now();
  const res = await call(ctx, stats, "POST", "/runs/wait", { assistant_id: "echo", input: { text } }, { timeoutMs: 120_000 });
  const ms = performance.now() - started;
  const answered = res.status === 200 && res.text.includes(`You said: ${text}`);
  return { ms, answered, status: res.status, text: res.text };
}

/**
 * Times echo runs one after another until `until()` is true (bounded by maxCount and deadline),
 * into stats.figures.echo*. Probe answers are counted apart from the attack's own.
 */
async function echoProbe(ctx, stats, until, { maxCount = 2_000, deadline }) {
  const probeStats = newStats();
  const times = [];
  const failed = {};
  let firstFailure;
  for (let i = 0; i < maxCount && !until() && Date.now() < deadline; i++) {
    const { ms, answered, status, text } = await echoRun(ctx, probeStats, `probe ${i}`);
    if (answered) times.push(ms);
    else if (status !== 429) {
      count(failed, status === 200 ? "200 without the reply" : (status ?? "no answer"));
      firstFailure ??= text.slice(0, 200);
    }
    await sleep(100);
  }
  stats.figures.echoRuns = times.length;
  stats.figures.echoP99Ms = percentile(times, 99);
  stats.figures.echoMaxMs = times.length ? Math.max(...times) : undefined;
  stats.probeStatuses = probeStats.statuses;
  stats.probeErrors = probeStats.errors;
  const failures = Object.entries(failed).map(([k, v]) => `${k}:${v}`);
  if (failures.length > 0)
    check(
      stats,
      false,
      `unrelated echo runs failed during the attack (${failures.join(" ")}; the first answered ${JSON.stringify(firstFailure)})`,
    );
  return times;
}

/** Runs `attack(ctx, stats)` while echo runs are timed beside it. */
async function withEchoProbe(ctx, stats, attack) {
  let done = false;
  const probe = echoProbe(ctx, stats, () => done, { deadline: Date.now() + ctx.attackTimeoutMs });
  try {
    await attack();
  } finally {
    done = true;
    await probe;
  }
}

async function newThread(ctx, stats, body = {}) {
  const res = await call(ctx, stats, "POST", "/threads", body);
  const id = res.json()?.thread_id;
  if (!id) throw new Error(`POST /threads answered ${res.status ?? res.error}: ${res.text.slice(0, 300)}`);
  return id;
}

/** Deep nesting as text (built as a string: JSON.stringify itself would overflow on it). */
const deepObject = (depth) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
const deepArray = (depth) => `${"[".repeat(depth)}1${"]".repeat(depth)}`;
const hugeArray = (n) => `[${"0,".repeat(n - 1)}0]`;

/**
 * A create the server must refuse (4xx), on a thread's route and on its stateless twin: checks each
 * answer, and undoes what an accepted one created (`undo(created)`: the request that does it, if any).
 */
async function expectRefused(ctx, stats, { paths, body, what, undo }) {
  const thread = await newThread(ctx, stats);
  for (const path of paths(thread)) {
    const res = await call(ctx, stats, "POST", path, body);
    const refused = res.status >= 400 && res.status < 500;
    const label = path.replace(thread, "{id}");
    check(stats, refused, `${label} with ${what}: ${res.status ?? res.error}${refused ? " (refused)" : " (accepted)"}`);
    const cleanup = undo(res.json());
    if (cleanup) await call(ctx, newStats(), ...cleanup);
  }
}

const RETRY_AFTER_OK = (res) => res.status !== 429 || /^\d+$/.test(res.headers?.get("retry-after") ?? "");

export const ATTACKS = {
  /**
   * N stateless streamed runs, each with one huge human message, in four stream modes at once:
   * the server gets one copy and is asked to send it back in every mode.
   */
  "big-stream": {
    describe: (p) =>
      `${p.streams} x POST /runs/stream, a ${(p.messageBytes / 1e6).toFixed(1)} MB message, modes values+updates+messages-tuple+debug, ${p.streamConcurrency} at a time, read to the end`,
    async run(ctx, stats, p) {
      const body = JSON.stringify({
        assistant_id: "echo",
        input: { messages: [{ type: "human", content: "x".repeat(p.messageBytes) }] },
        stream_mode: ["values", "updates", "messages-tuple", "debug"],
      });
      let streamed = 0;
      await withEchoProbe(ctx, stats, () =>
        inParallel(p.streams, p.streamConcurrency, Date.now() + ctx.attackTimeoutMs, async () => {
          const res = await call(ctx, stats, "POST", "/runs/stream", body, { timeoutMs: 300_000, drain: true });
          streamed += res.bytes;
        }),
      );
      stats.figures.streamedMb = streamed / 1e6;
    },
  },

  /** Threads whose metadata object has hundreds of thousands of keys, several at once. */
  "wide-metadata": {
    describe: (p) =>
      `${p.wideRequests} x POST /threads with ${p.wideKeys.toLocaleString("en")} metadata keys, ${p.wideConcurrency} at a time`,
    async run(ctx, stats, p) {
      const keys = Array.from({ length: p.wideKeys }, (_, i) => `"k${i}":${i}`).join(",");
      const body = `{"metadata":{${keys}}}`;
      stats.figures.bodyMb = body.length / 1e6;
      await withEchoProbe(ctx, stats, () =>
        inParallel(p.wideRequests, p.wideConcurrency, Date.now() + ctx.attackTimeoutMs, () =>
          call(ctx, stats, "POST", "/threads", body, { timeoutMs: 120_000 }),
        ),
      );
    },
  },

  /** Many assistants, then JSON-RPC batches of `tools/list` (each lists every assistant) to /mcp. */
  "mcp-batch": {
    describe: (p) =>
      `${p.assistants} assistants, then ${p.mcpBatches} JSON-RPC batches of ${p.mcpBatchSize} tools/list to /mcp, ${p.mcpConcurrency} at a time`,
    async run(ctx, stats, p) {
      let created = 0;
      await inParallel(p.assistants, 4, Date.now() + ctx.attackTimeoutMs, async (i) => {
        const res = await call(ctx, stats, "POST", "/assistants", {
          graph_id: "echo",
          name: `abuse-${ctx.runTag}-${i}`,
          description: "x".repeat(200),
        });
        if (res.status === 200) created += 1;
      });
      stats.figures.assistantsCreated = created;
      const body = JSON.stringify(
        Array.from({ length: p.mcpBatchSize }, (_, i) => ({ jsonrpc: "2.0", id: i + 1, method: "tools/list", params: {} })),
      );
      let answerBytes = 0;
      const rpcErrors = {};
      await withEchoProbe(ctx, stats, () =>
        inParallel(p.mcpBatches, p.mcpConcurrency, Date.now() + ctx.attackTimeoutMs, async () => {
          const res = await call(ctx, stats, "POST", "/mcp", body, {
            timeoutMs: 180_000,
            headers: { accept: "application/json, text/event-stream" },
            keep: 64_000_000,
          });
          answerBytes = Math.max(answerBytes, res.bytes);
          const answers = res.json();
          for (const answer of Array.isArray(answers) ? answers : [answers]) {
            if (answer?.error) count(rpcErrors, answer.error.code ?? "?");
          }
        }),
      );
      stats.figures.largestAnswerMb = answerBytes / 1e6;
      const codes = Object.entries(rpcErrors).map(([k, v]) => `${k}:${v}`);
      if (codes.length) stats.figures.rpcErrors = codes.join(" ");
      // An internal error inside a 200 is the JSON-RPC form of a 5xx; a refusal (-32600 and the like) is fine.
      check(stats, !rpcErrors[-32603], `no JSON-RPC internal error in the answers (${rpcErrors[-32603] ?? 0})`);
    },
  },

  /** Bodies nested thousands deep, and huge arrays, on the store, thread, state and run routes. */
  "deep-json": {
    describe: (p) =>
      `${p.deepDepth}-deep objects and arrays and a ${p.hugeArrayItems.toLocaleString("en")}-item array on 7 routes, x${p.deepRepeats}`,
    async run(ctx, stats, p) {
      const thread = await newThread(ctx, stats);
      await call(ctx, stats, "POST", `/threads/${thread}/runs/wait`, { assistant_id: "echo", input: { text: "state" } });
      const shapes = {
        "deep object": deepObject(p.deepDepth),
        "deep array": deepArray(p.deepDepth),
        "huge array": hugeArray(p.hugeArrayItems),
      };
      const routes = [
        ["PUT", "/store/items", (v) => `{"namespace":["abuse"],"key":"deep","value":{"v":${v}}}`],
        ["POST", "/store/items/search", (v) => `{"namespace_prefix":["abuse"],"filter":{"v":${v}}}`],
        ["POST", "/threads", (v) => `{"metadata":{"v":${v}}}`],
        ["POST", "/threads/search", (v) => `{"metadata":{"v":${v}}}`],
        ["PATCH", `/threads/${thread}`, (v) => `{"metadata":{"v":${v}}}`],
        ["POST", `/threads/${thread}/state`, (v) => `{"values":{"text":${v}}}`],
        [
          "POST",
          `/threads/${thread}/runs`,
          (v) => `{"assistant_id":"echo","input":{"text":${v}},"multitask_strategy":"enqueue"}`,
        ],
      ];
      const deadline = Date.now() + ctx.attackTimeoutMs;
      const answers = new Map();
      let slowest = { ms: 0 };
      for (let r = 0; r < p.deepRepeats && Date.now() < deadline; r++) {
        for (const [method, path, wrap] of routes) {
          for (const [shape, value] of Object.entries(shapes)) {
            const started = performance.now();
            // Half a minute is already far beyond what the issue allows one request to take.
            const res = await call(ctx, stats, method, path, wrap(value), { timeoutMs: 30_000 });
            const ms = performance.now() - started;
            const what = `${method} ${path.replace(thread, "{id}")} ${shape}`;
            answers.set(what, res.status ?? res.error);
            if (ms > slowest.ms) slowest = { ms, what };
          }
        }
      }
      stats.figures.slowestMs = slowest.ms;
      stats.figures.slowest = slowest.what?.replaceAll(" ", "_");
      stats.notes = [...answers].map(([what, status]) => `${what}: ${status}`);
    },
  },

  /** A cron that fires every second (a seconds field): the issue asks for a 422. */
  "cron-seconds": {
    describe: () => "POST /threads/{id}/runs/crons and /runs/crons with schedule `* * * * * *`",
    run: (ctx, stats) =>
      expectRefused(ctx, stats, {
        paths: (thread) => [`/threads/${thread}/runs/crons`, "/runs/crons"],
        body: { assistant_id: "echo", schedule: "* * * * * *", input: { text: "tick" } },
        what: "a seconds field",
        // Accepted, it must not fire all along.
        undo: (created) => (created?.cron_id ? ["DELETE", `/runs/crons/${created.cron_id}`] : undefined),
      }),
  },

  /** A run delayed by a billion seconds: it would hold its thread for 31 years. */
  "after-seconds": {
    describe: () => "POST /threads/{id}/runs and /runs with after_seconds 1e9",
    run: (ctx, stats) =>
      expectRefused(ctx, stats, {
        paths: (thread) => [`/threads/${thread}/runs`, "/runs"],
        body: { assistant_id: "echo", input: { text: "later" }, after_seconds: 1e9 },
        what: "after_seconds 1e9",
        undo: (created) =>
          created?.run_id && created.thread_id
            ? ["POST", `/threads/${created.thread_id}/runs/${created.run_id}/cancel`]
            : undefined,
      }),
  },

  /**
   * Runs piled onto one thread, many at a time (mostly multitask "enqueue", a few "reject"): the
   * issue asks for a per-thread cap answered 429 with Retry-After, and no deadlock (500) between
   * concurrent creations.
   */
  "queued-runs": {
    describe: (p) => `${p.queuedRuns} runs on one thread, ${p.queuedConcurrency} at a time (1 in 20 multitask reject)`,
    async run(ctx, stats, p) {
      const thread = await newThread(ctx, stats);
      let badRetryAfter = 0;
      await withEchoProbe(ctx, stats, () =>
        inParallel(p.queuedRuns, p.queuedConcurrency, Date.now() + ctx.attackTimeoutMs, async (i) => {
          const res = await call(ctx, stats, "POST", `/threads/${thread}/runs`, {
            assistant_id: "echo",
            input: { text: `queued ${i}` },
            multitask_strategy: i % 20 === 19 ? "reject" : "enqueue",
          });
          if (!RETRY_AFTER_OK(res)) badRetryAfter += 1;
        }),
      );
      check(stats, badRetryAfter === 0, `every 429 carries Retry-After (${badRetryAfter} without)`);
      if (p.expectQueueCap)
        check(stats, (stats.statuses[429] ?? 0) > 0, `a per-thread cap answered 429 (${stats.statuses[429] ?? 0} times)`);
      // What is still queued must not run through the attacks after this one.
      await call(ctx, newStats(), "POST", "/runs/cancel", { thread_id: thread, status: "all" }, { timeoutMs: 60_000 });
    },
  },

  /** One run whose node computes without yielding, while unrelated echo runs are timed. */
  "cpu-bound": {
    describe: (p) => `a graph node busy for ${p.busyMs / 1000} s, echo runs timed meanwhile`,
    async run(ctx, stats, p) {
      const baseline = [];
      for (let i = 0; i < 5; i++) {
        const { ms, answered } = await echoRun(ctx, newStats(), `baseline ${i}`);
        if (answered) baseline.push(ms);
      }
      const base = percentile(baseline, 50) ?? 0;
      stats.figures.echoBaselineMs = base;
      let busyDone = false;
      const busy = call(
        ctx,
        stats,
        "POST",
        "/runs/wait",
        { assistant_id: "busy", input: { ms: p.busyMs } },
        {
          timeoutMs: p.busyMs + 120_000,
        },
      ).finally(() => {
        busyDone = true;
      });
      await sleep(Math.min(1_500, p.busyMs / 4)); // the busy run is picked up and spinning
      const startedAt = Date.now();
      await echoProbe(ctx, stats, () => busyDone || Date.now() - startedAt > p.busyMs - 1_000, {
        maxCount: 100,
        deadline: startedAt + p.busyMs + 60_000,
      });
      if (stats.figures.echoMaxMs !== undefined) stats.figures.echoDelayMs = Math.max(0, stats.figures.echoMaxMs - base);
      const res = await busy;
      stats.figures.busyRunStatus = res.status ?? res.error;
    },
  },

  /** Store prefix search treats `\`, `%` and `_` in the prefix as plain characters. */
  "store-like": {
    describe: () => "store prefix search with `\\`, `%` and `_` in the prefix (a correctness probe)",
    async run(ctx, stats) {
      const root = `users${ctx.runTag}`;
      const put = await call(ctx, stats, "PUT", "/store/items", {
        namespace: [root, "alice"],
        key: "profile",
        value: { name: "alice" },
      });
      if (put.status >= 300 || put.status === undefined) {
        check(stats, false, `PUT /store/items answered ${put.status ?? put.error}`);
        return;
      }
      const found = async (prefix) => {
        const res = await call(ctx, stats, "POST", "/store/items/search", { namespace_prefix: prefix, limit: 10 });
        const items = res.json()?.items;
        return Array.isArray(items) ? items.length : undefined;
      };
      check(stats, (await found([root])) === 1, `prefix [${root}] finds the item (the control)`);
      for (const prefix of [[`${root}\\`], [`${root.slice(0, -1)}_`], [`${root.slice(0, -2)}%`], ["%"], ["_"]]) {
        const n = await found(prefix);
        check(stats, n === 0, `prefix ${JSON.stringify(prefix)} finds ${n ?? "an error"} (want 0)`);
      }
    },
  },
};

/** The sizes (scale "full") and a small fraction for CI ("quick"). */
export const PROFILES = {
  full: {
    messageBytes: 9_400_000,
    streams: 45,
    streamConcurrency: 3,
    wideKeys: 600_000,
    wideRequests: 8,
    wideConcurrency: 4,
    assistants: 300,
    mcpBatchSize: 100,
    mcpBatches: 4,
    mcpConcurrency: 2,
    deepDepth: 5_000,
    hugeArrayItems: 1_000_000,
    deepRepeats: 1,
    queuedRuns: 1_200,
    queuedConcurrency: 16,
    expectQueueCap: true,
    busyMs: 20_000,
    attackTimeoutMs: 10 * 60_000,
    watchdogMs: 60 * 60_000,
  },
  quick: {
    messageBytes: 500_000,
    streams: 3,
    streamConcurrency: 2,
    wideKeys: 20_000,
    wideRequests: 4,
    wideConcurrency: 4,
    assistants: 10,
    mcpBatchSize: 50,
    mcpBatches: 2,
    mcpConcurrency: 2,
    deepDepth: 5_000,
    hugeArrayItems: 50_000,
    deepRepeats: 1,
    queuedRuns: 60,
    queuedConcurrency: 8,
    expectQueueCap: false,
    busyMs: 3_000,
    attackTimeoutMs: 60_000,
    watchdogMs: 8 * 60_000,
  },
};
