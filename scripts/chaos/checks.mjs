// The checks made after each fault, on three independent records:
// - what the clients received (every SSE event, with the connection it came on);
// - what the graph itself wrote to its trace files (begin, each step, completion; which runtime);
// - what Postgres says: the runs, plus two audit tables filled by test-only triggers (every change
//   of a run's status/epoch/owner, and every checkpoint write with the run's epoch and status as
//   the writing transaction saw them).
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const FINAL = new Set(["success", "error", "timeout", "interrupted"]);
const GAVE_UP = "RunLeaseExpired";

/** Orders Redis stream ids "ms-seq". */
export function compareEventIds(a, b) {
  const [am = 0, as = 0] = a.split("-").map(Number);
  const [bm = 0, bs = 0] = b.split("-").map(Number);
  return am !== bm ? am - bm : as - bs;
}

/** The graph's own trace of a run: one JSON object per line (begin, step, complete). */
export function readTrace(traceDir, runId) {
  let text = "";
  try {
    text = readFileSync(join(traceDir, `${runId}.jsonl`), "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Runs of the given threads, with their audit rows, checkpoint writes and traces. */
export async function loadRuns(query, threadIds, traceDir) {
  const runs = (
    await query(
      `SELECT run_id, thread_id, status, error, result, attempt, epoch, lease_owner, created_at, started_at, ended_at
       FROM runs WHERE thread_id = ANY($1::uuid[]) ORDER BY created_at`,
      [threadIds],
    )
  ).rows;
  const ids = runs.map((r) => r.run_id);
  const audit = (await query("SELECT * FROM chaos_run_audit WHERE run_id = ANY($1::uuid[]) ORDER BY id", [ids])).rows;
  const writes = (
    await query(
      `SELECT id, op, checkpoint_id, parent_checkpoint_id, run_id, type, convert_from(checkpoint, 'UTF8') AS checkpoint,
              metadata, run_epoch, run_status, run_owner, at
       FROM chaos_checkpoint_audit WHERE run_id = ANY($1::uuid[]) ORDER BY id`,
      [ids],
    )
  ).rows;
  const byRun = (rows) => {
    const map = new Map();
    for (const row of rows) map.set(row.run_id, [...(map.get(row.run_id) ?? []), row]);
    return map;
  };
  const auditByRun = byRun(audit);
  const writesByRun = byRun(writes);
  return runs.map((run) => ({
    run,
    audit: auditByRun.get(run.run_id) ?? [],
    writes: writesByRun.get(run.run_id) ?? [],
    trace: readTrace(traceDir, run.run_id),
  }));
}

/** What the graph's trace says: executions (tokens), steps executed, completions. */
export function analyseTrace(trace) {
  const tokens = new Map();
  for (const line of trace) {
    if (line.kind === "begin")
      tokens.set(line.token, { token: line.token, runtime: line.runtime, pid: line.pid, at: line.at, steps: [] });
  }
  const executedBy = new Map();
  const completions = [];
  for (const line of trace) {
    if (line.kind === "step") {
      tokens.get(line.token)?.steps.push(line.seq);
      executedBy.set(line.seq, [...(executedBy.get(line.seq) ?? []), line.token]);
    } else if (line.kind === "complete") {
      completions.push(line);
    }
  }
  const reexecuted = [...executedBy.entries()].filter(([, by]) => by.length > 1).map(([seq]) => seq);
  return { tokens, completions, reexecuted };
}

/**
 * What one client saw of a run's stream: ids present, unique and increasing; custom events 1..N
 * each once and in order; one `end` whose status is the run's.
 */
export function analyseStream(stream, options) {
  const { steps, status } = options;
  const out = {
    events: stream.events.length,
    connections: stream.connections.length,
    noId: [],
    duplicateIds: [],
    idsOutOfOrder: [],
    redelivered: [],
    reemitted: [],
    seqOutOfOrder: [],
    staleAttemptEvents: [],
    missing: [],
    ends: 0,
    endStatus: undefined,
    metadata: 0,
    errors: [],
    seqs: [],
  };
  const seenIds = new Set();
  let previousId;
  const nonces = new Set();
  const seqNonces = new Map();
  let previousSeq = 0;
  let newestEpoch = -1;
  for (const e of stream.events) {
    if (!e.id) out.noId.push(e.event);
    else {
      if (seenIds.has(e.id)) out.duplicateIds.push(e.id);
      else if (previousId !== undefined && compareEventIds(e.id, previousId) < 0)
        out.idsOutOfOrder.push(`${e.id} after ${previousId}`);
      seenIds.add(e.id);
      previousId = e.id;
    }
    if (e.event === "metadata") out.metadata++;
    if (e.event === "error") out.errors.push(`${e.id || "(no id)"} ${e.data}`.slice(0, 200));
    if (e.event === "end") {
      out.ends++;
      out.endStatus = parseJson(e.data)?.status;
    }
    if (e.event !== "custom") continue;
    const data = parseJson(e.data) ?? {};
    out.seqs.push(data.seq);
    if (nonces.has(data.nonce)) {
      out.redelivered.push(data.seq);
      continue;
    }
    nonces.add(data.nonce);
    if (seqNonces.has(data.seq)) out.reemitted.push(data.seq);
    seqNonces.set(data.seq, data.nonce);
    if (data.seq < previousSeq) out.seqOutOfOrder.push(`${data.seq} after ${previousSeq}`);
    previousSeq = data.seq;
    if (data.epoch !== undefined && data.epoch !== "") {
      const epoch = Number(data.epoch);
      if (epoch < newestEpoch) out.staleAttemptEvents.push(`${data.seq}(e${epoch} after e${newestEpoch})`);
      newestEpoch = Math.max(newestEpoch, epoch);
    }
  }
  const received = [...seqNonces.keys()];
  const upTo = status === "success" ? steps : Math.max(0, ...received);
  for (let s = 1; s <= upTo; s++) if (!seqNonces.has(s)) out.missing.push(s);
  return out;
}

/**
 * Every checkpoint write, judged against the attempt that produced it. Each node of the chaos graph
 * stamps the state with the fencing epoch of its attempt (writer_epoch) and a fresh writer_nonce,
 * so a checkpoint whose nonce differs from its parent's was produced by a node of that attempt.
 * The audit trigger saw the run's epoch and status inside the writing transaction. A write is
 * stale when the run was not running, or when its producer's epoch is not the run's epoch.
 * Checkpoints that no node produced (the `input` one, the one after START) carry the previous
 * stamp and cannot be attributed this way; they are counted, not judged.
 */
export function analyseCheckpoints(writes) {
  const byId = new Map();
  for (const w of writes) byId.set(w.checkpoint_id, w);
  const stateOf = (w) => (w ? (parseJson(w.checkpoint)?.channel_values ?? {}) : {});
  const notRunning = [];
  const staleEpoch = [];
  let attributed = 0;
  let unattributed = 0;
  for (const w of writes) {
    const state = stateOf(w);
    const parent = stateOf(w.parent_checkpoint_id ? byId.get(w.parent_checkpoint_id) : undefined);
    if (w.run_status !== "running") notRunning.push({ ...w, seq: state.seq });
    if (state.writer_nonce && state.writer_nonce !== parent.writer_nonce && state.writer_epoch) {
      attributed++;
      if (String(state.writer_epoch) !== String(w.run_epoch))
        staleEpoch.push({ ...w, seq: state.seq, writerEpoch: state.writer_epoch });
    } else unattributed++;
  }
  return { writes: writes.length, attributed, unattributed, notRunning, staleEpoch };
}

/**
 * Steps an attempt executed after the run's epoch had moved past it (it was reaped or another
 * attempt claimed the run): work done by a zombie until a fenced write stopped it.
 */
export function zombieSteps(trace, audit) {
  const movedAt = (epoch) => audit.find((a) => Number(a.epoch) > Number(epoch))?.at;
  return trace
    .filter((l) => (l.kind === "step" || l.kind === "complete") && l.epoch !== undefined && l.epoch !== "")
    .map((l) => ({ ...l, movedAt: movedAt(l.epoch) }))
    .filter((l) => l.movedAt !== undefined && new Date(l.movedAt).getTime() < l.at);
}

/** Lines of the services' logs that mention the run, for evidence. */
export function logMentions(services, runId, limit = 12) {
  const out = [];
  for (const s of services) {
    for (const line of s.allLogLines()) {
      if (JSON.stringify(line).includes(runId)) {
        out.push(`${s.name}: ${compactLog(line)}`);
        if (out.length >= limit) return out;
      }
    }
  }
  return out;
}

export function compactLog(line) {
  const { level, time, msg, err, service: _s, version: _v, pid: _p, hostname: _h, ...rest } = line;
  const error = err ? ` err=${JSON.stringify(err.message ?? err).slice(0, 240)}` : "";
  const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest).slice(0, 240)}` : "";
  return `${time ?? ""} [${level ?? "?"}] ${msg}${error}${extra}`;
}

/**
 * Checks every run of a phase. Returns the table row's counts and one finding per problem,
 * each with the evidence to act on.
 */
export function analysePhase({ loaded, clientRuns, steps, logs = new Map(), replays = new Map() }) {
  const clientById = new Map(clientRuns.filter((r) => r.runId).map((r) => [r.runId, r]));
  const counts = {
    runs: loaded.length,
    events: 0,
    lost: 0,
    duplicated: 0,
    gaveUp: 0,
    disorder: 0,
    protocol: 0,
    stale: 0,
    resumed: 0,
    reexecutedSteps: 0,
    zombieSteps: 0,
    checkpointWrites: 0,
    checkpointsAttributed: 0,
    repeatedMetadata: 0,
    unknownToClient: 0,
    spuriousErrors: 0,
    replayDiffers: 0,
  };
  const findings = [];
  const find = (kind, run, detail, evidence = {}) =>
    findings.push({ kind, run_id: run.run_id, thread_id: run.thread_id, detail, evidence });
  const dbIds = new Set(loaded.map((l) => l.run.run_id));
  for (const client of clientRuns) {
    if (client.runId && !dbIds.has(client.runId)) {
      counts.lost++;
      find(
        "lost:run-missing",
        { run_id: client.runId, thread_id: client.threadId },
        "the create answered with this run, Postgres has no such run",
      );
    }
  }

  for (const { run, audit, writes, trace } of loaded) {
    const client = clientById.get(run.run_id);
    const t = analyseTrace(trace);
    const timeline = audit.map(
      (a) => `${new Date(a.at).toISOString().slice(11, 23)} ${a.status} e${a.epoch} a${a.attempt} ${a.lease_owner ?? "-"}`,
    );
    const executions = new Map();
    for (const l of trace) {
      if (l.kind !== "step" && l.kind !== "complete") continue;
      const key = `e${l.epoch}@${l.runtime}`;
      executions.set(key, [...(executions.get(key) ?? []), l.kind === "step" ? l.seq : "done"]);
    }
    const tokens = [...executions.entries()].map(([k, v]) => `${k}: ${v.join(",")}`);
    const cpLines = writes.map((w) => {
      const st = parseJson(w.checkpoint)?.channel_values ?? {};
      return `${new Date(w.at).toISOString().slice(11, 23)} ${w.metadata?.source}/${w.metadata?.step} seq=${st.seq} by e${st.writer_epoch} while run e${w.run_epoch} ${w.run_status}`;
    });
    const base = {
      db: { status: run.status, error: run.error, attempt: run.attempt, epoch: run.epoch },
      timeline,
      executions: tokens,
      completions: t.completions.length,
      checkpoints: [`${writes.length} written; the last ones:`, ...cpLines.slice(-3)],
    };
    if (!client) counts.unknownToClient++;
    counts.reexecutedSteps += t.reexecuted.length;

    // Final state.
    if (!FINAL.has(run.status)) {
      counts.lost++;
      find("lost:not-final", run, `run is still ${run.status} after the drain deadline`, base);
    } else if (run.status === "error") {
      if (run.error?.error === GAVE_UP && run.error?.message) counts.gaveUp++;
      else {
        counts.lost++;
        find("lost:errored", run, `run ended in error without exhausting its attempts: ${JSON.stringify(run.error)}`, base);
      }
    } else if (run.status !== "success") {
      counts.lost++;
      find("lost:wrong-status", run, `run ended ${run.status}; nothing cancelled it`, base);
    } else if (run.result?.seq !== steps || !run.result?.completed_by) {
      counts.lost++;
      find("lost:wrong-result", run, `success with values ${JSON.stringify(run.result)}`, base);
    } else if (t.completions.length === 0) {
      counts.lost++;
      find("lost:no-completion", run, "success, but the graph never ran its final node", base);
    }
    // The final node is a step like any other: run again when its checkpoint never became durable
    // (the attempt lost its worker first), a duplicate only once a completion was checkpointed.
    const durableAt = writes
      .filter((w) => parseJson(w.checkpoint)?.channel_values?.completed_by)
      .reduce((first, w) => Math.min(first, new Date(w.at).getTime()), Number.POSITIVE_INFINITY);
    const [, ...again] = t.completions;
    const redone = again.filter((c) => new Date(c.at).getTime() < durableAt).length;
    counts.reexecutedSteps += redone;
    if (again.length > redone) {
      counts.duplicated += again.length - redone;
      find("duplicated:completed-twice", run, `the graph ran to completion ${t.completions.length} times`, {
        ...base,
        completions: t.completions.map(
          (c) => `${new Date(c.at).toISOString().slice(11, 23)} e${c.epoch}@${c.runtime} token ${c.token.slice(0, 8)}`,
        ),
      });
    }

    // Checkpoints.
    const cp = analyseCheckpoints(writes);
    counts.checkpointWrites += cp.writes;
    counts.checkpointsAttributed += cp.attributed;
    for (const w of cp.notRunning) {
      counts.stale++;
      find(
        "stale-checkpoint:run-not-running",
        run,
        `checkpoint ${w.checkpoint_id} (seq ${w.seq}) written while the run was ${w.run_status} at epoch ${w.run_epoch}`,
        base,
      );
    }
    for (const w of cp.staleEpoch) {
      counts.stale++;
      find(
        "stale-checkpoint:epoch",
        run,
        `checkpoint ${w.checkpoint_id} (seq ${w.seq}) produced by the attempt of epoch ${w.writerEpoch} was accepted while the run was at epoch ${w.run_epoch}`,
        base,
      );
    }
    const zombies = zombieSteps(trace, audit);
    counts.zombieSteps += zombies.length;
    if (zombies.length > 0) {
      const first = zombies[0];
      find(
        "zombie:ran-after-takeover",
        run,
        `the attempt of epoch ${first.epoch} kept executing after the run's epoch moved past it at ` +
          `${new Date(first.movedAt).toISOString().slice(11, 23)}: ${zombies
            .map((z) => `${z.kind === "step" ? `step ${z.seq}` : "final node"} at ${new Date(z.at).toISOString().slice(11, 23)}`)
            .join(", ")}`,
        base,
      );
    }

    // The stream, as the client saw it.
    const stream = client?.stream;
    if (!client) continue;
    if (!stream) continue;
    const s = analyseStream(stream, { steps, status: run.status });
    counts.events += s.events;
    if (s.connections > 1) counts.resumed++;
    if (s.metadata > 1) counts.repeatedMetadata++;
    const sbase = {
      ...base,
      seqs: s.seqs.join(","),
      connections: stream.connections.map(
        (c) => `#${c.n} ${c.gateway.replace("http://127.0.0.1:", ":")} from ${c.lastEventId}: ${c.events} ev, ${c.outcome}`,
      ),
    };
    if (!stream.ended) {
      counts.lost++;
      find(
        "lost:stream-never-ended",
        run,
        `no \`end\` after ${stream.connections.length} connection(s) in ${stream.tookMs} ms`,
        sbase,
      );
    }
    if (s.missing.length > 0 && run.status !== "error") {
      counts.lost += s.missing.length;
      find("lost:events", run, `custom events missing from the stream: seq ${s.missing.join(",")}`, sbase);
    } else if (s.missing.length > 0) {
      // An errored run may stop anywhere, but what it did send must have no gaps.
      counts.lost += s.missing.length;
      find("lost:events", run, `gaps in the custom events of an errored run: seq ${s.missing.join(",")}`, sbase);
    }
    if (s.duplicateIds.length > 0) {
      counts.duplicated += s.duplicateIds.length;
      find("duplicated:same-id", run, `events with an id already received: ${s.duplicateIds.join(",")}`, sbase);
    }
    if (s.redelivered.length > 0) {
      counts.duplicated += s.redelivered.length;
      find(
        "duplicated:redelivered",
        run,
        `the same custom event (same nonce) delivered again: seq ${s.redelivered.join(",")}`,
        sbase,
      );
    }
    if (s.reemitted.length > 0) {
      counts.duplicated += s.reemitted.length;
      find(
        "duplicated:step-re-emitted",
        run,
        `a step ran again and its event reached the stream twice: seq ${s.reemitted.join(",")}`,
        sbase,
      );
    }
    if (s.ends > 1) {
      counts.duplicated += s.ends - 1;
      find("duplicated:end", run, `${s.ends} \`end\` events`, sbase);
    }
    if (s.idsOutOfOrder.length > 0 || s.seqOutOfOrder.length > 0) {
      counts.disorder += s.idsOutOfOrder.length + s.seqOutOfOrder.length;
      find("order", run, `out of order: ids [${s.idsOutOfOrder.join("; ")}] seqs [${s.seqOutOfOrder.join("; ")}]`, sbase);
    }
    if (s.staleAttemptEvents.length > 0) {
      counts.disorder += s.staleAttemptEvents.length;
      find(
        "order:superseded-attempt-events",
        run,
        `events of an older execution arrived after a newer execution's: seq ${s.staleAttemptEvents.join(",")}`,
        sbase,
      );
    }
    if (s.noId.length > 0) {
      counts.protocol += s.noId.length;
      find("protocol:event-without-id", run, `events without an SSE id: ${s.noId.join(",")}`, sbase);
    }
    if (s.errors.length > 0 && run.status === "success") {
      counts.protocol += s.errors.length;
      counts.spuriousErrors += s.errors.length;
      find(
        "protocol:spurious-error-event",
        run,
        `\`error\` event(s) in the stream of a run that succeeded: ${s.errors.join(" | ")}`,
        sbase,
      );
    }
    // The run's event log as Redis holds it: nothing may follow its `end`.
    const log = logs.get(run.run_id);
    if (log) {
      const end = log.findIndex((e) => e.event === "end");
      const after = end >= 0 ? log.slice(end + 1) : [];
      if (after.length > 0) {
        counts.disorder += after.length;
        find(
          "order:appended-after-end",
          run,
          `${after.length} event(s) appended to the run's log after its \`end\`: ${after
            .map((e) => `${e.event}${e.event === "custom" ? `(seq ${parseJson(e.data)?.seq} e${parseJson(e.data)?.epoch})` : ""}`)
            .join(", ")}`,
          { ...sbase, log: log.map((e) => `${e.id} ${e.event} ${e.data.slice(0, 100)}`) },
        );
      }
    }
    // A replay from the start after the end must give what the live stream gave.
    const replay = replays.get(run.run_id);
    if (replay) {
      const live = stream.events.filter((e) => e.id).map((e) => e.id);
      const again = replay.events.filter((e) => e.id).map((e) => e.id);
      const liveSet = new Set(live);
      const againSet = new Set(again);
      const missing = live.filter((id) => !againSet.has(id));
      const extra = again.filter((id) => !liveSet.has(id));
      if (missing.length > 0 || extra.length > 0 || !replay.ended) {
        counts.replayDiffers++;
        find(
          "replay:differs",
          run,
          `a replay from -1 after the run ended gave ${again.length} event(s)${replay.ended ? "" : " and no end"}: ${missing.length} of the live stream's missing, ${extra.length} not in it`,
          { ...sbase, replay: replay.connections.map((c) => `#${c.n} ${c.outcome}`) },
        );
      }
    }
    if (stream.ended && s.endStatus !== run.status) {
      counts.lost++;
      find("lost:end-status", run, `the stream's end says ${s.endStatus}, Postgres says ${run.status}`, sbase);
    }
  }
  return { counts, findings };
}
