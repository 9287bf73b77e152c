// scripts/agent-compat-smoke: does a deployed server run agents for the official SDK
// (@langchain/langgraph-sdk)? A streamed run, a cancelled background run, and a resumable stream
// dropped after its first event and joined again from that event's id.
import { Client } from "@langchain/langgraph-sdk";
import { createReport, describeError, parseCommandLine, run, usageError } from "./lib.mjs";

const NAME = "agent-compat-smoke";
/** The most events one stream may yield before the check gives up on it. */
const MAX_EVENTS = 10_000;
/** Polls of a run's status: at most this many, this far apart. */
const POLLS = 100;
const POLL_MS = 100;

const ctx = parseCommandLine(NAME, {
  summary: "Checks a streamed run, a cancel and a resumed stream with the official SDK.",
  options: { graph: { type: "string" }, input: { type: "string", default: "{}" } },
  usage:
    "[--graph ID] [--input JSON]\n  --graph ID         the graph (or assistant) to run (default: the first assistant of assistants.search)\n  --input JSON       the runs' input (default {})",
});
let input;
try {
  input = JSON.parse(ctx.values.input);
} catch {
  usageError(NAME, `--input ${ctx.values.input} is not JSON`);
}
const report = createReport(NAME, ctx.timeoutMs);
const client = new Client({
  apiUrl: ctx.url,
  // null, not undefined: without a key the SDK would otherwise send one from LANGSMITH_API_KEY and the like.
  apiKey: ctx.apiKey ?? null,
  timeoutMs: 15_000,
  // A smoke check reports what happened; the SDK's retries would hide a flaky answer and stretch a refusal.
  callerOptions: { maxRetries: 0 },
});
const threads = [];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** A signal for a stream: aborts at the script's bound. */
const streamSignal = () => report.signal(report.remainingMs());

async function newThread() {
  const thread = await client.threads.create();
  threads.push(thread.thread_id);
  return thread.thread_id;
}

/** The run's status once it is neither pending nor running (polled, bounded), or its last status. */
async function settledStatus(threadId, runId) {
  let status;
  for (let i = 0; i < POLLS && report.remainingMs() > 0; i++) {
    status = (await client.runs.get(threadId, runId)).status;
    if (status !== "pending" && status !== "running") return status;
    await sleep(POLL_MS);
  }
  return status;
}

/** Every event of a stream, bounded in count; `stop(chunk)` true ends the reading early. */
async function collect(stream, stop = () => false) {
  const chunks = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
    if (stop(chunk) || chunks.length >= MAX_EVENTS) break;
  }
  return chunks;
}

const countOf = (chunks, event) => chunks.filter((c) => c.event === event).length;
const errorOf = (chunks) => chunks.find((c) => c.event === "error");

async function pickAssistant() {
  const graph = ctx.values.graph;
  if (graph === undefined) {
    const [first] = await client.assistants.search({ limit: 1 });
    if (!first) throw new Error("assistants.search found no assistant: give --graph ID");
    return {
      id: first.assistant_id,
      label: `assistant ${first.assistant_id} (graph ${first.graph_id}), the first of assistants.search`,
    };
  }
  const [byGraph] = await client.assistants.search({ graphId: graph, limit: 1 });
  if (byGraph) return { id: byGraph.assistant_id, label: `assistant ${byGraph.assistant_id} of graph ${graph}` };
  try {
    const assistant = await client.assistants.get(graph);
    return { id: assistant.assistant_id, label: `assistant ${assistant.assistant_id} (graph ${assistant.graph_id})` };
  } catch (err) {
    throw new Error(`no graph or assistant ${graph}: ${describeError(err)}`);
  }
}

/** (a) A streamed run: values and updates, no error event, at least one values event. */
async function streamedRun(assistantId) {
  const threadId = await newThread();
  const started = Date.now();
  const chunks = await collect(
    client.runs.stream(threadId, assistantId, { input, streamMode: ["values", "updates"], signal: streamSignal() }),
  );
  const error = errorOf(chunks);
  if (error) return report.fail("stream", `the stream ended with an error event: ${JSON.stringify(error.data).slice(0, 200)}`);
  const values = countOf(chunks, "values");
  if (values === 0)
    return report.fail(
      "stream",
      `no values event among ${chunks.length} events (${[...new Set(chunks.map((c) => c.event))].join(", ")})`,
    );
  report.ok(
    "stream",
    `runs.stream: ${chunks.length} events (${values} values, ${countOf(chunks, "updates")} updates) in ${Date.now() - started} ms`,
  );
}

/** (b) A background run cancelled (waiting for it to stop): it ends interrupted. */
async function cancelledRun(assistantId) {
  const threadId = await newThread();
  const created = await client.runs.create(threadId, assistantId, { input });
  // Let it start, so the cancel stops a running run rather than a queued one (bounded; a queued one will do).
  let status = created.status;
  for (let i = 0; i < POLLS && status === "pending" && report.remainingMs() > 0; i++) {
    await sleep(POLL_MS / 2);
    status = (await client.runs.get(threadId, created.run_id)).status;
  }
  const when = status;
  let refused;
  try {
    await client.runs.cancel(threadId, created.run_id, true);
  } catch (err) {
    // A run that already ended may not be cancelled any more: judged by its status below.
    refused = describeError(err);
  }
  const after = await settledStatus(threadId, created.run_id);
  if (after === "interrupted" && !refused) return report.ok("cancel", `runs.cancel(wait) of a ${when} run: status interrupted`);
  if (after === "success" || after === "error") {
    return report.ok(
      "cancel",
      `the run ended (${after}) before the cancel reached it${refused ? `; the cancel answered ${refused}` : ""}`,
    );
  }
  report.fail(
    "cancel",
    `after runs.cancel(wait) of a ${when} run the status is ${after}${refused ? `; the cancel failed: ${refused}` : ""}`,
  );
}

/**
 * (c) A resumable stream left after its first event with an id (the connection dropped, the run
 * continuing), then joined from that id: the rest arrives, nothing twice, and the run succeeds.
 */
async function resumedStream(assistantId) {
  const threadId = await newThread();
  const drop = new AbortController();
  let runId;
  let first;
  const before = [];
  try {
    for await (const chunk of client.runs.stream(threadId, assistantId, {
      input,
      streamMode: ["values", "updates"],
      streamResumable: true,
      onDisconnect: "continue",
      signal: AbortSignal.any([drop.signal, streamSignal()]),
      onRunCreated: (meta) => {
        runId ??= meta.run_id;
      },
    })) {
      before.push(chunk);
      if (chunk.event === "metadata") runId ??= chunk.data?.run_id;
      if (chunk.id || before.length >= 50) {
        first = chunk.id ? chunk : undefined;
        break;
      }
    }
  } finally {
    // The connection drops here; onDisconnect "continue" keeps the run going.
    drop.abort();
  }
  if (!runId) return report.fail("resume", "the stream named no run (no Content-Location, no metadata event)");
  if (!first)
    return report.fail("resume", `none of the first ${before.length} events carried an id: the stream cannot be resumed`);
  const rest = await collect(client.runs.joinStream(threadId, runId, { lastEventId: first.id, signal: streamSignal() }));
  const error = errorOf(rest);
  if (error) return report.fail("resume", `joinStream ended with an error event: ${JSON.stringify(error.data).slice(0, 200)}`);
  const seenIds = new Set(before.map((c) => c.id).filter(Boolean));
  const repeated = rest.filter((c) => c.id && seenIds.has(c.id));
  if (repeated.length > 0)
    return report.fail("resume", `joinStream from id ${first.id} repeated ${repeated.length} event(s) already read`);
  if (rest.length === 0) return report.fail("resume", `joinStream from id ${first.id} received nothing after the dropped event`);
  const status = await settledStatus(threadId, runId);
  if (status !== "success") return report.fail("resume", `the run's status after the resumed stream is ${status}, not success`);
  report.ok(
    "resume",
    `dropped after the ${first.event} event (id ${first.id}); joinStream from it: ${rest.length} more events (${countOf(rest, "values")} values), run success`,
  );
}

/** One check; an exception fails it with its message. */
async function attempt(name, fn) {
  try {
    await fn();
  } catch (err) {
    report.fail(name, describeError(err));
  }
}

run(report, async () => {
  let assistant;
  try {
    assistant = await pickAssistant();
    report.ok("assistant", assistant.label);
  } catch (err) {
    report.fail("assistant", `${ctx.url}: ${describeError(err)}`);
    return;
  }
  await attempt("stream", () => streamedRun(assistant.id));
  await attempt("cancel", () => cancelledRun(assistant.id));
  await attempt("resume", () => resumedStream(assistant.id));
  // Best effort: leave no smoke threads behind.
  for (const threadId of threads) await client.threads.delete(threadId, { signal: report.signal(5_000) }).catch(() => {});
});
