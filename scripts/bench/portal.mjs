#!/usr/bin/env node
// What the portal costs a person who opens it, measured in Debian's Chromium (headless, through
// playwright-core) against LangOpen started as `npm start` does, on loopback:
//
//  (a) first view: from the navigation's start to the assistants list rendered with a link that
//      can be clicked, cold (a new browser context: empty cache) and warm (a new page of the same
//      context: the app's files cached), median of --rounds rounds;
//  (b) the portal's JavaScript, gzipped (portal/dist/assets, as scripts/build-portal.mjs counts it),
//      all of it and what the first view loads;
//  (c) event latency: a graph (portal-graph/ticker.mjs) writes custom stream events stamped with
//      `sent_at: Date.now()`; the portal's Run tab streams them, and a MutationObserver in the page
//      notes `Date.now()` when each one's text appears in the event list (same machine, same
//      clock). Beside it, the same graph streamed by the SDK in this process, as a floor: what the
//      server's path costs before the browser and the app.
//
//   npm run bench:portal [-- --rounds 7 --runs 3 --events 100 --interval-ms 20 --no-build]
//
// Nothing here asserts a time. Loopback only; every loop is bounded in count and time, and the
// server is stopped at the end, also on failure or Ctrl-C. See scripts/bench/README.md.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { Client } from "@langchain/langgraph-sdk";
import { chromium } from "playwright-core";
import { freePort, killAllSync, logTail, sleep, startProcess, stopProcess } from "./lib/procs.mjs";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "7" },
    runs: { type: "string", default: "3" },
    events: { type: "string", default: "100" },
    "interval-ms": { type: "string", default: "20" },
    "no-build": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log(`Usage: npm run bench:portal -- [options]
  --rounds N        first-view rounds, cold and warm (default 7, at most 30)
  --runs N          streamed runs for the event latency, portal and SDK alternating (default 3, at most 10)
  --events N        custom events per run (default 100, at most 1000)
  --interval-ms MS  between two events of a run (default 20, at most 1000)
  --no-build        do not run \`npm run build\` first`);
  process.exit(0);
}

const bounded = (value, min, max) => Math.min(max, Math.max(min, Math.round(Number(value)) || min));
const ROUNDS = bounded(args.rounds, 1, 30);
const RUNS = bounded(args.runs, 1, 10);
const EVENTS = bounded(args.events, 1, 1_000);
const INTERVAL_MS = bounded(args["interval-ms"], 0, 1_000);
/** The whole benchmark, whatever happens. */
const TIME_LIMIT_MS = 15 * 60_000;
const STEP_TIMEOUT_MS = 60_000;

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DIST = path.join(ROOT, "portal/dist");
const CONFIG = fileURLToPath(new URL("./portal-graph/langgraph.json", import.meta.url));
const CHROMIUM = process.env.PORTAL_CHROMIUM ?? "/usr/bin/chromium";
/** The assistant the first view waits for, and the event latency runs on. */
const ASSISTANT_NAME = "ticker for the portal bench";

const log = (message) => process.stderr.write(`[bench:portal] ${message}\n`);

// ---- numbers

function quantile(values, q) {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  // Nearest rank.
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
const median = (values) => quantile(values, 0.5);
const ms = (value) => (!Number.isFinite(value) ? "-" : value >= 100 ? `${Math.round(value)} ms` : `${value.toFixed(1)} ms`);
const kB = (bytes) => `${(bytes / 1024).toFixed(1)} kB`;
const bare = (value) => ms(value).replace(" ms", "");
const spread = (values) => {
  const known = values.filter((value) => Number.isFinite(value));
  return `${ms(median(known))} (${bare(Math.min(...known))}-${bare(Math.max(...known))})`;
};

// ---- (b) the JavaScript, from the build

function javascriptSizes() {
  const assets = path.join(DIST, "assets");
  const gz = (file) => gzipSync(readFileSync(file), { level: 9 }).length;
  let all = 0;
  for (const name of readdirSync(assets)) if (name.endsWith(".js")) all += gz(path.join(assets, name));
  // What index.html loads before anything shows: its module script and the chunks it preloads.
  const html = readFileSync(path.join(DIST, "index.html"), "utf8");
  const initialFiles = new Set(
    [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="\/portal\/(assets\/[^"]+\.js)"/g)].map(
      (match) => match[1],
    ),
  );
  let initial = 0;
  for (const file of initialFiles) initial += gz(path.join(DIST, file));
  return { all, initial, initialFiles: initialFiles.size };
}

// ---- the server

async function startServer(logDir) {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), "langopen-bench-portal-data-"));
  const proc = startProcess(
    "langopen",
    process.execPath,
    [path.join(ROOT, "services/launcher/dist/main.js"), "--config", CONFIG, "--port", String(port)],
    {
      env: { ...process.env, LANGOPEN_DATA_DIR: dataDir, HOST: "127.0.0.1", LOG_LEVEL: "warn" },
      cwd: ROOT,
      logFile: path.join(logDir, "langopen.log"),
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const server = {
    url,
    proc,
    async stop() {
      await stopProcess(proc, 20_000);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 120_000;
  let last = "no answer yet";
  for (;;) {
    if (proc.exitInfo)
      throw new Error(`the server exited while starting: ${JSON.stringify(proc.exitInfo)}\n${logTail(proc.logFile)}`);
    try {
      const ok = await fetch(`${url}/ok`, { signal: AbortSignal.timeout(2_000) });
      const portal = await fetch(`${url}/portal/`, { signal: AbortSignal.timeout(2_000) });
      if (ok.ok && portal.ok) return server;
      last = `/ok ${ok.status}, /portal/ ${portal.status}`;
    } catch (error) {
      last = error.message;
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`not ready after 120 s: ${last}\n${logTail(proc.logFile)}`);
    }
    await sleep(200);
  }
}

// ---- (a) first view

/** In the page before its scripts: notes when the assistant's link is first in the list, and the frame after. */
function watchFirstView(name) {
  const found = () =>
    [...document.querySelectorAll("main a")].some((link) => link.textContent === name && link.getAttribute("href"));
  const mark = () => {
    if (window.__firstView) return true;
    if (!found()) return false;
    window.__firstView = { inDom: performance.now() };
    requestAnimationFrame(() => {
      window.__firstView.frame = performance.now();
    });
    return true;
  };
  const observer = new MutationObserver(() => {
    if (mark()) observer.disconnect();
  });
  observer.observe(document, { childList: true, subtree: true });
}

async function firstView(page, url) {
  await page.goto(url, { waitUntil: "commit", timeout: STEP_TIMEOUT_MS });
  await page.waitForFunction(() => window.__firstView?.frame !== undefined, undefined, { timeout: STEP_TIMEOUT_MS });
  // Clickable: visible, stable, enabled and the target of a click at its centre (Playwright's checks), without clicking.
  await page.getByRole("link", { name: ASSISTANT_NAME, exact: true }).click({ trial: true, timeout: STEP_TIMEOUT_MS });
  const timing = await page.evaluate(() => {
    const [navigation] = performance.getEntriesByType("navigation");
    const resources = performance.getEntriesByType("resource");
    const list = resources.find((entry) => entry.name.endsWith(".AssistantService/SearchAssistants"));
    const config = resources.find((entry) => entry.name.endsWith("/portal/config.json"));
    return {
      ...window.__firstView,
      responseEnd: navigation?.responseEnd,
      // The app's scripts ran (they are modules: deferred until the document is parsed).
      scriptsRan: navigation?.domContentLoadedEventEnd,
      configAnswered: config?.responseEnd,
      listAsked: list?.startTime,
      listAnswered: list?.responseEnd,
      transferred: performance
        .getEntriesByType("resource")
        .concat(navigation ? [navigation] : [])
        .reduce((sum, entry) => sum + (entry.transferSize ?? 0), 0),
    };
  });
  return timing;
}

// ---- (c) event latency

/** In the page: for each custom event whose text appears, Date.now() - sent_at, in the DOM and at the next frame. */
function watchEvents() {
  const seen = new Set();
  const samples = { dom: [], frame: [] };
  window.__eventLatency = samples;
  const pattern = /"seq":(\d+),"sent_at":(\d+)/g;
  const observer = new MutationObserver((records) => {
    const now = Date.now();
    const fresh = [];
    for (const record of records) {
      for (const node of record.addedNodes) {
        const text = node.textContent ?? "";
        if (!text.includes('"sent_at"')) continue;
        for (const match of text.matchAll(pattern)) {
          if (seen.has(match[1])) continue;
          seen.add(match[1]);
          const sentAt = Number(match[2]);
          samples.dom.push(now - sentAt);
          fresh.push(sentAt);
        }
      }
    }
    if (fresh.length > 0) {
      requestAnimationFrame(() => {
        const painted = Date.now();
        for (const sentAt of fresh) samples.frame.push(painted - sentAt);
      });
    }
  });
  observer.observe(document.body, { childList: true, subtree: true });
}

async function portalRun(context, url, assistantId) {
  const page = await context.newPage();
  try {
    await page.goto(`${url}/portal/assistants/${assistantId}/run`, { timeout: STEP_TIMEOUT_MS });
    const start = page.getByRole("button", { name: "Start run" });
    await start.waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.getByText("Run settings", { exact: true }).click();
    await page.getByRole("group", { name: "Stream modes" }).getByLabel("custom").check();
    await page.evaluate(watchEvents);
    await start.click();
    await page
      .getByRole("main")
      .getByText("Finished", { exact: true })
      .first()
      .waitFor({ timeout: STEP_TIMEOUT_MS + EVENTS * INTERVAL_MS });
    // The last events' frames.
    await page
      .waitForFunction((count) => window.__eventLatency.frame.length >= count, EVENTS, { timeout: 5_000 })
      .catch(() => {});
    return await page.evaluate(() => window.__eventLatency);
  } finally {
    await page.close();
  }
}

async function sdkRun(client, assistantId) {
  const thread = await client.threads.create();
  const samples = [];
  const stream = client.runs.stream(thread.thread_id, assistantId, {
    input: {},
    streamMode: ["values", "updates", "tasks", "custom"],
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS + EVENTS * INTERVAL_MS),
  });
  for await (const chunk of stream) {
    if (chunk.event === "custom" && typeof chunk.data?.sent_at === "number") samples.push(Date.now() - chunk.data.sent_at);
  }
  return samples;
}

// ---- main

const timeLimit = setTimeout(() => {
  log(`over the time limit of ${TIME_LIMIT_MS / 60_000} min: stopping`);
  killAllSync();
  process.exit(2);
}, TIME_LIMIT_MS);
timeLimit.unref();
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    killAllSync();
    process.exit(130);
  });
}

if (!existsSync(CHROMIUM)) {
  log(`no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set PORTAL_CHROMIUM`);
  process.exit(1);
}
if (!args["no-build"]) {
  log("npm run build");
  const build = spawnSync("npm", ["run", "build", "--silent"], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
    timeout: 600_000,
  });
  if (build.status !== 0) {
    log("the build failed");
    process.exit(1);
  }
}
if (!existsSync(path.join(DIST, "index.html"))) {
  log("portal/dist is missing: run npm run build");
  process.exit(1);
}

const logDir = mkdtempSync(path.join(tmpdir(), "langopen-bench-portal-"));
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const loadBefore = load();
let server;
let browser;
let failed = false;
try {
  const sizes = javascriptSizes();
  log(`starting LangOpen (logs in ${logDir})`);
  server = await startServer(logDir);
  const client = new Client({ apiUrl: server.url, apiKey: null });
  const assistant = await client.assistants.create({
    graphId: "ticker",
    name: ASSISTANT_NAME,
    config: { configurable: { count: EVENTS, interval_ms: INTERVAL_MS } },
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-quic",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const listUrl = `${server.url}/portal/assistants`;
  const newContext = async () => {
    const context = await browser.newContext({ viewport: { width: 1366, height: 800 } });
    await context.addInitScript(watchFirstView, ASSISTANT_NAME);
    return context;
  };

  // One untimed round first: the server's and the browser's first-time costs are not the portal's.
  {
    const context = await newContext();
    await firstView(await context.newPage(), listUrl);
    await context.close();
  }
  const cold = [];
  const warm = [];
  let coldBytes = 0;
  let warmBytes = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const context = await newContext();
    const first = await firstView(await context.newPage(), listUrl);
    const second = await firstView(await context.newPage(), listUrl);
    await context.close();
    cold.push(first);
    warm.push(second);
    coldBytes = first.transferred;
    warmBytes = second.transferred;
    log(`first view, round ${round}/${ROUNDS}: cold ${ms(first.frame)}, warm ${ms(second.frame)}`);
  }

  // Event latency: portal and SDK runs alternate, after one untimed run of each.
  const portalDom = [];
  const portalFrame = [];
  const sdk = [];
  const context = await newContext();
  await portalRun(context, server.url, assistant.assistant_id);
  await sdkRun(client, assistant.assistant_id);
  for (let run = 1; run <= RUNS; run++) {
    const seen = await portalRun(context, server.url, assistant.assistant_id);
    portalDom.push(...seen.dom);
    portalFrame.push(...seen.frame);
    const streamed = await sdkRun(client, assistant.assistant_id);
    sdk.push(...streamed);
    log(
      `events, run ${run}/${RUNS}: portal ${seen.dom.length}/${EVENTS} seen, median ${ms(median(seen.dom))}; SDK ${streamed.length}/${EVENTS}, median ${ms(median(streamed))}`,
    );
  }
  await context.close();

  const rows = [
    ["first view, cold (new context): to the list in the DOM", spread(cold.map((t) => t.inDom))],
    ["first view, cold: to the frame after it (clickable)", spread(cold.map((t) => t.frame))],
    ["first view, warm (files cached): to the frame after it", spread(warm.map((t) => t.frame))],
    ...[
      ["the document answered", "responseEnd"],
      ["the scripts loaded and run (DOMContentLoaded)", "scriptsRan"],
      ["the portal's config.json answered", "configAnswered"],
      ["the list asked for (SearchAssistants sent)", "listAsked"],
      ["the list answered", "listAnswered"],
    ].map(([label, key]) => [
      `first view, cold / warm: ${label}`,
      `${ms(median(cold.map((t) => t[key])))} / ${ms(median(warm.map((t) => t[key])))}`,
    ]),
    ["bytes over the wire for the first view, cold / warm", `${kB(coldBytes)} / ${kB(warmBytes)}`],
    ["JavaScript gzipped: all of it", kB(sizes.all)],
    [`JavaScript gzipped: what the first view loads (${sizes.initialFiles} files)`, kB(sizes.initial)],
    [
      `event latency, portal: in the DOM, median / p95 (n=${portalDom.length})`,
      `${ms(median(portalDom))} / ${ms(quantile(portalDom, 0.95))}`,
    ],
    [
      `event latency, portal: at the next frame, median / p95 (n=${portalFrame.length})`,
      `${ms(median(portalFrame))} / ${ms(quantile(portalFrame, 0.95))}`,
    ],
    [
      `event latency, SDK in Node (the server's path), median / p95 (n=${sdk.length})`,
      `${ms(median(sdk))} / ${ms(quantile(sdk, 0.95))}`,
    ],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const valueWidth = Math.max(...rows.map(([, value]) => value.length));
  console.log(
    `\nPortal, Chromium headless on loopback; first view: median (min-max) of ${ROUNDS} rounds; events: ${RUNS} runs of ${EVENTS} custom events ${INTERVAL_MS} ms apart. Load average ${loadBefore} -> ${load()} on ${readFileSync("/proc/cpuinfo", "utf8").match(/^processor/gm)?.length ?? "?"} cores.\n`,
  );
  console.log(`| ${"measure".padEnd(width)} | ${"value".padStart(valueWidth)} |`);
  console.log(`| ${"-".repeat(width)} | ${"-".repeat(valueWidth - 1)}: |`);
  for (const [label, value] of rows) console.log(`| ${label.padEnd(width)} | ${value.padStart(valueWidth)} |`);
  const missing = RUNS * EVENTS - portalDom.length;
  if (missing > 0) console.log(`\n${missing} events were not seen in the portal (the list keeps the last 2000).`);
} catch (error) {
  failed = true;
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  await browser?.close().catch(() => {});
  await server?.stop().catch(() => {});
  if (failed) log(`the server's log is kept in ${logDir}`);
  else rmSync(logDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
