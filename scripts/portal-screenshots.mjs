#!/usr/bin/env node
// The portal's screenshots in docs/portal/: LangOpen started as `npm start` does, serving the test
// graphs (services/runtime-runner/test-graphs), some data made with the SDK (a conversation of two
// turns, a thread waiting on an interrupt, store items), then Chromium at 1366x800 on each main
// view. Loopback only; the server is stopped at the end, also on failure or Ctrl-C.
//
//   npm run build && node scripts/portal-screenshots.mjs [--out docs/portal]
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Client } from "@langchain/langgraph-sdk";
import { chromium } from "playwright-core";
import { freePort, killAllSync, logTail, sleep, startProcess, stopProcess } from "./bench/lib/procs.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const { values: args } = parseArgs({ options: { out: { type: "string", default: "docs/portal" } } });
const OUT = path.resolve(ROOT, args.out);
const CONFIG = path.join(ROOT, "services/runtime-runner/test-graphs/langgraph.json");
const CHROMIUM = process.env.PORTAL_CHROMIUM ?? "/usr/bin/chromium";
const WAIT_MS = 30_000;

const log = (message) => process.stderr.write(`[portal-screenshots] ${message}\n`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    killAllSync();
    process.exit(130);
  });
}
// Bounded, whatever happens.
setTimeout(() => {
  log("over 10 minutes: stopping");
  killAllSync();
  process.exit(2);
}, 10 * 60_000).unref();

if (!existsSync(path.join(ROOT, "portal/dist/index.html"))) {
  log("portal/dist is missing: run npm run build first");
  process.exit(1);
}
if (!existsSync(CHROMIUM)) {
  log(`no Chromium at ${CHROMIUM}: install Debian's chromium or set PORTAL_CHROMIUM`);
  process.exit(1);
}

async function startServer(logDir) {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), "langopen-screenshots-data-"));
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
  const server = {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      await stopProcess(proc, 20_000);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (proc.exitInfo) throw new Error(`the server exited while starting\n${logTail(proc.logFile)}`);
    const ok = await fetch(`${server.url}/ok`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
    if (ok?.ok) return server;
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`not ready after 120 s\n${logTail(proc.logFile)}`);
    }
    await sleep(200);
  }
}

/** Some data to show: a conversation, a thread waiting on an interrupt, a finished run of steps, store items. */
async function seed(client) {
  const chat = await client.threads.create({ metadata: { graph_id: "chat", purpose: "screenshots" } });
  for (const content of ["Hi! What can you do?", "Tell me more."]) {
    await client.runs.wait(chat.thread_id, "chat", { input: { messages: [{ role: "user", content }] } });
  }
  const waiting = await client.threads.create({ metadata: { graph_id: "interrupt" } });
  await client.runs.wait(waiting.thread_id, "interrupt", { input: { question: "Which city should the report cover?" } });
  const steps = await client.threads.create({ metadata: { graph_id: "steps" } });
  await client.runs.wait(steps.thread_id, "steps", { input: { topic: "screenshots" } });
  await client.store.putItem(["users", "ada"], "preferences", { theme: "dark", language: "en", notifications: true });
  await client.store.putItem(["users", "ada", "memories"], "first-meeting", {
    text: "Prefers short answers with examples.",
    source: "chat",
  });
  const slow = await client.assistants.create({
    graphId: "slow",
    name: "slow (one minute)",
    config: { configurable: { ticks: 600 } },
  });
  return { chat: chat.thread_id, waiting: waiting.thread_id, steps: steps.thread_id, slow: slow.assistant_id };
}

async function shoot(page, name) {
  // Let the last frame settle (fonts, React Flow's fit) before the picture: wait for two frames.
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  const file = path.join(OUT, `${name}.png`);
  await page.screenshot({ path: file });
  log(`saved ${path.relative(ROOT, file)}`);
}

const logDir = mkdtempSync(path.join(tmpdir(), "langopen-screenshots-"));
let server;
let browser;
let failed = false;
try {
  mkdirSync(OUT, { recursive: true });
  log("starting LangOpen with the test graphs");
  server = await startServer(logDir);
  const client = new Client({ apiUrl: server.url, apiKey: null });
  const ids = await seed(client);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run"],
  });
  const context = await browser.newContext({ viewport: { width: 1366, height: 800 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const portal = `${server.url}/portal`;
  const main = page.getByRole("main");

  // The assistants, by graph.
  await page.goto(`${portal}/assistants`);
  await page.getByRole("region", { name: "Graph steps" }).waitFor({ timeout: WAIT_MS });
  await shoot(page, "assistants");

  // A run of steps from the form, with its custom events: the events and the final state.
  await page.goto(`${portal}/assistants/steps/run`);
  await page.getByLabel("Topic").fill("screenshots");
  await page.getByText("Run settings", { exact: true }).click();
  await page.getByRole("group", { name: "Stream modes" }).getByLabel("custom").check();
  await page.getByText("Run settings", { exact: true }).click();
  await page.getByRole("button", { name: "Start run" }).click();
  await main.getByText("Finished", { exact: true }).first().waitFor({ timeout: WAIT_MS });
  await page.getByRole("heading", { name: "Thread state" }).waitFor({ timeout: WAIT_MS });
  await page
    .getByRole("list", { name: "Run events" })
    .getByRole("listitem")
    .filter({ hasText: /^custom/ })
    .locator("summary")
    .click();
  // The run's side from its status line down: the graph, the events (one opened), the state below.
  await page.evaluate(() => {
    const line = document.querySelector(".run-summary");
    if (line) window.scrollTo(0, line.getBoundingClientRect().top + window.scrollY - 16);
  });
  await shoot(page, "run");

  // The graph while a run goes through it: the running node lit.
  await page.goto(`${portal}/assistants/${ids.slow}/run`);
  await page.getByRole("button", { name: "Start run" }).click();
  await page.getByRole("navigation", { name: "Assistant" }).getByRole("link", { name: "Graph" }).click();
  await page.getByTitle("tick: running").waitFor({ timeout: WAIT_MS });
  await shoot(page, "graph-running");
  await page.getByRole("button", { name: "Cancel" }).click();
  await main.getByText("Cancelled", { exact: true }).first().waitFor({ timeout: WAIT_MS });
  // The cancelled thread is not one of the interrupts to show.
  const cancelled = await page.locator(".run-summary-line").first().getByRole("link").textContent();
  if (cancelled) await client.threads.delete(cancelled.trim());

  // The parent graph with its subgraph expanded.
  await page.goto(`${portal}/assistants/parent/graph?xray=1`);
  await page.getByText("inner_b", { exact: true }).waitFor({ timeout: WAIT_MS });
  await shoot(page, "graph-xray");

  // Chat: the conversation made above, and one more turn streamed.
  await page.goto(`${portal}/assistants/chat/run?thread=${ids.chat}`);
  const conversation = page.getByRole("list", { name: "Conversation" });
  await conversation.getByText("Tell me more.", { exact: true }).waitFor({ timeout: WAIT_MS });
  await page.getByLabel("Message", { exact: true }).fill("And one more thing?");
  await page.getByLabel("Message", { exact: true }).press("Enter");
  await main.getByText("Finished", { exact: true }).first().waitFor({ timeout: WAIT_MS });
  await shoot(page, "chat");

  // The data pages last: they are still changing. Each is taken as it is.
  await page.goto(`${portal}/threads`);
  await page.getByRole("heading", { level: 1, name: "Threads" }).waitFor({ timeout: WAIT_MS });
  await page.getByText(ids.chat.slice(0, 8), { exact: false }).first().waitFor({ timeout: WAIT_MS });
  await shoot(page, "threads");
  await page.goto(`${portal}/threads/${ids.chat}/history`);
  await page.getByRole("heading", { level: 1 }).waitFor({ timeout: WAIT_MS });
  await page
    .getByRole("status")
    .first()
    .waitFor({ state: "detached", timeout: WAIT_MS })
    .catch(() => {});
  await shoot(page, "thread-history");

  await page.goto(`${portal}/interrupts`);
  await page.getByRole("heading", { level: 1, name: "Interrupts" }).waitFor({ timeout: WAIT_MS });
  await page.getByText("Which city should the report cover?", { exact: false }).first().waitFor({ timeout: WAIT_MS });
  await shoot(page, "interrupts");

  await page.goto(`${portal}/store`);
  await page.getByRole("heading", { level: 1, name: "Store" }).waitFor({ timeout: WAIT_MS });
  await page.getByText("users", { exact: false }).first().waitFor({ timeout: WAIT_MS });
  await shoot(page, "store");
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
