// Prints a benchmark report (the JSON that run.mjs writes) as Markdown tables.
import { METRICS, SCENARIOS } from "./scenarios.mjs";

const LANGOPEN = ["langopen-embedded", "langopen-split"];
const SHORT = { "langopen-embedded": "embedded", "langopen-split": "split" };

export function fmt(value) {
  if (value === undefined || value === null || !Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** > 1 means LangOpen is better: throughput LangOpen/reference, latency and cost reference/LangOpen. */
export function ratio(langopen, reference, better) {
  if (!Number.isFinite(langopen) || !Number.isFinite(reference) || langopen <= 0 || reference <= 0) return Number.NaN;
  return better === "higher" ? langopen / reference : reference / langopen;
}

const row = (cells) => `| ${cells.join(" | ")} |`;
const MB = (kb) => kb / 1024;

function isInfra(role) {
  return role === "postgres" || role === "redis";
}

/** Memory by role: RSS summed for Node processes, PSS summed for Postgres and Redis (shared buffers). */
function byRole(sample) {
  const out = new Map();
  for (const p of sample ?? []) {
    const entry = out.get(p.role) ?? { count: 0, kb: 0 };
    entry.count++;
    entry.kb += isInfra(p.role) ? p.pssKb : p.rssKb;
    out.set(p.role, entry);
  }
  return out;
}

function nodeTotalKb(sample) {
  return (sample ?? []).filter((p) => !isInfra(p.role)).reduce((sum, p) => sum + p.rssKb, 0);
}

export function memoryVerdict(memory) {
  const last = memory.afterLoad.at(-1);
  const afterLoad = nodeTotalKb(last);
  const settled = nodeTotalKb(memory.settled);
  const growthKb = settled - afterLoad;
  return { afterLoadMB: MB(afterLoad), settledMB: MB(settled), growthMB: MB(growthKb), met: growthKb <= afterLoad * 0.02 };
}

export function targetChecks(report) {
  const ref = report.targets.reference?.medians ?? {};
  const checks = [];
  for (const name of LANGOPEN) {
    const t = report.targets[name];
    if (!t) continue;
    const m = t.medians;
    const r = (key, better) => ratio(m[key], ref[key], better);
    const mem = memoryVerdict(t.memory);
    checks.push({
      target: name,
      items: [
        {
          what: "background runs/s >= 10x reference",
          value: `${fmt(r("bg_runs_per_s", "higher"))}x`,
          met: r("bg_runs_per_s", "higher") >= 10,
        },
        { what: "stateless wait p50 < 20 ms", value: `${fmt(m.wait_p50_ms)} ms`, met: m.wait_p50_ms < 20 },
        {
          what: "stateless wait throughput at 32 clients >= 10x",
          value: `${fmt(r("wait_rps_32", "higher"))}x`,
          met: r("wait_rps_32", "higher") >= 10,
        },
        {
          what: "first streamed event p50 < 10 ms",
          value: `${fmt(m.stream_first_event_ms)} ms`,
          met: m.stream_first_event_ms < 10,
        },
        {
          what: "thread creation >= 2x reference",
          value: `${fmt(r("threads_rps", "higher"))}x`,
          met: r("threads_rps", "higher") >= 2,
        },
        {
          what: "no memory growth after the settle pause (Node RSS, <= +2%)",
          value: `${fmt(mem.afterLoadMB)} -> ${fmt(mem.settledMB)} MB`,
          met: mem.met,
        },
      ],
    });
  }
  return checks;
}

export function renderReport(report) {
  const names = Object.keys(report.targets);
  const los = names.filter((n) => LANGOPEN.includes(n));
  const hasRef = names.includes("reference");
  const lines = [];
  const rounds = report.options.rounds;
  const m = report.machine;
  lines.push(
    `Run of ${report.date.slice(0, 16).replace("T", " ")} UTC: ${m.cpus} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}; ` +
      `${rounds} round${rounds > 1 ? "s" : ""}, ${report.options.durationS} s per HTTP load, LOG_LEVEL=${report.options.logLevel}, ` +
      `split-mode Postgres ${report.options.pgDurable ? "durable (fsync, synchronous_commit on)" : "fast (fsync off)"}; took ${report.durationS} s. ` +
      `Load average at start ${m.loadAverageAtStart?.[0] ?? "?"}, at end ${m.loadAverageAtEnd?.[0] ?? "?"} (${m.cpus} cores: above ${m.cpus}, other work shared the machine).`,
    "",
  );
  lines.push(
    `Medians of ${rounds} round${rounds > 1 ? "s" : ""}. Ratio columns: LangOpen against the reference, oriented so that **> 1 means LangOpen is better** ` +
      "(throughput: LangOpen / reference; latency and CPU cost: reference / LangOpen).",
    "",
  );
  const header = ["metric", ...names, ...(hasRef ? los.map((n) => `${SHORT[n]} vs ref`) : [])];
  lines.push(row(header), row(header.map((_h, i) => (i === 0 ? "---" : "---:"))));
  const ran = new Set(report.options.scenarios);
  for (const metric of METRICS) {
    if (!ran.has(metric.scenario)) continue;
    const values = names.map((n) => report.targets[n].medians[metric.key]);
    const ratios = hasRef
      ? los.map((n) => ratio(report.targets[n].medians[metric.key], report.targets.reference.medians[metric.key], metric.better))
      : [];
    const label = metric.label.replace("{runs}", report.options.bgRuns).replace("{threads}", report.options.bgThreads);
    lines.push(row([label, ...values.map(fmt), ...ratios.map((r) => (Number.isFinite(r) ? `${fmt(r)}x` : "–"))]));
  }
  for (const scenario of SCENARIOS) {
    if (!ran.has(scenario)) continue;
    const values = names.map((n) => report.targets[n].cpu[scenario]);
    const ratios = hasRef
      ? los.map((n) => ratio(report.targets[n].cpu[scenario], report.targets.reference.cpu[scenario], "lower"))
      : [];
    lines.push(
      row([
        `server CPU per op, ${scenario} (ms)`,
        ...values.map(fmt),
        ...ratios.map((r) => (Number.isFinite(r) ? `${fmt(r)}x` : "–")),
      ]),
    );
  }
  lines.push(
    "",
    "Server CPU per op: user+system CPU of every process of the target (for split mode including its Postgres and Redis; " +
      "for embedded its Postgres) during the scenario, divided by the operations completed. The load generator is not counted.",
    "",
  );

  const withPhases = los.filter((n) => report.targets[n].phases && !report.targets[n].phases.error);
  if (withPhases.length > 0) {
    lines.push(
      "LangOpen run phases, from the runs table (p50 / p99 ms over every round): queue = created -> claimed by a worker; " +
        "execution = claimed -> end recorded (graph, checkpoint writes through the api-server, the end's transaction).",
      "",
      row(["scenario", ...withPhases.flatMap((n) => [`${SHORT[n]}: runs`, `${SHORT[n]}: queue`, `${SHORT[n]}: execution`])]),
      row(["---", ...withPhases.flatMap(() => ["---:", "---:", "---:"])]),
    );
    for (const scenario of SCENARIOS) {
      const cells = withPhases.flatMap((n) => {
        const p = report.targets[n].phases[scenario];
        return p
          ? [String(p.runs), `${fmt(p.queue_p50)} / ${fmt(p.queue_p99)}`, `${fmt(p.exec_p50)} / ${fmt(p.exec_p99)}`]
          : ["–", "–", "–"];
      });
      if (cells.some((c) => c !== "–")) lines.push(row([scenario, ...cells]));
    }
    lines.push("");
  }

  lines.push(
    "Memory (MB): VmRSS summed per kind of process; Postgres and Redis as PSS (their processes share memory). " +
      `"after load" is read right after the last round, "settled" after a further ${report.options.settleS} s idle.`,
    "",
  );
  lines.push(
    row(["target", "process", "idle", "after load (round 1)", "after load (last)", "settled"]),
    row(["---", "---", "---:", "---:", "---:", "---:"]),
  );
  for (const name of names) {
    const mem = report.targets[name].memory;
    const samples = [mem.idle, mem.afterLoad[0], mem.afterLoad.at(-1), mem.settled].map(byRole);
    const roles = [...new Set(samples.flatMap((s) => [...s.keys()]))].sort(
      (a, b) => Number(isInfra(a)) - Number(isInfra(b)) || a.localeCompare(b),
    );
    for (const role of roles) {
      const count = Math.max(...samples.map((s) => s.get(role)?.count ?? 0));
      const label =
        count > 1 ? `${role} (${count} processes${isInfra(role) ? ", PSS" : ""})` : `${role}${isInfra(role) ? " (PSS)" : ""}`;
      lines.push(row([name, label, ...samples.map((s) => fmt(MB(s.get(role)?.kb ?? Number.NaN)))]));
    }
    const totals = [mem.idle, mem.afterLoad[0], mem.afterLoad.at(-1), mem.settled].map((s) => fmt(MB(nodeTotalKb(s))));
    lines.push(row([name, "**all Node processes (RSS)**", ...totals]));
  }
  lines.push("");

  if (report.floor) {
    const f = report.floor;
    lines.push("Machine floor (same machine, same moment):", "", row(["what", "value"]), row(["---", "---:"]));
    lines.push(row(["fastify, empty JSON route, POST, 16 clients (req/s)", fmt(f.fastify?.rps_16)]));
    if (f.langgraph?.withCheckpointer) {
      const lg = f.langgraph.withCheckpointer;
      lines.push(
        row(["LangGraph.js alone: echo graph in one process, MemorySaver, 10 at a time (runs/s)", fmt(lg.runs_per_s)]),
        row(["LangGraph.js alone: CPU per echo run (ms)", fmt(lg.cpu_ms_per_run)]),
      );
    }
    for (const [where, pgf] of Object.entries(f.postgres ?? {})) {
      if (pgf.error) {
        lines.push(row([`Postgres (${where}): failed`, pgf.error.slice(0, 100)]));
        continue;
      }
      const s = pgf.settings ?? {};
      const what = `${where === "split" ? "split mode's Postgres" : where === "embedded" ? "embedded Postgres" : "throwaway Postgres"} ${
        s.server_version ?? ""
      } (fsync ${s.fsync}, synchronous_commit ${s.synchronous_commit})`;
      lines.push(row([`${what}: single-row INSERT commits, 4 clients, ${pgf.tool} (tx/s)`, fmt(pgf.insert_tps)]));
      if (pgf.insert_tps_16)
        lines.push(row([`${what}: single-row INSERT commits, 16 clients, ${pgf.tool} (tx/s)`, fmt(pgf.insert_tps_16)]));
      if (pgf.tpcb_tps) lines.push(row([`${what}: pgbench TPC-B-like, 4 clients (tx/s)`, fmt(pgf.tpcb_tps)]));
    }
    lines.push("");
  }

  const checks = targetChecks(report);
  if (hasRef && checks.length > 0) {
    lines.push("Targets:", "", row(["target", ...checks.map((c) => c.target)]), row(["---", ...checks.map(() => "---")]));
    for (const [i, item] of checks[0].items.entries()) {
      lines.push(row([item.what, ...checks.map((c) => `${c.items[i].value}: ${c.items[i].met ? "**met**" : "not met"}`)]));
    }
    lines.push("");
  }

  const problems = names.flatMap((n) => report.targets[n].problems.map((p) => `${n}: ${p}`));
  const failed = Object.entries(report.failedToStart ?? {});
  if (problems.length > 0 || failed.length > 0) {
    lines.push("Problems:", "");
    for (const [name, message] of failed) lines.push(`- ${name} did not start: ${message.split("\n")[0]}`);
    for (const p of problems.slice(0, 30)) lines.push(`- ${p}`);
    if (problems.length > 30) lines.push(`- … and ${problems.length - 30} more (see the JSON)`);
    lines.push("");
  }
  return lines.join("\n");
}

export function printReport(report) {
  process.stdout.write(`${renderReport(report)}\n`);
}
