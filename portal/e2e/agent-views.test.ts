// The assistants' pages in a real browser against the real server and its test graphs, as a person
// uses them: the list and its search, the graph, runs streamed from the form (live events, the running
// node lit, Cancel), interrupts answered, chat, breakpoints, versions and config, sign-in with an API
// key, a phone-sized window and the keyboard. Every wait is on a condition, bounded; every page ends
// with no console problem. What the page says is checked against the server through the SDK.
import { Client } from "@langchain/langgraph-sdk";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, type PortalBrowser, type PortalPage } from "./browser.js";
import { hidden as gone, tabTo, shown as visible } from "./page.js";
import { type PortalStack, startPortalStack } from "./stack.js";

const GRAPHS = ["blocking", "chat", "echo", "interrupt", "parent", "slow", "steps"];
/** How long a page may take to show what it waits for (a run of the test graphs included). */
const WAIT_MS = 20_000;
/** A test: a page or two, a run or two, on a shared machine. */
const TEST_MS = 90_000;

let browser: PortalBrowser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

/** The run's status badge says `label` (Running…, Finished, Interrupted, Cancelled, Failed). */
async function statusIs(page: Page, label: string, timeout = WAIT_MS): Promise<void> {
  await visible(page.getByRole("main").getByText(label, { exact: true }).first(), timeout);
}

/** The run and thread ids the run's summary line shows. */
async function runIds(page: Page): Promise<{ runId: string; threadId: string }> {
  const summary = page.locator(".run-summary-line").first();
  const runId = (await summary.locator("code").first().textContent()) ?? "";
  const threadId = (await summary.getByRole("link").textContent()) ?? "";
  expect(runId).toMatch(/^[0-9a-f-]{36}$/);
  expect(threadId).toMatch(/^[0-9a-f-]{36}$/);
  return { runId, threadId };
}

/** Opens one of the assistant's tabs (Graph, Run, Versions, Config). */
async function openTab(page: Page, name: string): Promise<void> {
  await page.getByRole("navigation", { name: "Assistant" }).getByRole("link", { name, exact: true }).click();
}

/** An edge of the drawn graph is there (edges are SVG: attached, not "visible" to the browser's box checks). */
async function edgeDrawn(page: Page, from: string, to: string): Promise<void> {
  await page.getByRole("group", { name: `Edge from ${from} to ${to}` }).waitFor({ state: "attached", timeout: WAIT_MS });
}

/** A node of the drawn graph, by the name it shows. */
function graphNode(scope: Page | Locator, name: string): Locator {
  return scope.locator(".react-flow__node").filter({ has: scope.getByText(name, { exact: true }) });
}

/** The page had no console error or warning, nor an uncaught exception; then it is closed. */
async function done(portalPage: PortalPage, allowed?: string): Promise<void> {
  const problems = allowed ? portalPage.problems.filter((line) => !line.includes(allowed)) : portalPage.problems;
  expect(problems).toEqual([]);
  await portalPage.context.close();
}

/**
 * Run in the page (as source: these tests are compiled without the DOM's types): watches the chat's
 * conversation for the model's bubbles, noting how many there are at most and each text they show.
 */
const WATCH_REPLIES = `(() => {
  const list = document.querySelector('[aria-label="Conversation"]');
  const seen = { most: 0, texts: [] };
  window.__replies = seen;
  const look = () => {
    const bubbles = list.querySelectorAll(".chat-ai");
    seen.most = Math.max(seen.most, bubbles.length);
    for (const bubble of bubbles) {
      const text = bubble.querySelector(".chat-text")?.textContent ?? "";
      if (!seen.texts.includes(text)) seen.texts.push(text);
    }
  };
  new MutationObserver(look).observe(list, { childList: true, subtree: true, characterData: true });
})()`;

describe("the assistants' pages", () => {
  let portal: PortalStack;
  let sdk: Client;
  beforeAll(async () => {
    portal = await startPortalStack();
    sdk = new Client({ apiUrl: portal.stack.url, apiKey: null });
  });
  afterAll(() => portal?.stop());

  it(
    "lists the assistants grouped by graph, and the search narrows the list",
    async () => {
      const tab = await browser.open(portal.portalUrl);
      const { page } = tab;
      await visible(page.getByRole("heading", { level: 1, name: "Assistants" }));
      expect(new URL(page.url()).pathname).toBe("/portal/assistants");
      for (const graph of GRAPHS) {
        const group = await visible(page.getByRole("region", { name: `Graph ${graph}` }));
        await visible(group.getByRole("link", { name: graph, exact: true }));
        await visible(group.getByText("default", { exact: true }));
      }
      await visible(page.getByText("7 assistants", { exact: true }));

      await page.getByRole("searchbox", { name: "Name" }).fill("ste");
      await visible(page.getByText("1 assistant match", { exact: true }));
      await gone(page.getByRole("region", { name: "Graph echo" }));
      await visible(page.getByRole("region", { name: "Graph steps" }));
      expect(await page.getByRole("region").count()).toBe(1);
      expect(new URL(page.url()).searchParams.get("q")).toBe("ste");

      await page.getByRole("searchbox", { name: "Name" }).fill("no such assistant");
      await visible(page.getByText("No assistant matches.", { exact: true }));

      // The graph filter, from the search's second field.
      await page.getByRole("searchbox", { name: "Name" }).fill("");
      await page.getByRole("combobox", { name: "Graph" }).selectOption("parent");
      await visible(page.getByText("1 assistant match", { exact: true }));
      await visible(page.getByRole("region", { name: "Graph parent" }));
      expect(await page.getByRole("region").count()).toBe(1);
      await done(tab);
    },
    TEST_MS,
  );

  it(
    "draws the steps graph from the list: its nodes by name, start and end, the edges between",
    async () => {
      const tab = await browser.open(`${portal.portalUrl}assistants`);
      const { page } = tab;
      await (await visible(page.getByRole("link", { name: "steps", exact: true }))).click();
      await visible(page.getByRole("heading", { level: 1, name: "steps" }));
      expect(new URL(page.url()).pathname).toMatch(/^\/portal\/assistants\/[0-9a-f-]{36}\/graph$/);
      expect(
        await page
          .getByRole("navigation", { name: "Assistant" })
          .getByRole("link", { name: "Graph" })
          .getAttribute("aria-current"),
      ).toBe("page");
      for (const name of ["start", "first", "second", "third", "end"]) await visible(graphNode(page, name));
      const path = ["__start__", "first", "second", "third", "__end__"];
      for (let i = 1; i < path.length; i++) await edgeDrawn(page, path[i - 1] ?? "", path[i] ?? "");
      await visible(page.getByText("Start a run on the", { exact: false }));
      await done(tab);
    },
    TEST_MS,
  );

  it(
    "shows the parent graph's subgraph as one node, and its inner nodes with xray",
    async () => {
      const tab = await browser.open(`${portal.portalUrl}assistants/parent/graph`);
      const { page } = tab;
      const child = await visible(graphNode(page, "child"));
      await visible(child.getByText("subgraph", { exact: true }));
      for (const name of ["before", "after"]) await visible(graphNode(page, name));
      expect(await graphNode(page, "inner_a").count()).toBe(0);

      // The checkbox follows the URL (?xray=1), which the click changes a moment later.
      const xray = page.getByLabel("Show the nodes inside subgraphs (xray)");
      await xray.click();
      await expect.poll(() => xray.isChecked(), { timeout: WAIT_MS }).toBe(true);
      await visible(graphNode(page, "inner_a"));
      await visible(graphNode(page, "inner_b"));
      // Each inner node says which subgraph it belongs to.
      await visible(graphNode(page, "inner_a").getByText("child", { exact: true }));
      await edgeDrawn(page, "child:inner_a", "child:inner_b");
      expect(new URL(page.url()).searchParams.get("xray")).toBe("1");

      await xray.click();
      await expect.poll(() => xray.isChecked(), { timeout: WAIT_MS }).toBe(false);
      await gone(graphNode(page, "inner_a"));
      await done(tab);
    },
    TEST_MS,
  );

  it(
    "runs steps from the form: the events stream into the list and the run ends with its final state",
    async () => {
      const tab = await browser.open(`${portal.portalUrl}assistants/steps/run`);
      const { page } = tab;
      await visible(page.getByText("Not started", { exact: true }));
      await page.getByLabel("Topic").fill("portal");
      await page.getByRole("button", { name: "Start run" }).click();
      await statusIs(page, "Finished");

      const events = page.getByRole("list", { name: "Run events" });
      for (const node of ["first", "second", "third"]) {
        await visible(
          events
            .getByRole("listitem")
            .filter({ hasText: `${node} finished` })
            .first(),
        );
        await visible(
          events
            .getByRole("listitem")
            .filter({ hasText: `updates${node}:` })
            .first(),
        );
      }
      await visible(events.getByRole("listitem").filter({ hasText: "the run ended" }));
      // Each event opens on its JSON.
      await events.getByRole("listitem").filter({ hasText: "updatesthird:" }).first().locator("summary").click();
      await visible(events.getByText('"third"', { exact: true }).first());

      // The final state: the thread's values as the server holds them.
      const state = page.locator(".state-panel");
      await visible(state.getByRole("heading", { name: "Thread state" }));
      await visible(state.getByText("Nothing left to run.", { exact: false }));
      await visible(state.getByText('"portal"', { exact: true }));
      const { runId: firstRun, threadId } = await runIds(page);
      const values = (await sdk.threads.getState(threadId)).values as Record<string, unknown>;
      expect(values).toMatchObject({ topic: "portal", trail: ["first", "second", "third"], count: 3 });
      // Every node of the run is marked finished on the graph beside the list.
      for (const node of ["first", "second", "third"]) await visible(page.getByTitle(`${node}: finished`));

      // Again, on the same thread: the state goes on from where the first run left it.
      await page.getByLabel("Thread id").fill(threadId);
      expect(await page.getByLabel("This thread:").isChecked()).toBe(true);
      await expect.poll(() => new URL(page.url()).searchParams.get("thread"), { timeout: WAIT_MS }).toBe(threadId);
      await page.getByRole("button", { name: "Start run" }).click();
      // The status line is the new run's (the first one's "Finished" stays until it starts).
      const summary = page.locator(".run-summary-line").first();
      await expect.poll(() => summary.textContent(), { timeout: WAIT_MS }).not.toContain(firstRun);
      await statusIs(page, "Finished");
      await expect
        .poll(async () => (await sdk.threads.getState(threadId)).values, { timeout: WAIT_MS })
        .toMatchObject({ trail: ["first", "second", "third", "first", "second", "third"], count: 6 });
      expect((await runIds(page)).threadId).toBe(threadId);
      expect(await sdk.runs.list(threadId)).toHaveLength(2);
      await done(tab);
    },
    TEST_MS,
  );

  it(
    "puts earlier inputs back with the arrows, newest first, and sends one again; a new session has none",
    async () => {
      const tab = await browser.open(`${portal.portalUrl}assistants/steps/run`);
      const { page } = tab;
      const earlier = page.getByRole("button", { name: "Earlier input" });
      const later = page.getByRole("button", { name: "Later input" });
      const recalled = page.getByRole("group", { name: "Earlier inputs" }).locator("output");
      await visible(page.getByLabel("Topic"));
      expect(await earlier.count()).toBe(0);
      for (const topic of ["alpha", "beta"]) {
        await page.getByLabel("Topic").fill(topic);
        await page.getByRole("button", { name: "Start run" }).click();
        await statusIs(page, "Finished");
      }
      await expect.poll(() => recalled.textContent(), { timeout: WAIT_MS }).toBe("2 earlier");
      await earlier.click();
      const json = page.getByLabel("Input (JSON)");
      expect(JSON.parse(await json.inputValue())).toEqual({ topic: "beta" });
      expect(await recalled.textContent()).toBe('1 of 2: topic: "beta"');
      await earlier.click();
      expect(JSON.parse(await json.inputValue())).toEqual({ topic: "alpha" });
      expect(await earlier.isDisabled()).toBe(true);
      await later.click();
      expect(JSON.parse(await json.inputValue())).toEqual({ topic: "beta" });
      await earlier.click();

      // Sent again: the run's thread holds that input, and it is the newest of the history.
      const before = (await page.locator(".run-summary-line code").first().textContent()) ?? "";
      await page.getByRole("button", { name: "Start run" }).click();
      const summary = page.locator(".run-summary-line").first();
      await expect.poll(() => summary.textContent(), { timeout: WAIT_MS }).not.toContain(before);
      await statusIs(page, "Finished");
      const { threadId } = await runIds(page);
      expect((await sdk.threads.getState(threadId)).values).toMatchObject({ topic: "alpha" });
      await page.reload();
      await expect.poll(() => recalled.textContent(), { timeout: WAIT_MS }).toBe("2 earlier");
      await earlier.click();
      expect(JSON.parse(await page.getByLabel("Input (JSON)").inputValue())).toEqual({ topic: "alpha" });
      await done(tab);

      // The history is the tab's (sessionStorage): another session starts without one.
      const other = await browser.open(`${portal.portalUrl}assistants/steps/run`);
      await visible(other.page.getByLabel("Topic"));
      expect(await other.page.getByRole("button", { name: "Earlier input" }).count()).toBe(0);
      await done(other);
    },
    TEST_MS,
  );

  it(
    "streams a slow run live, lights its running node on the graph, and cancels it with Cancel",
    async () => {
      // 60 s of ticks: long enough to be watched and cancelled on a busy machine.
      const long = await sdk.assistants.create({
        graphId: "slow",
        name: "slow for cancelling",
        config: { configurable: { ticks: 600 } },
      });
      const tab = await browser.open(`${portal.portalUrl}assistants/${long.assistant_id}/run`);
      const { page } = tab;
      await page.getByText("Run settings", { exact: true }).click();
      await page.getByRole("group", { name: "Stream modes" }).getByLabel("custom").check();
      await page.getByRole("button", { name: "Start run" }).click();
      await statusIs(page, "Running…");

      // The node's writes arrive one by one while it runs.
      const ticks = page
        .getByRole("list", { name: "Run events" })
        .getByRole("listitem")
        .filter({ hasText: /^custom\{"tick":\d+\}$/ });
      await visible(ticks.first());
      const seen = await ticks.count();
      await expect.poll(() => ticks.count(), { timeout: WAIT_MS }).toBeGreaterThan(seen + 2);
      await visible(page.getByText("Running…", { exact: true }).first());
      await visible(page.getByTitle("tick: running"));

      // The Graph tab watches the same run: the node is lit there too.
      await openTab(page, "Graph");
      await visible(page.getByLabel("Show the nodes inside subgraphs (xray)"));
      await visible(page.getByTitle("tick: running"));
      await visible(page.getByRole("button", { name: "Cancel" }));

      await openTab(page, "Run");
      const { runId, threadId } = await runIds(page);
      await page.getByRole("button", { name: "Cancel" }).click();
      await statusIs(page, "Cancelled");
      await visible(page.getByTitle("tick: interrupted"));
      await gone(page.getByRole("button", { name: "Cancel" }));

      // The server agrees: the run was interrupted, well before its 600 ticks.
      await expect.poll(async () => (await sdk.runs.get(threadId, runId)).status, { timeout: WAIT_MS }).toBe("interrupted");
      const state = await sdk.threads.getState(threadId);
      expect(Number((state.values as { ticks?: number }).ticks ?? 0)).toBeLessThan(600);
      await done(tab);
    },
    TEST_MS,
  );

  it(
    "stops the interrupt graph at its interrupt, and the resume box answers it",
    async () => {
      const tab = await browser.open(`${portal.portalUrl}assistants/interrupt/run`);
      const { page } = tab;
      await page.getByLabel("Question").fill("Who is asking?");
      await page.getByRole("button", { name: "Start run" }).click();
      await statusIs(page, "Interrupted");
      await visible(page.getByRole("heading", { name: "The graph is waiting for an answer" }));
      await visible(page.getByText('"Who is asking?"', { exact: true }).first());
      await visible(page.getByTitle("ask: interrupted"));

      // Not JSON: said so, nothing sent.
      const resume = page.getByLabel("Resume with (JSON)");
      await resume.fill("Ada");
      await page.getByRole("button", { name: "Resume" }).click();
      await visible(page.getByText("Not valid JSON", { exact: false }));
      await resume.fill('"Ada"');
      await page.getByRole("button", { name: "Resume" }).click();
      await statusIs(page, "Finished");
      await gone(page.getByRole("heading", { name: "The graph is waiting for an answer" }));
      await visible(page.locator(".state-panel").getByText('"Hello, Ada"', { exact: true }));

      const { threadId } = await runIds(page);
      const state = await sdk.threads.getState(threadId);
      expect(state.values).toMatchObject({ question: "Who is asking?", answer: "Hello, Ada" });
      expect(state.next).toEqual([]);
      await done(tab);
    },
    TEST_MS,
  );

  it(
    "chats with the chat graph: the message, then the model's reply in one bubble",
    async () => {
      const tab = await browser.open(`${portal.portalUrl}assistants/chat/run`);
      const { page } = tab;
      await visible(page.getByRole("button", { name: "Chat", pressed: true }));
      const conversation = page.getByRole("list", { name: "Conversation" });
      await visible(conversation.getByText("No messages yet.", { exact: false }));
      // Every text the model's bubbles show while the reply streams, and how many there are at most.
      await page.evaluate(WATCH_REPLIES);
      await page.getByLabel("Message", { exact: true }).fill("Hi, model");
      await page.getByLabel("Message", { exact: true }).press("Enter");

      const mine = conversation.getByRole("listitem").filter({ hasText: "Hi, model" });
      await visible(mine);
      await visible(mine.getByText("You", { exact: true }));
      const reply = conversation.getByRole("listitem").filter({ hasText: "Hello from the model" });
      await visible(reply);
      await statusIs(page, "Finished");
      // The tokens came as many events and make one message: never a second bubble, only ever a beginning of the reply.
      expect(await conversation.getByRole("listitem").count()).toBe(2);
      const watched = await page.evaluate<{ most: number; texts: string[] }>("window.__replies");
      expect(watched.most).toBe(1);
      for (const text of watched.texts) expect("Hello from the model".startsWith(text)).toBe(true);
      expect(await reply.locator(".chat-text").textContent()).toBe("Hello from the model");
      await visible(reply.getByText("AI", { exact: true }));
      const events = page.getByRole("list", { name: "Run events" });
      expect(
        await events
          .getByRole("listitem")
          .filter({ hasText: /^messages/ })
          .count(),
      ).toBeGreaterThan(2);

      // The conversation is a thread of the server's, named in the URL; it holds both messages.
      await expect.poll(() => new URL(page.url()).searchParams.get("thread"), { timeout: WAIT_MS }).toMatch(/^[0-9a-f-]{36}$/);
      const threadId = new URL(page.url()).searchParams.get("thread") ?? "";
      const { values } = await sdk.threads.getState<{ messages: Array<{ type: string; content: unknown }> }>(threadId);
      expect(values.messages.map((message) => [message.type, message.content])).toEqual([
        ["human", "Hi, model"],
        ["ai", "Hello from the model"],
      ]);

      // Reloaded, the conversation comes back from the server.
      await page.reload();
      await visible(page.getByRole("list", { name: "Conversation" }).getByText("Hello from the model", { exact: true }));

      // New chat: an empty conversation, and the next message starts a thread of its own.
      await page.getByRole("button", { name: "New chat" }).click();
      await visible(conversation.getByText("No messages yet.", { exact: false }));
      await expect.poll(() => new URL(page.url()).searchParams.get("thread"), { timeout: WAIT_MS }).toBeNull();
      await page.getByLabel("Message", { exact: true }).fill("Second conversation");
      await page.getByRole("button", { name: "Send" }).click();
      await visible(conversation.getByRole("listitem").filter({ hasText: "Hello from the model" }));
      await expect.poll(() => new URL(page.url()).searchParams.get("thread"), { timeout: WAIT_MS }).toMatch(/^[0-9a-f-]{36}$/);
      const second = new URL(page.url()).searchParams.get("thread") ?? "";
      expect(second).not.toBe(threadId);
      expect(await conversation.getByRole("listitem").count()).toBe(2);
      await done(tab);
    },
    TEST_MS,
  );

  it(
    "stops a run before the node chosen in the run settings, and goes on with Continue",
    async () => {
      const tab = await browser.open(`${portal.portalUrl}assistants/steps/run`);
      const { page } = tab;
      // The input as raw JSON this time: started from what the form holds.
      await page.getByLabel("Topic").fill("breakpoint");
      await page.getByLabel("Edit as JSON").check();
      const json = page.getByLabel("Input (JSON)");
      expect(JSON.parse(await json.inputValue())).toEqual({ topic: "breakpoint" });
      await json.fill("{ topic: breakpoint }");
      await page.getByRole("button", { name: "Start run" }).click();
      await visible(page.getByText("Not valid JSON", { exact: false }));
      expect(await page.getByText("Not started", { exact: true }).isVisible()).toBe(true);
      await json.fill('{"topic": "breakpoint"}');
      await page.getByText("Run settings", { exact: true }).click();
      await page.getByRole("group", { name: "Interrupt before" }).getByLabel("second").check();
      await page.getByRole("button", { name: "Start run" }).click();
      await statusIs(page, "Interrupted");
      await visible(page.getByText("The thread stopped before", { exact: false }));
      await visible(page.getByTitle("first: finished"));
      expect(await page.getByTitle("second: finished").count()).toBe(0);

      const { threadId } = await runIds(page);
      const stopped = await sdk.threads.getState(threadId);
      expect(stopped.next).toEqual(["second"]);
      expect(stopped.values).toMatchObject({ trail: ["first"] });

      await page.getByRole("button", { name: "Continue" }).click();
      await statusIs(page, "Finished");
      await visible(page.getByTitle("third: finished"));
      const finished = await sdk.threads.getState(threadId);
      expect(finished.next).toEqual([]);
      expect(finished.values).toMatchObject({ trail: ["first", "second", "third"], count: 3 });
      await done(tab);
    },
    TEST_MS,
  );

  it(
    "makes a new version by editing the config, and sets an older one as latest after a confirmation",
    async () => {
      const assistant = await sdk.assistants.create({
        graphId: "echo",
        name: "echo with versions",
        config: { configurable: { tone: "plain" } },
      });
      const tab = await browser.open(`${portal.portalUrl}assistants/${assistant.assistant_id}/config`);
      const { page } = tab;
      await visible(page.getByText("version 1", { exact: true }));
      await page.getByRole("button", { name: "Edit config" }).click();
      const editor = page.getByLabel("Config (JSON object)");
      await editor.fill("[1, 2]");
      await page.getByRole("button", { name: "Save" }).click();
      await visible(page.getByText("The config must be a JSON object.", { exact: true }));
      await editor.fill('{"configurable": {"tone": "warm"}}');
      await page.getByRole("button", { name: "Save" }).click();
      await visible(page.getByText("version 2", { exact: true }));
      await visible(page.getByText('"warm"', { exact: true }));
      expect((await sdk.assistants.get(assistant.assistant_id)).config).toMatchObject({ configurable: { tone: "warm" } });

      await openTab(page, "Versions");
      const versionItem = (n: number) =>
        page.getByRole("listitem").filter({ has: page.getByRole("heading", { name: `Version ${n}`, exact: true }) });
      await visible(versionItem(2).getByText("in use", { exact: true }));
      await versionItem(1).getByRole("button", { name: "Use this version" }).click();
      await visible(versionItem(1).getByText("Make version 1 the one in use?", { exact: true }));
      await versionItem(1).getByRole("button", { name: "Yes, use it" }).click();
      await visible(versionItem(1).getByText("in use", { exact: true }));
      await gone(versionItem(2).getByText("in use", { exact: true }));
      await visible(page.getByText("version 1", { exact: true }));

      const latest = await sdk.assistants.get(assistant.assistant_id);
      expect(latest.version).toBe(1);
      expect(latest.config).toMatchObject({ configurable: { tone: "plain" } });
      const versions = await sdk.assistants.getVersions(assistant.assistant_id);
      expect(versions.map((version) => version.version).sort()).toEqual([1, 2]);
      await done(tab);
    },
    TEST_MS,
  );

  it(
    "fits a 420x800 window: the navigation folds into a menu and an assistant can be run",
    async () => {
      const tab = await browser.open(`${portal.portalUrl}assistants`, { viewport: { width: 420, height: 800 } });
      const { page } = tab;
      const nav = page.getByRole("navigation", { name: "Main" });
      const menu = await visible(page.getByRole("button", { name: "Menu" }));
      expect(await menu.getAttribute("aria-expanded")).toBe("false");
      expect(await nav.getByRole("link", { name: "Threads" }).isVisible()).toBe(false);
      await menu.click();
      expect(await menu.getAttribute("aria-expanded")).toBe("true");
      await (await visible(nav.getByRole("link", { name: "Threads" }))).click();
      await visible(page.getByRole("heading", { level: 1, name: "Threads" }));
      // Choosing a page closes the menu.
      await gone(nav.getByRole("link", { name: "Threads" }));
      await menu.click();
      await nav.getByRole("link", { name: "Assistants" }).click();

      await (await visible(page.getByRole("link", { name: "steps", exact: true }))).click();
      await visible(graphNode(page, "second"));
      await openTab(page, "Run");
      await page.getByLabel("Topic").fill("narrow");
      const start = page.getByRole("button", { name: "Start run" });
      await start.scrollIntoViewIfNeeded();
      await start.click();
      await statusIs(page, "Finished");
      await visible(page.getByText('"narrow"', { exact: true }));
      // Nothing wider than the window: no sideways scrolling.
      const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
      expect(overflow).toBeLessThanOrEqual(0);
      await done(tab);
    },
    TEST_MS,
  );

  it(
    "works from the keyboard: Tab reaches the navigation and the Start button, Enter activates them",
    async () => {
      const tab = await browser.open(`${portal.portalUrl}assistants/steps/run`);
      const { page } = tab;
      await visible(page.getByRole("button", { name: "Start run" }));
      const threadsLink = page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Threads" });
      expect(await tabTo(page, threadsLink, 12)).toBe(true);
      await page.keyboard.press("Enter");
      await visible(page.getByRole("heading", { level: 1, name: "Threads" }));
      expect(new URL(page.url()).pathname).toBe("/portal/threads");

      await page.goBack();
      const topic = await visible(page.getByLabel("Topic"));
      expect(await tabTo(page, topic, 80)).toBe(true);
      await page.keyboard.type("keyboard");
      const start = page.getByRole("button", { name: "Start run" });
      expect(await tabTo(page, start, 80)).toBe(true);
      await page.keyboard.press("Enter");
      await statusIs(page, "Finished");
      await visible(page.getByText('"keyboard"', { exact: true }));
      await done(tab);
    },
    TEST_MS,
  );
});

describe("signing in with an API key", () => {
  let portal: PortalStack;
  beforeAll(async () => {
    portal = await startPortalStack({ apiKeys: "alice=sk-portal-test" });
  });
  afterAll(() => portal?.stop());

  it(
    "asks for a key, refuses a wrong one, loads the assistants with the right one, and signs out",
    async () => {
      const tab = await browser.open(portal.portalUrl);
      const { page } = tab;
      const dialog = await visible(page.getByRole("dialog", { name: "Sign in" }));
      await visible(dialog.getByText(/^This server requires/));
      const key = dialog.getByLabel("API key", { exact: true });
      expect(await dialog.getByRole("button", { name: "Sign in" }).isDisabled()).toBe(true);

      await key.fill("sk-wrong");
      await dialog.getByRole("button", { name: "Sign in" }).click();
      await visible(dialog.getByText("The server did not accept that API key. Check it and try again.", { exact: true }));
      expect(await page.getByRole("region", { name: "Graph echo" }).count()).toBe(0);

      await key.fill("sk-portal-test");
      await dialog.getByRole("button", { name: "Sign in" }).click();
      await gone(dialog);
      for (const graph of GRAPHS) await visible(page.getByRole("region", { name: `Graph ${graph}` }));
      // The key is kept for the tab: a reload stays signed in.
      await page.reload();
      await visible(page.getByRole("region", { name: "Graph steps" }));
      expect(await page.getByRole("dialog", { name: "Sign in" }).count()).toBe(0);

      await page.getByRole("button", { name: "Sign out" }).click();
      await visible(page.getByRole("dialog", { name: "Sign in" }));
      await gone(page.getByRole("region", { name: "Graph steps" }));
      expect(await page.getByRole("button", { name: "Sign out" }).count()).toBe(0);
      // The refused calls are the only complaints: the browser's own lines for their 401s.
      await done(tab, "Failed to load resource");
    },
    TEST_MS,
  );
});
