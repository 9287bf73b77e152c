// Chaos graph: begin -> step x N -> complete. Each step sleeps, then emits a custom event with the
// next sequence number; the last node records that the graph ran to completion. Every node also
// appends a line to a per-run trace file under $CHAOS_TRACE_DIR, so the chaos suite can tell
// what ran, where and how often without trusting LangOpen's own records.
//
// Every node also stamps the state with `writer_epoch` (the fencing epoch of the attempt that ran
// it, read from the run's checkpointer; "" when that is not visible) and a fresh `writer_nonce`,
// so every checkpoint shows which attempt produced it. `token` is set once per execution from START.
import { randomUUID } from "node:crypto";
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const traceDir = process.env.CHAOS_TRACE_DIR;
const runtime = process.env.CHAOS_RUNTIME_NAME ?? `pid-${process.pid}`;
if (traceDir) mkdirSync(traceDir, { recursive: true });

/** Appends one JSON line to the run's trace file: one write with O_APPEND, so lines never interleave. */
function trace(config, record) {
  const runId = config?.configurable?.run_id;
  if (!traceDir || typeof runId !== "string") return;
  const line = JSON.stringify({ ...record, run_id: runId, runtime, pid: process.pid, at: Date.now() });
  appendFileSync(join(traceDir, `${runId}.jsonl`), `${line}\n`);
}

/**
 * The fencing epoch of the attempt running this node: LangGraph hands the node its checkpointer,
 * and LangOpen's remote checkpointer carries the run's fence. Test instrumentation that reads
 * internals on purpose; "" when they are not there.
 */
function fenceEpoch(config) {
  const epoch = config?.configurable?.__pregel_checkpointer?.fence?.epoch;
  return epoch === undefined || epoch === null ? "" : String(epoch);
}

/** What every node adds to its update: who wrote it. */
const stamp = (config) => ({ writer_epoch: fenceEpoch(config), writer_nonce: randomUUID() });

/** Resolves after ms, or rejects at once when the run is aborted. */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error("aborted"));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(new Error("aborted"));
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

const keep = (_a, b) => b;
const State = Annotation.Root({
  steps: Annotation({ reducer: keep, default: () => 8 }),
  step_ms: Annotation({ reducer: keep, default: () => 200 }),
  seq: Annotation({ reducer: keep, default: () => 0 }),
  token: Annotation({ reducer: keep, default: () => "" }),
  completed_by: Annotation({ reducer: keep, default: () => "" }),
  writer_epoch: Annotation({ reducer: keep, default: () => "" }),
  writer_nonce: Annotation({ reducer: keep, default: () => "" }),
});

const next = (state) => (state.seq >= state.steps ? "complete" : "step");

export const graph = new StateGraph(State)
  .addNode("begin", (state, config) => {
    const token = randomUUID();
    const update = { token, ...stamp(config) };
    trace(config, { kind: "begin", token, seq: state.seq, epoch: update.writer_epoch });
    return update;
  })
  .addNode("step", async (state, config) => {
    await sleep(state.step_ms, config.signal);
    const seq = state.seq + 1;
    const nonce = randomUUID();
    const update = { seq, ...stamp(config) };
    config.writer?.({ seq, nonce, token: state.token, epoch: update.writer_epoch });
    trace(config, { kind: "step", token: state.token, seq, nonce, epoch: update.writer_epoch });
    return update;
  })
  .addNode("complete", (state, config) => {
    const update = { completed_by: state.token, ...stamp(config) };
    trace(config, { kind: "complete", token: state.token, seq: state.seq, epoch: update.writer_epoch });
    return update;
  })
  .addEdge(START, "begin")
  .addConditionalEdges("begin", next, ["step", "complete"])
  .addConditionalEdges("step", next, ["step", "complete"])
  .addEdge("complete", END)
  .compile();
