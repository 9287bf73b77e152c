// The steady load: a few clients, each creating runs of the chaos graph on fresh threads through
// the gateways in turn (with the official SDK) and reading each run's resumable stream to its end
// with its own SSE reader, reconnecting with Last-Event-ID on any drop (to the other gateway).
// Every event received is recorded with the connection it came on. Every loop is bounded.
import { Client } from "@langchain/langgraph-sdk";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The events of an SSE body, as {id, event, data} (id undefined when the frame had none). */
async function* sseEvents(body) {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (;;) {
      const match = /\r?\n\r?\n/.exec(buffer);
      if (!match) break;
      const frame = buffer.slice(0, match.index);
      buffer = buffer.slice(match.index + match[0].length);
      let id;
      let event = "message";
      const data = [];
      let fields = 0;
      for (const line of frame.split(/\r?\n/)) {
        if (line === "" || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        fields++;
        if (name === "id") id = value;
        else if (name === "event") event = value;
        else if (name === "data") data.push(value);
      }
      if (fields > 0) yield { id, event, data: data.join("\n") };
    }
  }
}

function describe(err) {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.code ?? ""} ${err.cause.message}` : "";
  return `${err.name}: ${err.message}${cause}`.slice(0, 300);
}

/**
 * Reads a run's stream to its `end`, reconnecting (alternating gateways) with the last id seen.
 * Bounded by maxConnects connections and deadlineMs in all; a connection idle for idleMs (the
 * gateways send a heartbeat every second) is dropped and resumed.
 */
export async function followStream(options) {
  const { gatewayUrls, first, threadId, runId, deadlineMs, maxConnects, idleMs, dropAfter } = options;
  const begun = Date.now();
  const events = [];
  const connections = [];
  let last = "-1";
  let ended = false;
  let dropped = false;
  for (let n = 0; n < maxConnects && !ended && Date.now() - begun < deadlineMs; n++) {
    const gateway = gatewayUrls[(first + n) % gatewayUrls.length];
    const conn = { n, gateway, lastEventId: last, at: Date.now(), status: 0, events: 0, outcome: "" };
    connections.push(conn);
    const abort = new AbortController();
    const overall = setTimeout(() => abort.abort(new Error("stream deadline")), Math.max(1, deadlineMs - (Date.now() - begun)));
    let idle = setTimeout(() => abort.abort(new Error(`idle ${idleMs} ms`)), idleMs);
    try {
      const res = await fetch(`${gateway}/threads/${threadId}/runs/${runId}/stream`, {
        headers: { accept: "text/event-stream", "last-event-id": last },
        signal: abort.signal,
      });
      conn.status = res.status;
      if (res.status !== 200) {
        conn.outcome = `HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`;
      } else {
        // Refresh the idle timer on every byte, heartbeats included.
        const body = res.body;
        const tap = new TransformStream({
          transform(chunk, controller) {
            idle?.refresh();
            controller.enqueue(chunk);
          },
        });
        for await (const e of sseEvents(body.pipeThrough(tap))) {
          conn.events++;
          events.push({ ...e, conn: n, gateway, at: Date.now() });
          if (e.id) last = e.id;
          if (e.event === "end") {
            ended = true;
            break;
          }
          // A client that goes away mid-stream on purpose, to resume later (once per stream).
          if (dropAfter !== undefined && !dropped && events.length >= dropAfter) {
            dropped = true;
            conn.outcome = "dropped by the client on purpose";
            abort.abort(new Error("voluntary drop"));
            break;
          }
        }
        if (!ended && !conn.outcome) conn.outcome = "closed without end";
      }
    } catch (err) {
      conn.outcome = conn.outcome || `failed: ${describe(abort.signal.reason ?? err)}`;
    } finally {
      clearTimeout(overall);
      clearTimeout(idle);
      idle = undefined;
      abort.abort();
    }
    if (ended) conn.outcome = "end";
    else if (conn.outcome !== "dropped by the client on purpose") await sleep(Math.min(100 * (n + 1), 1_000));
  }
  return { events, connections, ended, tookMs: Date.now() - begun };
}

/**
 * Starts `clients` load clients. Each creates runs until stopCreating() (or maxRunsPerClient),
 * one at a time, and follows every stream to its end. Returns {runs, createFailures, stopCreating,
 * done, openStreams()}.
 */
export function startLoad(options) {
  const { gatewayUrls, clients, steps, stepMs, longStepMs, durability, maxRunsPerClient, streamDeadlineMs, dropChance, random } =
    options;
  const runs = [];
  const createFailures = [];
  let creating = true;
  let open = 0;
  const sdk = gatewayUrls.map((apiUrl) => new Client({ apiUrl, timeoutMs: 15_000, callerOptions: { maxRetries: 0 } }));

  async function client(index) {
    for (let i = 0; creating && i < maxRunsPerClient; i++) {
      const g = (index + i) % gatewayUrls.length;
      // Every third run is long, so that a worker stopped past its lease leaves its graph still running.
      const runStepMs = (index + i) % 3 === 2 ? longStepMs : stepMs;
      const record = {
        client: index,
        gateway: gatewayUrls[g],
        threadId: undefined,
        runId: undefined,
        stepMs: runStepMs,
        createdAt: Date.now(),
      };
      try {
        const thread = await sdk[g].threads.create({ metadata: { chaos: true } });
        record.threadId = thread.thread_id;
        const run = await sdk[g].runs.create(thread.thread_id, "chaos", {
          input: { steps, step_ms: runStepMs },
          streamResumable: true,
          streamMode: ["custom", "updates"],
          config: { recursion_limit: steps + 10 },
          ...(durability ? { durability } : {}),
        });
        record.runId = run.run_id;
      } catch (err) {
        createFailures.push({ ...record, error: describe(err), at: Date.now() });
        // Threads created without their run are still checked: the run may exist anyway.
        if (record.threadId) runs.push({ ...record, createError: describe(err) });
        await sleep(500);
        continue;
      }
      runs.push(record);
      open++;
      try {
        const dropAfter = random() < dropChance ? 2 + Math.floor(random() * steps) : undefined;
        record.stream = await followStream({
          gatewayUrls,
          first: g,
          threadId: record.threadId,
          runId: record.runId,
          deadlineMs: streamDeadlineMs,
          maxConnects: 40,
          idleMs: 8_000,
          dropAfter,
        });
      } finally {
        open--;
      }
    }
  }

  const done = Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
  return {
    runs,
    createFailures,
    stopCreating() {
      creating = false;
    },
    done,
    openStreams: () => open,
  };
}
