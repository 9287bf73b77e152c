// The data pages in a real browser against the real server and its test graphs: threads searched
// and opened, a thread's history with its diffs, a fork edited from a checkpoint and a re-run from
// it, a running run attached to and cancelled, the interrupts inbox answering an interrupt, the
// store, crons, webhook deliveries, the sign-in with an API key or a bearer token, and every page
// in a 420 px window. Data is made with the SDK; what the pages did is checked with it too.
import { randomUUID } from "node:crypto";
import { Client } from "@langchain/langgraph-sdk";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, type PortalBrowser } from "./browser.js";
import { closeClean, eventually, hidden, shown } from "./page.js";
import { type PortalStack, startPortalStack } from "./stack.js";

/** How long a page may take to show what it waits for (a run of a test graph included). */
const WAIT_MS = 15_000;
const TEST_MS = 90_000;
/** The browser's own line for a call the server refused on purpose (a wrong key). */
const REFUSED_LOAD = "Failed to load resource";

let browser: PortalBrowser;

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

/** The checkpoint of the history timeline whose heading is `heading` (e.g. "Step 1"). */
function checkpointItem(page: Page, heading: string): Locator {
  return page
    .getByRole("list", { name: "Checkpoints, newest first" })
    .getByRole("listitem")
    .filter({ has: page.getByRole("heading", { name: heading, exact: true }) });
}

describe("the data pages", () => {
  let stack: PortalStack;
  let client: Client;

  beforeAll(async () => {
    stack = await startPortalStack();
    client = new Client({ apiUrl: stack.stack.url });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const open = (path: string, width?: number) =>
    browser.open(`${stack.portalUrl}${path}`, width ? { viewport: { width, height: 800 } } : undefined);

  it(
    "lists threads, searches them by metadata and status, and opens one",
    async () => {
      const team = `team-${randomUUID().slice(0, 8)}`;
      const red = await client.threads.create({ metadata: { graph_id: "steps", team } });
      const blue = await client.threads.create({ metadata: { team: "blue" } });
      await client.runs.wait(red.thread_id, "steps", { input: { topic: "search" } });

      const opened = await open("threads");
      const { page } = opened;
      await shown(page.getByRole("link", { name: blue.thread_id }));
      await page.getByLabel("Metadata").fill(`team=${team}`);
      await shown(page.getByRole("link", { name: red.thread_id }));
      await hidden(page.getByRole("link", { name: blue.thread_id }));
      expect(new URL(page.url()).searchParams.get("metadata")).toBe(`team=${team}`);
      await shown(page.getByText("1 thread found"));

      await page.getByLabel("Status").selectOption("busy");
      await shown(page.getByText("No threads match."));
      await page.getByLabel("Status").selectOption("idle");
      await shown(page.getByRole("link", { name: red.thread_id }));

      // A key without "=" is refused where it is typed.
      await page.getByLabel("Metadata").fill("team");
      await shown(page.getByText('"team" is not key=value.'));
      await page.getByLabel("Metadata").fill(`team=${team}`);

      await page.getByRole("link", { name: red.thread_id }).click();
      await shown(page.getByRole("heading", { name: "Values" }));
      expect(new URL(page.url()).pathname).toBe(`/portal/threads/${red.thread_id}/state`);
      await shown(page.getByText('"search"').first());
      await shown(page.getByRole("navigation", { name: "Thread" }).getByRole("link", { name: "History" }));
      await closeClean(opened);
    },
    TEST_MS,
  );

  it(
    "shows a thread's history with each step's writers and diff, forks a checkpoint and re-runs from it",
    async () => {
      const thread = await client.threads.create({ metadata: { graph_id: "steps" } });
      await client.runs.wait(thread.thread_id, "steps", { input: { topic: "history" } });

      const opened = await open(`threads/${thread.thread_id}/history`);
      const { page } = opened;
      const third = await shown(checkpointItem(page, "Step 2"));
      // Step 2 was written by "second": it appended to the trail and changed the count.
      await shown(third.getByText("second", { exact: true }).first());
      const diff = third.getByRole("list", { name: "Changes to the values" });
      await shown(diff.getByText("appended to", { exact: false }));
      const changes = (await diff.textContent()) ?? "";
      expect(changes).toContain('"second"');
      expect(changes).toMatch(/changed count\s*1\s*→\s*to\s*2/);
      const input = await shown(checkpointItem(page, "Step -1"));
      await shown(input.getByText("input", { exact: true }));
      for (const step of ["Step 3", "Step 1", "Step 0"]) await shown(checkpointItem(page, step));

      // Edit step 1's values and save them as a new checkpoint branching from it.
      const step1 = checkpointItem(page, "Step 1");
      await step1.getByRole("button", { name: "Edit state and fork" }).click();
      const editor = await shown(page.getByLabel("Values (JSON)"));
      expect(await page.getByLabel("As node").inputValue()).toBe("first");
      const values = JSON.parse(await editor.inputValue()) as Record<string, unknown>;
      expect(values.count).toBe(1);
      await editor.fill(JSON.stringify({ ...values, count: 42 }, null, 2));
      await page.getByRole("button", { name: "Save as new checkpoint" }).click();
      const notice = await shown(page.getByRole("status").filter({ hasText: "New checkpoint" }));
      // The server's newest checkpoint is the fork; the page names and selects it (the URL and the
      // notice may settle a render apart, so each is awaited, bounded).
      const [newest] = await client.threads.getHistory(thread.thread_id, { limit: 1 });
      const forkedId = newest?.checkpoint.checkpoint_id ?? "";
      expect(forkedId).not.toBe("");
      await page.waitForURL((url) => url.searchParams.get("checkpoint") === forkedId, { timeout: WAIT_MS });
      await expect.poll(async () => (await notice.textContent()) ?? "", { timeout: WAIT_MS }).toContain(forkedId);
      const forked = page.locator(".checkpoint-selected");
      await shown(forked.getByText("state update"));
      expect(await forked.getByRole("list", { name: "Changes to the values" }).textContent()).toContain("42");

      expect(newest?.metadata?.source).toBe("update");
      expect((newest?.values as { count?: number } | undefined)?.count).toBe(42);

      // Run again from the fork: the run streams live, ends, and its steps join the history.
      await forked.getByRole("button", { name: "Re-run from here" }).click();
      const rerun = await shown(page.getByRole("region", { name: /^Re-run from step 2/ }));
      await shown(rerun.getByText("Finished", { exact: true }), 30_000);
      await shown(rerun.getByRole("list", { name: "Run events" }));
      await shown(checkpointItem(page, "Step 4"));
      const state = await client.threads.getState(thread.thread_id);
      expect((state.values as { count: number }).count).toBe(44);
      await closeClean(opened);
    },
    TEST_MS,
  );

  it(
    "attaches to a running run from the thread's Runs tab, cancels it, and links to its webhook deliveries",
    async () => {
      const thread = await client.threads.create({ metadata: { graph_id: "slow" } });
      const run = await client.runs.create(thread.thread_id, "slow", {
        input: {},
        config: { configurable: { ticks: 150 } },
        streamMode: ["values", "custom"],
      });
      const opened = await open(`threads/${thread.thread_id}/runs`);
      const { page } = opened;
      await page.getByRole("link", { name: new RegExp(`^Run ${run.run_id}`) }).click();
      await page.getByRole("button", { name: "Attach" }).click();
      expect(new URL(page.url()).searchParams.get("watch")).toBe("1");
      const live = await shown(page.getByRole("region", { name: "Live events" }));
      await shown(live.getByText("Running…", { exact: true }));
      // The custom events of the ticking node arrive as they are written.
      await shown(live.getByRole("list", { name: "Run events" }).getByText("custom", { exact: true }).first());
      await live.getByRole("button", { name: "Cancel run" }).click();
      // Once the run's row says it ended, the same region is titled "Events": the outcome shows in it either way.
      await shown(page.getByRole("region", { name: /^(Live events|Events)$/ }).getByText("Cancelled", { exact: true }));
      const cancelled = await eventually(
        () => client.runs.get(thread.thread_id, run.run_id),
        (current) => current.status === "interrupted",
      );
      expect(cancelled.status).toBe("interrupted");

      await page.getByRole("link", { name: "Webhook deliveries" }).click();
      await shown(page.getByText("This run has no webhook deliveries."));
      expect(new URL(page.url()).searchParams.get("run")).toBe(run.run_id);
      await closeClean(opened);
    },
    TEST_MS,
  );

  it(
    "shows a webhook delivery that failed, with its attempts and error",
    async () => {
      const thread = await client.threads.create();
      const run = await client.runs.create(thread.thread_id, "echo", {
        input: { messages: [{ role: "human", content: "ping" }] },
        webhook: "http://127.0.0.1:9/hook",
      });
      await client.runs.join(thread.thread_id, run.run_id);
      const opened = await open(`webhooks?run=${run.run_id}`);
      const { page } = opened;
      const row = await shown(page.getByRole("row").filter({ hasText: "127.0.0.1:9/hook" }), 30_000);
      await shown(row.getByText("failed", { exact: true }), 30_000);
      expect(await row.textContent()).toMatch(/refused|loopback/);

      await page.getByLabel("Status").selectOption("delivered");
      await shown(page.getByText("This run has no webhook deliveries with status delivered."));
      await closeClean(opened);
    },
    TEST_MS,
  );

  it(
    "answers an interrupt from the inbox: the run streams, the thread finishes and leaves the inbox",
    async () => {
      const thread = await client.threads.create();
      await client.runs.wait(thread.thread_id, "interrupt", { input: { question: "Who is there?" } });
      expect((await client.threads.get(thread.thread_id)).status).toBe("interrupted");

      const opened = await open("interrupts");
      const { page } = opened;
      const card = await shown(
        page.getByRole("listitem").filter({ has: page.getByRole("link", { name: `Thread ${thread.thread_id}` }) }),
      );
      await shown(card.getByText('"Who is there?"'));
      await card.getByRole("button", { name: "Answer" }).click();
      expect(new URL(page.url()).searchParams.get("thread")).toBe(thread.thread_id);
      // The answer field takes the focus, between the quotes of an empty string.
      const field = await shown(page.getByLabel("Answer (JSON)"));
      await eventually(
        () => field.evaluate((element) => element.matches(":focus")),
        (focused) => focused,
      );
      await page.keyboard.type("Ada");
      expect(await page.getByLabel("Answer (JSON)").inputValue()).toBe('"Ada"');
      await page.getByRole("button", { name: "Send answer" }).click();

      const answer = await shown(page.getByRole("region", { name: `Answer to thread ${thread.thread_id.slice(0, 8)}` }));
      await shown(answer.getByText("Finished", { exact: true }), 30_000);
      await shown(answer.getByText('"Hello, Ada"').first());
      await hidden(card);
      const state = await client.threads.getState(thread.thread_id);
      expect((state.values as { answer?: string }).answer).toBe("Hello, Ada");
      await closeClean(opened);
    },
    TEST_MS,
  );

  it(
    "browses the store by namespace, puts, searches and deletes items",
    async () => {
      const root = `e2e-${randomUUID().slice(0, 8)}`;
      await client.store.putItem([root, "alice"], "prefs", { theme: "dark" });

      const opened = await open("store");
      const { page } = opened;
      const tree = page.getByRole("navigation", { name: "Namespaces" });
      await (await shown(tree.getByRole("link", { name: root }))).click();
      await (await shown(tree.getByRole("link", { name: "alice" }))).click();
      expect(new URL(page.url()).searchParams.getAll("ns")).toEqual([root, "alice"]);
      await (await shown(page.getByRole("list", { name: "Items" }).getByRole("link", { name: "prefs" }))).click();
      await shown(page.getByRole("heading", { name: "Item prefs" }));
      await shown(page.getByText('"dark"').first());

      await page.getByRole("button", { name: "Put an item" }).click();
      const namespace = await shown(page.getByLabel("Namespace", { exact: true }));
      expect(await namespace.inputValue()).toBe(`${root}/alice`);
      await namespace.fill(`${root}/bob`);
      await page.getByLabel("Key", { exact: true }).fill("note");
      await page.getByLabel("Value (JSON object)").fill("[1]");
      await page.getByRole("button", { name: "Save item" }).click();
      await shown(page.getByText("An item's value is a JSON object"));
      await page.getByLabel("Value (JSON object)").fill('{"text": "hello"}');
      await page.getByRole("button", { name: "Save item" }).click();
      await shown(page.getByRole("heading", { name: "Item note" }));
      await shown(page.getByText('"hello"').first());
      expect(await client.store.getItem([root, "bob"], "note")).toMatchObject({ value: { text: "hello" } });

      // Every item under the root namespace, filtered by value.
      await tree.getByRole("link", { name: root }).click();
      const items = page.getByRole("list", { name: "Items" });
      await shown(items.getByRole("link", { name: "prefs" }));
      await page.getByLabel("Filter (JSON)").fill('{"text": "hello"}');
      await hidden(items.getByRole("link", { name: "prefs" }));
      await shown(items.getByRole("link", { name: "note" }));

      await page.getByRole("button", { name: "Delete", exact: true }).click();
      await page.getByRole("button", { name: "Yes, delete" }).click();
      await hidden(page.getByRole("heading", { name: "Item note" }));
      await shown(page.getByText("No items match."));
      expect(await client.store.getItem([root, "bob"], "note")).toBeNull();
      await closeClean(opened);
    },
    TEST_MS,
  );

  it(
    "creates a cron (refusing a bad schedule), disables it and deletes it",
    async () => {
      const opened = await open("crons");
      const { page } = opened;
      await (await shown(page.getByRole("link", { name: "New cron" }))).click();
      const assistant = await shown(page.getByLabel("Assistant"));
      await assistant.locator("option", { hasText: "(echo)" }).waitFor({ state: "attached", timeout: WAIT_MS });
      const echo = await assistant.locator("option", { hasText: "(echo)" }).getAttribute("value");
      await assistant.selectOption(echo ?? "");
      await page.getByLabel("Schedule", { exact: true }).fill("every so often");
      await page.getByLabel("Input (JSON, optional)").fill('{"messages": [{"role": "human", "content": "tick"}]}');
      await page.getByRole("button", { name: "Create cron" }).click();
      await shown(page.getByRole("alert").filter({ hasText: "Could not create the cron" }));

      await page.getByLabel("Schedule", { exact: true }).fill("*/5 * * * *");
      await page.getByRole("button", { name: "Create cron" }).click();
      await shown(page.getByRole("heading", { name: /^Cron / }));
      const cronId = new URL(page.url()).pathname.split("/").at(-1) ?? "";
      expect(cronId).toMatch(/^[0-9a-f-]{36}$/);
      await shown(page.getByText("enabled", { exact: true }));
      await shown(page.getByText('"tick"').first());

      await page.getByRole("button", { name: "Disable" }).click();
      await shown(page.getByRole("button", { name: "Enable" }));
      await shown(page.getByText("none while disabled"));
      const [stored] = await client.crons.search({ assistantId: echo ?? undefined });
      expect(stored?.cron_id).toBe(cronId);
      expect(stored?.enabled).toBe(false);

      await page.getByRole("button", { name: "Delete", exact: true }).click();
      await page.getByRole("button", { name: "Yes, delete" }).click();
      await shown(page.getByRole("heading", { name: "Crons", exact: true }));
      await shown(page.getByText("No crons."));
      expect(await client.crons.search({ assistantId: echo ?? undefined })).toEqual([]);
      // The refused schedule was a 400 the browser reports by itself.
      await closeClean(opened, REFUSED_LOAD);
    },
    TEST_MS,
  );

  it(
    "fits every data page in a 420 px window, with its controls reachable by keyboard",
    async () => {
      const thread = await client.threads.create({ metadata: { graph_id: "steps" } });
      await client.runs.wait(thread.thread_id, "steps", { input: { topic: "narrow" } });
      const pages = [
        ["threads", "Threads"],
        [`threads/${thread.thread_id}/state`, "Values"],
        [`threads/${thread.thread_id}/history`, "Step 3"],
        [`threads/${thread.thread_id}/runs`, "Status"],
        ["interrupts", "Interrupts"],
        ["store", "Namespaces"],
        ["crons", "Crons"],
        ["crons/new", "New cron"],
        ["webhooks", "Webhooks"],
      ] as const;
      for (const [path, heading] of pages) {
        const opened = await open(path, 420);
        const { page } = opened;
        await shown(page.getByRole("main").getByText(heading, { exact: true }).first());
        const width = Number(await page.evaluate("document.documentElement.scrollWidth"));
        expect(width, `${path} is wider than the window`).toBeLessThanOrEqual(420);
        await closeClean(opened);
      }

      // The history's actions are reached with Tab alone.
      const opened = await open(`threads/${thread.thread_id}/history`, 420);
      const { page } = opened;
      const fork = await shown(checkpointItem(page, "Step 3").getByRole("button", { name: "Edit state and fork" }));
      let reached = false;
      for (let i = 0; i < 60 && !reached; i++) {
        await page.keyboard.press("Tab");
        reached = await fork.evaluate((element) => element.matches(":focus"));
      }
      expect(reached).toBe(true);
      await page.keyboard.press("Enter");
      await shown(page.getByLabel("Values (JSON)"));
      await page.keyboard.press("Escape");
      await hidden(page.getByLabel("Values (JSON)"));
      await closeClean(opened);
    },
    TEST_MS,
  );
});

describe("signing in", () => {
  let stack: PortalStack;

  beforeAll(async () => {
    stack = await startPortalStack({ apiKeys: "alice=sk-test-key" });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it(
    "asks for a credential, says which kind the server refused, and loads the page with the right API key",
    async () => {
      const opened = await browser.open(`${stack.portalUrl}threads`);
      const { page } = opened;
      const dialog = await shown(page.getByRole("dialog", { name: "Sign in" }));
      expect(await dialog.getByRole("radio", { name: /^API key/ }).isChecked()).toBe(true);

      await dialog.getByLabel("API key", { exact: true }).fill("sk-wrong");
      await dialog.getByRole("button", { name: "Sign in" }).click();
      await shown(dialog.getByText("The server did not accept that API key."));

      // This server takes API keys only: a bearer token is refused, and the form says so.
      await dialog.getByRole("radio", { name: /^Bearer token/ }).check();
      await dialog.getByLabel("Bearer token", { exact: true }).fill("some-token");
      await dialog.getByRole("button", { name: "Sign in" }).click();
      await shown(dialog.getByText("The server did not accept that bearer token."));

      await dialog.getByRole("radio", { name: /^API key/ }).check();
      await dialog.getByLabel("API key", { exact: true }).fill("sk-test-key");
      await dialog.getByRole("button", { name: "Sign in" }).click();
      await hidden(dialog);
      await shown(page.getByText("No threads yet."));
      expect(await page.evaluate('sessionStorage.getItem("langopen.apiKey")')).toBe("sk-test-key");
      await closeClean(opened, REFUSED_LOAD);
    },
    TEST_MS,
  );
});
