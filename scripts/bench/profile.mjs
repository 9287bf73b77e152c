#!/usr/bin/env node
// Summarises the CPU profiles of a `run.mjs --cpu-prof DIR` run, per process and per scenario: how busy the
// process was, and where its CPU went (self time by function and by package, and by the nearest LangOpen
// function on the stack). Profiles are cut to each scenario's time windows (windows.json in DIR).
//
//   node scripts/bench/profile.mjs DIR [--top 15] [--scenario NAME]
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "15" }, scenario: { type: "string" } },
});
const dir = positionals[0];
if (!dir) {
  process.stderr.write("Usage: node scripts/bench/profile.mjs DIR [--top 15] [--scenario NAME]\n");
  process.exit(2);
}
const top = Number(values.top);
const windows = JSON.parse(readFileSync(path.join(dir, "windows.json"), "utf8"));

function shortUrl(url) {
  let u = url.replace(/^file:\/\//, "");
  if (u.startsWith(ROOT)) u = u.slice(ROOT.length);
  const nm = u.lastIndexOf("node_modules/");
  if (nm >= 0) u = u.slice(nm + "node_modules/".length);
  return u;
}

function packageOf(frame) {
  const url = frame.url;
  if (!url) {
    if (/^\((program|garbage collector|idle|root)\)$/.test(frame.functionName)) return frame.functionName;
    return "(native)";
  }
  if (url.startsWith("node:")) {
    const parts = url.slice("node:".length).split("/");
    return `node:${parts[0] === "internal" ? (parts[1] ?? "internal").replace(/\.js$/, "") : parts[0]}`;
  }
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    const name = rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
    return name.startsWith("@langopen/") ? `langopen ${name.slice("@langopen/".length)}` : name;
  }
  const own = url.match(/\/(services\/[^/]+|gateway|gen)\//);
  if (own) return `langopen ${own[1].replace("services/", "")}`;
  return shortUrl(url);
}

const isOwn = (frame) => packageOf(frame).startsWith("langopen ") && !packageOf(frame).startsWith("langopen gen");
const keyOf = (frame) =>
  frame.url ? `${frame.functionName || "(anonymous)"} ${shortUrl(frame.url)}:${frame.lineNumber + 1}` : frame.functionName;

function analyse(profile, spans) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ownFrameOf = new Map();
  const packagesOf = new Map();
  /** The distinct packages on the stack of a node (memoised). */
  const stackPackages = (id) => {
    if (packagesOf.has(id)) return packagesOf.get(id);
    const set = new Set([packageOf(byId.get(id).callFrame)]);
    const up = parent.get(id);
    if (up !== undefined) for (const p of stackPackages(up)) set.add(p);
    packagesOf.set(id, set);
    return set;
  };
  const nearestOwn = (id) => {
    if (ownFrameOf.has(id)) return ownFrameOf.get(id);
    let cur = id;
    let found = "(no LangOpen frame on the stack)";
    while (cur !== undefined) {
      const frame = byId.get(cur).callFrame;
      if (isOwn(frame)) {
        found = keyOf(frame);
        break;
      }
      cur = parent.get(cur);
    }
    ownFrameOf.set(id, found);
    return found;
  };
  const self = new Map();
  const pkg = new Map();
  const own = new Map();
  const onStack = new Map();
  let busy = 0;
  let idle = 0;
  let busyUs = 0;
  let wallUs = 0;
  for (const [a, b] of spans) wallUs += b - a;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    if (!spans.some(([a, b]) => t >= a && t <= b)) continue;
    const node = byId.get(profile.samples[i]);
    const frame = node.callFrame;
    if (frame.functionName === "(idle)") {
      idle++;
      continue;
    }
    busy++;
    busyUs += profile.timeDeltas[i];
    const add = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);
    add(self, keyOf(frame));
    add(pkg, packageOf(frame));
    add(own, nearestOwn(node.id));
    for (const p of stackPackages(node.id)) add(onStack, p);
  }
  return { self, pkg, own, onStack, busy, idle, wallUs, busyUs };
}

function table(title, map, busy) {
  const rows = [...map].sort((a, b) => b[1] - a[1]).slice(0, top);
  const lines = [`${title}:`];
  for (const [key, n] of rows) lines.push(`  ${((100 * n) / busy).toFixed(1).padStart(5)}%  ${key}`);
  return lines.join("\n");
}

const files = readdirSync(dir)
  .filter((f) => f.endsWith(".cpuprofile"))
  .sort();
if (files.length === 0) {
  process.stderr.write(`no .cpuprofile in ${dir} (profiles are written when the processes exit)\n`);
  process.exit(1);
}
for (const file of files) {
  const [target, role] = file.replace(/\.cpuprofile$/, "").split(".");
  const profile = JSON.parse(readFileSync(path.join(dir, file), "utf8"));
  const scenarios = [...new Set(windows.filter((w) => w.target === target).map((w) => w.scenario))];
  for (const scenario of scenarios) {
    if (values.scenario && scenario !== values.scenario) continue;
    const spans = windows.filter((w) => w.target === target && w.scenario === scenario).map((w) => [w.startUs, w.endUs]);
    const r = analyse(profile, spans);
    if (r.busy + r.idle === 0) continue;
    process.stdout.write(
      `\n=== ${target} ${role} | ${scenario} | ${(r.wallUs / 1e6).toFixed(1)} s of load: ` +
        `${(r.busyUs / 1e6).toFixed(2)} s busy (${((100 * r.busyUs) / r.wallUs).toFixed(0)}% of the time), ${r.busy} samples\n`,
    );
    process.stdout.write(`${table("self time by package", r.pkg, r.busy)}\n`);
    process.stdout.write(`${table("samples with the package anywhere on the stack (inclusive)", r.onStack, r.busy)}\n`);
    process.stdout.write(`${table("self time by function", r.self, r.busy)}\n`);
    process.stdout.write(`${table("by nearest LangOpen function on the stack (inclusive of what it called)", r.own, r.busy)}\n`);
  }
}
