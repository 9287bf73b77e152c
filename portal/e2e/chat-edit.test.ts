// The assistant's chat in a real browser against the real server and its chat test graph (a fake
// model that always answers the same words): a human message edited and the last answer
// regenerated, each a fork of the thread from an earlier checkpoint. The transcript shows the new
// branch; through the SDK, the thread's state is that branch and its history still holds the old
// one. While a run starts (its call held back), nothing can be edited or regenerated.
import { Client } from "@langchain/langgraph-sdk";
import type { Page, Route } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, type PortalBrowser } from "./browser.js";
import { closeClean, hidden as gone, shown as visible } from "./page.js";
import { type PortalStack, startPortalStack } from "./stack.js";

/** What the chat graph's model answers, whatever it is told. */
const ANSWER = "Hello from the model";
/** The call that starts a run from the chat. */
const CREATE_RUN = "**/portal/rpc/langopen.data.v1.RunService/CreateAndStreamRun";
const WAIT_MS = 20_000;
const TEST_MS = 120_000;

interface Message {
  id: string;
  type: string;
  content: unknown;
}
type ChatValues = { messages?: Message[] };

let browser: PortalBrowser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

/** The run's status badge says `label` (Starting…, Running…, Finished, …). */
async function statusIs(page: Page, label: string): Promise<void> {
  await visible(page.getByRole("main").getByText(label, { exact: true }).first());
}

/**
 * Holds the page's next CreateAndStreamRun until the function returned is called: meanwhile the
 * run the page started is active (starting) and stays so, however fast the graph would answer.
 */
async function holdNextRun(page: Page): Promise<() => void> {
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  await page.route(
    CREATE_RUN,
    async (route: Route) => {
      await released;
      // The page may have closed meanwhile (a failed test): nothing left to let through.
      await route.continue().catch(() => {});
    },
    { times: 1 },
  );
  return release;
}

const messagesOf = (values: ChatValues) => values.messages ?? [];
const contents = (values: ChatValues) => messagesOf(values).map((message) => [message.type, message.content]);

describe("the chat's edit and regenerate", () => {
  let portal: PortalStack;
  let sdk: Client<ChatValues>;
  beforeAll(async () => {
    portal = await startPortalStack();
    sdk = new Client({ apiUrl: portal.stack.url, apiKey: null });
  });
  afterAll(() => portal?.stop());

  it(
    "edits the first message and regenerates the answer, each a fork that keeps the old branch",
    async () => {
      const tab = await browser.open(`${portal.portalUrl}assistants/chat/run`);
      const { page } = tab;
      await visible(page.getByRole("button", { name: "Chat", pressed: true }));
      const conversation = page.getByRole("list", { name: "Conversation" });
      const bubbles = conversation.getByRole("listitem");
      const bubble = (text: string) => bubbles.filter({ has: page.getByText(text, { exact: true }) });
      const editButton = (text: string) => conversation.getByRole("button", { name: `Edit message “${text}”`, exact: true });
      const regenerate = conversation.getByRole("button", { name: "Regenerate", exact: true });
      const composer = page.getByLabel("Message", { exact: true });
      const texts = () => bubbles.locator(".chat-text").allTextContents();

      // Two exchanges; the second's run held back while the page shows what it allows meanwhile.
      await composer.fill("First question");
      await composer.press("Enter");
      await statusIs(page, "Finished");
      await expect.poll(texts, { timeout: WAIT_MS }).toEqual(["First question", ANSWER]);
      const release = await holdNextRun(page);
      await composer.fill("Second question");
      await composer.press("Enter");
      await statusIs(page, "Starting…");
      await visible(bubble("Second question"));
      expect(await editButton("First question").isDisabled()).toBe(true);
      expect(await editButton("Second question").isDisabled()).toBe(true);
      expect(await regenerate.isDisabled()).toBe(true);
      release();
      await statusIs(page, "Finished");
      await expect.poll(texts, { timeout: WAIT_MS }).toEqual(["First question", ANSWER, "Second question", ANSWER]);
      expect(await editButton("First question").isEnabled()).toBe(true);
      expect(await regenerate.isEnabled()).toBe(true);
      // Only the last answer can be regenerated.
      expect(await regenerate.count()).toBe(1);
      expect(await bubbles.last().getByRole("button", { name: "Regenerate" }).count()).toBe(1);

      await expect.poll(() => new URL(page.url()).searchParams.get("thread"), { timeout: WAIT_MS }).toMatch(/^[0-9a-f-]{36}$/);
      const threadId = new URL(page.url()).searchParams.get("thread") ?? "";
      const twoExchanges = messagesOf((await sdk.threads.getState(threadId)).values);
      expect(twoExchanges.map((message) => message.content)).toEqual(["First question", ANSWER, "Second question", ANSWER]);
      const oldHistory = await sdk.threads.getHistory(threadId, { limit: 100 });

      // Escape leaves the editor as it was, the focus back on its Edit button.
      await editButton("First question").click();
      const editor = conversation.getByLabel("Edited message", { exact: true });
      await visible(editor);
      expect(await editor.inputValue()).toBe("First question");
      await editor.fill("Not kept");
      await editor.press("Escape");
      await gone(editor);
      await expect
        .poll(() => editButton("First question").evaluate((element) => element.matches(":focus")), { timeout: WAIT_MS })
        .toBe(true);
      expect(await texts()).toEqual(["First question", ANSWER, "Second question", ANSWER]);

      // Enter saves: the conversation goes on from before the first message, with the edited one.
      await editButton("First question").click();
      await editor.fill("First question, edited");
      const releaseEdit = await holdNextRun(page);
      await editor.press("Enter");
      await gone(editor);
      await statusIs(page, "Starting…");
      await expect.poll(texts, { timeout: WAIT_MS }).toEqual(["First question, edited"]);
      expect(await editButton("First question, edited").isDisabled()).toBe(true);
      expect(await page.getByRole("button", { name: "Send" }).isDisabled()).toBe(true);
      releaseEdit();
      await statusIs(page, "Finished");
      await expect.poll(texts, { timeout: WAIT_MS }).toEqual(["First question, edited", ANSWER]);

      // The thread is the edited branch: new messages, forked from the checkpoint before the first message.
      const edited = messagesOf((await sdk.threads.getState(threadId)).values);
      expect(edited.map((message) => [message.type, message.content])).toEqual([
        ["human", "First question, edited"],
        ["ai", ANSWER],
      ]);
      const oldIds = new Set(twoExchanges.map((message) => message.id));
      for (const message of edited) expect(oldIds.has(message.id)).toBe(false);
      const history = await sdk.threads.getHistory(threadId, { limit: 100 });
      const kept = new Set(history.map((state) => state.checkpoint.checkpoint_id));
      for (const state of oldHistory) expect(kept.has(state.checkpoint.checkpoint_id)).toBe(true);
      expect(
        history.some(
          (state) =>
            messagesOf(state.values)
              .map((message) => message.id)
              .join() === [...oldIds].join(),
        ),
      ).toBe(true);
      const oldCheckpoints = new Map(oldHistory.map((state) => [state.checkpoint.checkpoint_id, state]));
      const forkedFrom = history
        .filter((state) => !oldCheckpoints.has(state.checkpoint.checkpoint_id ?? ""))
        .map((state) => oldCheckpoints.get(state.parent_checkpoint?.checkpoint_id ?? ""))
        .filter((state) => state !== undefined);
      expect(forkedFrom).toHaveLength(1);
      expect(messagesOf(forkedFrom[0]?.values ?? {})).toEqual([]);

      // Regenerate: again from the edited message, the answer being redone off the transcript meanwhile.
      const releaseRegenerate = await holdNextRun(page);
      await regenerate.click();
      await statusIs(page, "Starting…");
      await expect.poll(texts, { timeout: WAIT_MS }).toEqual(["First question, edited"]);
      expect(await editButton("First question, edited").isDisabled()).toBe(true);
      releaseRegenerate();
      await statusIs(page, "Finished");
      await expect.poll(texts, { timeout: WAIT_MS }).toEqual(["First question, edited", ANSWER]);
      const regenerated = messagesOf((await sdk.threads.getState(threadId)).values);
      expect(contents({ messages: regenerated })).toEqual([
        ["human", "First question, edited"],
        ["ai", ANSWER],
      ]);
      expect(regenerated[0]?.id).toBe(edited[0]?.id);
      expect(regenerated[1]?.id).not.toBe(edited[1]?.id);
      const afterRegenerate = await sdk.threads.getHistory(threadId, { limit: 100 });
      expect(afterRegenerate.some((state) => messagesOf(state.values).some((message) => message.id === edited[1]?.id))).toBe(
        true,
      );

      // Once more: the fork point is found again on the regenerated branch.
      const releaseAgain = await holdNextRun(page);
      await regenerate.click();
      await statusIs(page, "Starting…");
      releaseAgain();
      await statusIs(page, "Finished");
      await expect.poll(texts, { timeout: WAIT_MS }).toEqual(["First question, edited", ANSWER]);
      const again = messagesOf((await sdk.threads.getState(threadId)).values);
      expect(again).toHaveLength(2);
      expect(again[0]?.id).toBe(edited[0]?.id);
      expect([edited[1]?.id, regenerated[1]?.id]).not.toContain(again[1]?.id);

      // Reloaded, the conversation is the thread's current branch.
      await page.reload();
      await visible(bubble("First question, edited"));
      await expect.poll(texts, { timeout: WAIT_MS }).toEqual(["First question, edited", ANSWER]);
      await closeClean(tab);
    },
    TEST_MS,
  );
});
