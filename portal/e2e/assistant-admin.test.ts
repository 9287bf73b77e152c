// Managing assistants in a real browser against the real server: one created from the form (bad
// JSON refused first), its name and metadata edited into a new version, one deleted after the
// question (a graph's default one saying so), all of it from the keyboard too, and a credential that
// may only read refused with the server's reason. What the pages did is checked with the SDK; every
// wait is on a condition, bounded; every page ends with no console problem.
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statusOf } from "../../services/launcher/src/test-fixtures/status.js";
import { launchBrowser, type PortalBrowser } from "./browser.js";
import { closeClean, focused, hidden, shown, tabTo } from "./page.js";
import { type PortalStack, startPortalStack } from "./stack.js";

/** How long a page may take to show what it waits for. */
const WAIT_MS = 15_000;
const TEST_MS = 90_000;
/** The browser's own line for a call the server refused on purpose (no credential yet, or a 403). */
const REFUSED_LOAD = "Failed to load resource";
/** Custom auth whose `token-reader` may read but not create assistants ("Needs assistants:write"). */
const AUTH_PROJECT = fileURLToPath(
  new URL("../../services/launcher/src/test-fixtures/auth-project/langgraph.json", import.meta.url),
);

let browser: PortalBrowser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

/** The id of the assistant whose page is open (/portal/assistants/:id/…), once the page is there. */
async function openedAssistantId(page: Page): Promise<string> {
  await page.waitForURL(/\/portal\/assistants\/[0-9a-f-]{36}\/graph$/, { timeout: WAIT_MS });
  return new URL(page.url()).pathname.split("/")[3] ?? "";
}

describe("managing assistants", () => {
  let portal: PortalStack;
  let sdk: Client;
  beforeAll(async () => {
    portal = await startPortalStack();
    sdk = new Client({ apiUrl: portal.stack.url, apiKey: null });
  });
  afterAll(() => portal?.stop());

  it(
    "creates an assistant for a graph from the form, after refusing fields that are not JSON objects",
    async () => {
      const before = await sdk.assistants.count({ graphId: "echo" });
      const opened = await browser.open(`${portal.portalUrl}assistants?graph=echo`);
      const { page } = opened;
      await (await shown(page.getByRole("link", { name: "New assistant" }))).click();
      await shown(page.getByRole("heading", { level: 1, name: "New assistant" }));
      expect(new URL(page.url()).pathname).toBe("/portal/assistants/new");
      expect(new URL(page.url()).searchParams.get("graph")).toBe("echo");
      expect(await page.getByLabel("Graph").inputValue()).toBe("echo");

      await page.getByLabel("Name", { exact: true }).fill("Support desk");
      await page.getByLabel("Description (optional)").fill("Answers the support queue");
      await page.getByLabel("Configurable (JSON object, optional)").fill('{"tone": "warm", "limit": 3}');
      await page.getByLabel("Context (JSON object, optional)").fill("[1]");
      const metadata = page.getByLabel("Metadata (JSON object, optional)");
      await metadata.fill('{"team": ');
      await page.getByRole("button", { name: "Create assistant" }).click();
      await shown(page.getByText(/^Not valid JSON: /));
      await shown(page.getByText('The context must be a JSON object, e.g. {"key": "value"}.', { exact: true }));
      expect(await metadata.getAttribute("aria-invalid")).toBe("true");
      expect(new URL(page.url()).pathname).toBe("/portal/assistants/new");
      expect(await sdk.assistants.count({ graphId: "echo" })).toBe(before);

      await page.getByLabel("Context (JSON object, optional)").fill("");
      await metadata.fill('{"team": "support", "tier": 2}');
      await page.getByRole("button", { name: "Create assistant" }).click();
      const assistantId = await openedAssistantId(page);
      await shown(page.getByRole("heading", { level: 1, name: "Support desk" }));

      const stored = await sdk.assistants.get(assistantId);
      expect(stored).toMatchObject({
        graph_id: "echo",
        name: "Support desk",
        description: "Answers the support queue",
        version: 1,
      });
      expect(stored.config).toEqual({ configurable: { tone: "warm", limit: 3 } });
      expect(stored.metadata).toEqual({ team: "support", tier: 2 });
      expect(await sdk.assistants.count({ graphId: "echo" })).toBe(before + 1);
      const found = await sdk.assistants.search({ graphId: "echo", metadata: { team: "support" } });
      expect(found.map((assistant) => assistant.assistant_id)).toEqual([assistantId]);
      await closeClean(opened);
    },
    TEST_MS,
  );

  it(
    "edits the name, description and metadata into one new version, refusing to drop a metadata key",
    async () => {
      const created = await sdk.assistants.create({ graphId: "echo", name: "Triage", metadata: { team: "red" } });
      const opened = await browser.open(`${portal.portalUrl}assistants/${created.assistant_id}/config`);
      const { page } = opened;
      await shown(page.getByText("version 1", { exact: true }));
      await page.getByRole("button", { name: "Edit details" }).click();
      const name = page.getByLabel("Name", { exact: true });
      expect(await name.inputValue()).toBe("Triage");
      await name.fill("Triage desk");
      await page.getByLabel("Description (optional)").fill("Sorts what comes in");
      const metadata = page.getByLabel("Metadata (JSON object)");
      expect(JSON.parse(await metadata.inputValue())).toEqual({ team: "red" });
      await metadata.fill('{"tier": 1}');
      await page.getByRole("button", { name: "Save details" }).click();
      await shown(page.getByText(/put back “team”, or set it to null\.$/));
      expect((await sdk.assistants.getVersions(created.assistant_id)).length).toBe(1);

      await metadata.fill('{"team": "blue", "tier": 1}');
      await page.getByRole("button", { name: "Save details" }).click();
      await shown(page.getByText("version 2", { exact: true }));
      await shown(page.getByRole("heading", { level: 1, name: "Triage desk" }));
      await shown(page.getByText("Sorts what comes in", { exact: true }));

      const stored = await sdk.assistants.get(created.assistant_id);
      expect(stored).toMatchObject({ name: "Triage desk", description: "Sorts what comes in", version: 2 });
      expect(stored.metadata).toEqual({ team: "blue", tier: 1 });
      const versions = await sdk.assistants.getVersions(created.assistant_id);
      expect(versions.map((version) => version.version).sort()).toEqual([1, 2]);
      expect(versions.find((version) => version.version === 1)?.name).toBe("Triage");

      // The versions tab lists the new one as the one in use.
      await page.getByRole("navigation", { name: "Assistant" }).getByRole("link", { name: "Versions" }).click();
      const newest = page.getByRole("listitem").filter({ has: page.getByRole("heading", { name: "Version 2", exact: true }) });
      await shown(newest.getByText("in use", { exact: true }));
      await closeClean(opened);
    },
    TEST_MS,
  );

  it(
    "deletes an assistant after asking, and says so when the assistant is its graph's default",
    async () => {
      const created = await sdk.assistants.create({ graphId: "echo", name: "Short lived" });
      const opened = await browser.open(`${portal.portalUrl}assistants/${created.assistant_id}/graph`);
      const { page } = opened;
      await shown(page.getByRole("heading", { level: 1, name: "Short lived" }));
      // Its graph drawn first: the page has asked all it asks about the assistant.
      await shown(page.locator(".react-flow__node").filter({ hasText: "reply" }));
      await page.getByRole("button", { name: "Delete", exact: true }).click();
      await shown(page.getByText("Delete “Short lived”? Its versions go with it; its threads stay.", { exact: true }));
      await page.getByRole("button", { name: "Yes, delete" }).click();
      await page.waitForURL(/\/portal\/assistants\?graph=echo$/, { timeout: WAIT_MS });
      const group = await shown(page.getByRole("region", { name: "Graph echo" }));
      await shown(group.getByRole("link", { name: "echo", exact: true }));
      await hidden(page.getByRole("link", { name: "Short lived" }));
      expect(await statusOf(sdk.assistants.get(created.assistant_id))).toBe(404);

      // The graph's default assistant: the question says what it is; cancelled, it stays.
      await group.getByRole("link", { name: "echo", exact: true }).click();
      await shown(page.getByRole("heading", { level: 1, name: "echo" }));
      await page.getByRole("button", { name: "Delete", exact: true }).click();
      await shown(page.getByText(/^Delete “echo”\? It is the default assistant of the graph echo, made by the server/));
      await page.getByRole("button", { name: "Cancel" }).click();
      await shown(page.getByRole("button", { name: "Delete", exact: true }));
      expect((await sdk.assistants.get("echo")).metadata).toMatchObject({ created_by: "system" });
      await closeClean(opened);
    },
    TEST_MS,
  );

  it(
    "works from the keyboard: Tab through the create form and Enter creates; Enter edits; Escape cancels a delete",
    async () => {
      const opened = await browser.open(`${portal.portalUrl}assistants/new?graph=echo`);
      const { page } = opened;
      const name = page.getByLabel("Name", { exact: true });
      expect(await tabTo(page, name, 40)).toBe(true);
      await page.keyboard.type("Typed by keyboard");
      await page.keyboard.press("Tab");
      expect(await focused(page.getByLabel("Description (optional)"))).toBe(true);
      await page.keyboard.press("Tab");
      expect(await focused(page.getByLabel("Configurable (JSON object, optional)"))).toBe(true);
      await page.keyboard.type('{"tone": "dry"}');
      // The remaining fields, then the button, in order.
      expect(await tabTo(page, page.getByRole("button", { name: "Create assistant" }), 3)).toBe(true);
      await page.keyboard.press("Enter");
      const assistantId = await openedAssistantId(page);
      await shown(page.getByRole("heading", { level: 1, name: "Typed by keyboard" }));
      expect((await sdk.assistants.get(assistantId)).config).toEqual({ configurable: { tone: "dry" } });

      // Editing: the form takes the focus; Enter in the name saves; the focus comes back to its button.
      await page.getByRole("navigation", { name: "Assistant" }).getByRole("link", { name: "Config" }).click();
      const edit = page.getByRole("button", { name: "Edit details" });
      expect(await tabTo(page, edit, 40)).toBe(true);
      await page.keyboard.press("Enter");
      const editName = page.getByLabel("Name", { exact: true });
      await shown(editName);
      expect(await focused(editName)).toBe(true);
      await page.keyboard.press("End");
      await page.keyboard.type(", edited");
      await page.keyboard.press("Enter");
      await shown(page.getByText("version 2", { exact: true }));
      await shown(edit);
      expect(await focused(edit)).toBe(true);
      expect((await sdk.assistants.get(assistantId)).name).toBe("Typed by keyboard, edited");

      // Delete (in the header, back past the tabs) asks; the focus goes to Cancel, and Escape takes the question back.
      const remove = page.getByRole("button", { name: "Delete", exact: true });
      expect(await tabTo(page, remove, 8, "Shift+Tab")).toBe(true);
      await page.keyboard.press("Enter");
      const cancel = await shown(page.getByRole("button", { name: "Cancel" }));
      expect(await focused(cancel)).toBe(true);
      await page.keyboard.press("Escape");
      await shown(remove);
      expect(await focused(remove)).toBe(true);
      expect((await sdk.assistants.get(assistantId)).assistant_id).toBe(assistantId);
      await closeClean(opened);
    },
    TEST_MS,
  );
});

describe("a credential that may only read", () => {
  let portal: PortalStack;
  let alice: Client;
  beforeAll(async () => {
    portal = await startPortalStack({ configPath: AUTH_PROJECT });
    alice = new Client({ apiUrl: portal.stack.url, apiKey: null, defaultHeaders: { Authorization: "Bearer token-alice" } });
  });
  afterAll(() => portal?.stop());

  it(
    "is refused creating an assistant: the form shows the server's 403 and its reason",
    async () => {
      const opened = await browser.open(`${portal.portalUrl}assistants/new?graph=whoami`);
      const { page } = opened;
      const dialog = await shown(page.getByRole("dialog", { name: "Sign in" }));
      await dialog.getByRole("radio", { name: /^Bearer token/ }).check();
      await dialog.getByLabel("Bearer token", { exact: true }).fill("token-reader");
      await dialog.getByRole("button", { name: "Sign in" }).click();
      await hidden(dialog);

      await page.getByLabel("Name", { exact: true }).fill("Not allowed");
      await page.getByRole("button", { name: "Create assistant" }).click();
      const refusal = await shown(page.getByRole("alert").filter({ hasText: "Could not create the assistant" }));
      await shown(refusal.getByText("Could not create the assistant: Permission denied", { exact: true }));
      await shown(refusal.getByText(/Needs assistants:write$/));
      expect(new URL(page.url()).pathname).toBe("/portal/assistants/new");
      // The same server lets a writer create one: the refusal was the credential's.
      const written = await alice.assistants.create({ graphId: "whoami", name: "Allowed" });
      expect(written.metadata).toMatchObject({ owner: "alice" });
      await closeClean(opened, REFUSED_LOAD);
    },
    TEST_MS,
  );
});
