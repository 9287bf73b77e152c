// The platform's portal (served by the control plane) in a real browser against a real platform:
// sign-in with the admin key, an API key created and shown once, a viewer key refused, a
// deployment created from a git repository and its build followed live until it serves, its own
// portal showing its agents, its revisions and a rollback, a secret set and unset without its
// value ever on the page, a failed build's reason, a deployment deleted by typing its name, the
// audit log of all that; a phone-sized window and the keyboard. Every wait is on a condition,
// bounded; every page ends with no console problem but the browser's own line for each call the
// test made the server refuse.
import { randomBytes } from "node:crypto";
import { realpath, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger } from "@langopen/common";
import { createTestDatabase, makeTempDir, type TestDatabase, until } from "@langopen/testkit";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Platform, startPlatform } from "../../services/control-plane/src/compose.js";
import { dropDeploymentDatabases } from "../../services/control-plane/src/test-fixtures/databases.js";
import { git, makeProjectRepo } from "../../services/control-plane/src/test-fixtures/project.js";
import { launchBrowser, type PortalBrowser, type PortalPage } from "./browser.js";
import { hidden as gone, shown as visible } from "./page.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PORTAL_DIST = fileURLToPath(new URL("../dist", import.meta.url));
const ADMIN_KEY = `admin-${randomBytes(24).toString("hex")}`;
const logger = createLogger({ service: "test", level: "silent" });
/** How long a page may take to show what it waits for. */
const WAIT_MS = 20_000;
/** A build runs git and npm: the whole of it, from the form to a serving data plane. */
const BUILD_MS = 180_000;
const TEST_MS = 90_000;
/** What the browser itself logs for each call the server refused (401: no key yet; 403: a viewer's key). */
const REFUSED = /^error: Failed to load resource: the server responded with a status of 40[13] /;

let browser: PortalBrowser;
let platform: Platform;
let database: TestDatabase;
let repoDir: string;
let repoUrl: string;
let platformDir: string;
let portalUrl: string;

beforeAll(async () => {
  browser = await launchBrowser();
  repoDir = await makeTempDir("repo");
  repoUrl = await makeProjectRepo(repoDir);
  database = await createTestDatabase(inject("databaseUrl"));
  // Inside the repository: the graphs find @langchain/langgraph in its node_modules, as projects served from it do.
  // (Its real path: the builder refuses dependencies that resolve outside the build's source.)
  const nodeModules = await realpath(path.join(ROOT, "node_modules"));
  platformDir = path.join(nodeModules, ".cache/langopen-test", `portal-platform-${randomBytes(4).toString("hex")}`);
  platform = await startPlatform(
    {
      host: "127.0.0.1",
      port: 0,
      dataDir: platformDir,
      databaseUrl: database.url,
      adminKey: ADMIN_KEY,
      buildTimeoutSeconds: 180,
      buildConcurrency: 2,
      defaultSandbox: "NODE",
      drainMs: 2_000,
      keyCacheSeconds: 1,
      loopMs: 200,
      portal: { port: 0, dir: PORTAL_DIST },
    },
    logger,
  );
  portalUrl = platform.portalUrl as string;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
  // What a failed test may have left: the databases of this platform's deployments (only its own).
  if (database) await dropDeploymentDatabases(database.url, inject("databaseUrl"));
  await database?.drop();
  if (platformDir) await rm(platformDir, { recursive: true, force: true });
  if (repoDir) await rm(repoDir, { recursive: true, force: true });
}, 120_000);

/**
 * The page at `pathname` (under /portal/), signed in with `key`: the deployments' list asks for a
 * key with the login form (its call is refused without one); the key stays in the tab's session.
 */
async function openSignedIn(
  pathname: string,
  key = ADMIN_KEY,
  viewport?: { width: number; height: number },
): Promise<PortalPage> {
  const tab = await browser.open(new URL("deployments", portalUrl).toString(), viewport ? { viewport } : {});
  const dialog = await visible(tab.page.getByRole("dialog", { name: "Sign in" }));
  await dialog.getByLabel("API key", { exact: true }).fill(key);
  await dialog.getByRole("button", { name: "Sign in" }).click();
  await gone(dialog);
  await visible(tab.page.getByRole("heading", { level: 1, name: "Deployments" }));
  if (pathname !== "deployments") await tab.page.goto(new URL(pathname, portalUrl).toString());
  return tab;
}

/** The page had no console error or warning but the browser's lines for refused calls; then it is closed. */
async function done(tab: PortalPage): Promise<void> {
  expect(tab.problems.filter((line) => !REFUSED.test(line))).toEqual([]);
  await tab.context.close();
}

/** Opens one of the deployment's tabs. */
async function openTab(page: Page, name: string): Promise<void> {
  await page.getByRole("navigation", { name: "Deployment" }).getByRole("link", { name, exact: true }).click();
}

/** The page is no wider than the window: nothing to scroll sideways (tables scroll inside their frame). */
async function fitsWidth(page: Page): Promise<boolean> {
  return (await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")) === true;
}

describe("the platform's portal", () => {
  let viewerKey: string;

  it(
    "shows the platform's pages, not the agents', and asks for a key",
    async () => {
      const config = await fetch(new URL("config.json", portalUrl));
      expect(await config.json()).toEqual({ mode: "platform" });

      const tab = await openSignedIn("./");
      const { page } = tab;
      await visible(page.getByRole("heading", { level: 1, name: "Deployments" }));
      expect(new URL(page.url()).pathname).toBe("/portal/deployments");
      const nav = page.getByRole("navigation", { name: "Main" });
      expect(await nav.getByRole("link").allTextContents()).toEqual(["Deployments", "API keys", "Secrets", "Audit log"]);
      await visible(page.getByText("No deployments yet.", { exact: false }));

      // The agents' routes are not the platform's.
      await page.goto(new URL("assistants", portalUrl).toString());
      await visible(page.getByRole("heading", { level: 1, name: "Page not found" }));
      await page.getByRole("link", { name: "Go to the deployments" }).click();
      await visible(page.getByRole("heading", { level: 1, name: "Deployments" }));
      await done(tab);
    },
    TEST_MS,
  );

  it(
    "creates an API key and shows it once; the list shows only its prefix",
    async () => {
      const tab = await openSignedIn("keys");
      const { page, context } = tab;
      await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: new URL(portalUrl).origin });
      await visible(page.getByRole("heading", { level: 1, name: "API keys" }));
      // The admin key itself is listed (made at the platform's first start).
      await visible(page.getByRole("rowheader", { name: "admin", exact: false }).first());

      await page.getByRole("button", { name: "New key" }).click();
      await page.getByLabel("Name", { exact: true }).fill("ci-viewer");
      await page.getByLabel("Role").selectOption({ label: "viewer: reads only" });
      await page.getByLabel("Deployment").selectOption({ label: "All deployments" });
      await page.getByRole("button", { name: "Create key" }).click();

      const dialog = await visible(page.getByRole("dialog", { name: 'Key "ci-viewer" created' }));
      await visible(dialog.getByText("it is shown only this once", { exact: false }));
      const field = dialog.getByLabel("API key", { exact: true });
      viewerKey = await field.inputValue();
      expect(viewerKey).toMatch(/^lok_[A-Za-z0-9_-]{43}$/);
      await dialog.getByRole("button", { name: "Copy" }).click();
      await visible(dialog.getByText("Copied to the clipboard.", { exact: true }));
      expect(await page.evaluate("navigator.clipboard.readText()")).toBe(viewerKey);
      await dialog.getByRole("button", { name: "Done" }).click();
      await gone(dialog);

      const row = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: "ci-viewer" }) });
      await visible(row);
      await visible(row.getByText(`${viewerKey.slice(0, 10)}…`, { exact: true }));
      await visible(row.getByRole("cell", { name: "viewer", exact: true }));
      await visible(row.getByText("all deployments", { exact: true }));
      await visible(row.getByText("never", { exact: true }));
      expect(await page.content()).not.toContain(viewerKey);
      // Never again: not after a reload either.
      await page.reload();
      await visible(row);
      expect(await page.content()).not.toContain(viewerKey);
      await done(tab);
    },
    TEST_MS,
  );

  it(
    "refuses a viewer key a deployment, and says what is missing",
    async () => {
      const tab = await openSignedIn("deployments/new", viewerKey);
      const { page } = tab;
      await visible(page.getByRole("heading", { level: 1, name: "New deployment" }));
      await page.getByLabel("Name", { exact: true }).fill("viewer-try");
      await page.getByLabel("Git URL").fill(repoUrl);
      await page.getByRole("button", { name: "Create deployment" }).click();
      const alert = await visible(page.getByRole("alert").filter({ hasText: "Permission denied" }));
      expect(await alert.textContent()).toMatch(/Could not create the deployment: Permission denied/);
      expect(await alert.textContent()).toMatch(/"ci-viewer" \(viewer\) may not do deployment\.create/);
      await visible(page.getByText("Creating a deployment needs a developer or admin key", { exact: false }));
      expect(new URL(page.url()).pathname).toBe("/portal/deployments/new");
      await done(tab);
    },
    TEST_MS,
  );

  it(
    "creates a deployment from a git repository and follows its build log live until it serves",
    async () => {
      const tab = await openSignedIn("deployments");
      const { page } = tab;
      await page.getByRole("link", { name: "New deployment" }).click();
      await visible(page.getByRole("heading", { level: 1, name: "New deployment" }));
      await page.getByLabel("Name", { exact: true }).fill("support-bot");
      await page.getByLabel("Git URL").fill(repoUrl);
      await page.getByLabel("Ref").fill("main");
      await page.getByRole("button", { name: "Add a variable" }).click();
      await page.getByLabel("Name of variable 1").fill("GREETING_STYLE");
      await page.getByLabel("Value of variable 1").fill("plain");
      await page.getByRole("button", { name: "Create deployment" }).click();

      // Straight to the build's log, streaming while the revision builds.
      await page.waitForURL(/\/portal\/deployments\/support-bot\/logs$/, { timeout: WAIT_MS });
      const log = page.getByRole("log", { name: /^Build log/ });
      await visible(log);
      const status = page.getByRole("status").filter({ hasText: "Revision 1" });
      let seenLive = false;
      await until(
        async () => {
          const text = (await log.textContent()) ?? "";
          const line = (await status.textContent().catch(() => "")) ?? "";
          // A failed build fails here, with what its log says.
          if (/failed/.test(line)) throw new Error(`the build failed: ${line}\n${text}`);
          if (text.split("\n").length >= 2 && /awaiting build|building/.test(line) && line.includes("Live")) seenLive = true;
          return /deployed/.test(line) && line.includes("ready") && line.includes("End of log");
        },
        "the build to finish and the deployment to be ready",
        { timeoutMs: BUILD_MS, intervalMs: 100 },
      );
      expect(seenLive).toBe(true);
      const text = (await log.textContent()) ?? "";
      expect(text).toMatch(/install/i);
      // Following the end: scrolled to the bottom of what came.
      const scrolled = await log.evaluate((element) => element.scrollHeight - element.scrollTop - element.clientHeight);
      expect(scrolled).toBeLessThanOrEqual(24);
      const pause = page.getByRole("button", { name: "Pause auto-scroll" });
      await pause.click();
      await visible(page.getByRole("button", { name: "Resume auto-scroll", pressed: true }));
      await page.getByRole("button", { name: "Resume auto-scroll" }).click();

      // The runtime's log, from the same tab.
      await page.getByRole("button", { name: "Runtime", exact: true }).click();
      expect(new URL(page.url()).searchParams.get("kind")).toBe("runtime");
      await visible(page.getByRole("log", { name: "Runtime log" }));
      await until(async () => ((await page.getByRole("log").textContent()) ?? "").length > 0, "runtime log lines", {
        timeoutMs: WAIT_MS,
      });

      // Overview: status, conditions, where it answers.
      await openTab(page, "Overview");
      const conditions = page.getByRole("table").filter({ has: page.getByRole("columnheader", { name: "Reason" }) });
      const ready = conditions.getByRole("row").filter({ has: page.getByRole("rowheader", { name: "Ready" }) });
      await visible(ready.getByText("Available", { exact: true }));
      await visible(ready.getByText("True", { exact: true }));
      const open = page.getByRole("link", { name: "Open its portal (opens in a new tab)" }).first();
      const href = (await open.getAttribute("href")) ?? "";
      expect(href).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/portal\/$/);
      expect(await open.getAttribute("target")).toBe("_blank");
      // Its portal is the agents' portal (the deployment's gateway says so), behind the platform's keys.
      const agents = await browser.open(href);
      const signIn = await visible(agents.page.getByRole("dialog", { name: "Sign in" }));
      await signIn.getByLabel("API key", { exact: true }).fill(ADMIN_KEY);
      await signIn.getByRole("button", { name: "Sign in" }).click();
      await visible(agents.page.getByRole("heading", { level: 1, name: "Assistants" }));
      const agentNav = await agents.page.getByRole("navigation", { name: "Main" }).getByRole("link").allTextContents();
      expect(agentNav).toContain("Threads");
      expect(agentNav).not.toContain("Deployments");
      await visible(agents.page.getByRole("link", { name: "echo", exact: true }));
      await done(agents);

      // Revisions: the first, deployed, its commit.
      await openTab(page, "Revisions");
      const sha = await git(repoDir, "rev-parse", "HEAD");
      const first = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: /#1/ }) });
      await visible(first.getByText("deployed", { exact: true }));
      await visible(first.getByText("serving", { exact: true }));
      await visible(first.getByText(sha.slice(0, 12), { exact: true }));
      await first.getByRole("link", { name: "#1" }).click();
      await visible(page.getByRole("heading", { name: /Revision 1/ }));
      await visible(page.getByText(sha, { exact: true }));
      await visible(page.getByText("echo", { exact: true }));
      await visible(page.getByText("shout", { exact: true }));
      expect(new URL(page.url()).pathname).toMatch(/^\/portal\/deployments\/support-bot\/revisions\/[0-9a-f-]{36}$/);
      // Its SBOM: the packages of the bundle, searchable.
      await visible(page.getByRole("heading", { name: "Software bill of materials" }));
      await page.getByLabel("Find a package or licence").fill("greet");
      await visible(page.getByRole("cell", { name: "greeting", exact: true }));

      // The list shows it ready, with its source.
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Deployments" }).click();
      const card = page.getByRole("listitem").filter({ has: page.getByRole("link", { name: "support-bot" }) });
      await visible(card.getByText("ready", { exact: true }));
      await visible(card.getByText(`${repoUrl} @ main`, { exact: true }));
      await done(tab);
    },
    BUILD_MS + 60_000,
  );

  it(
    "sets and unsets a secret; its value is never on the page once saved",
    async () => {
      const value = `s3cr3t-${randomBytes(8).toString("hex")}`;
      const tab = await openSignedIn("secrets?deployment=support-bot");
      const { page } = tab;
      await visible(page.getByRole("heading", { level: 1, name: "Secrets" }));
      await visible(page.getByText("No secrets.", { exact: true }));
      await page.getByLabel("Name", { exact: true }).fill("SECRET_TOKEN");
      const field = page.getByLabel("Value", { exact: true });
      expect(await field.getAttribute("type")).toBe("password");
      await field.fill(value);
      await page.getByRole("button", { name: "Save secret" }).click();
      await visible(page.getByText("Saved SECRET_TOKEN.", { exact: true }));
      await visible(page.getByRole("rowheader", { name: "SECRET_TOKEN" }));
      expect(await field.inputValue()).toBe("");
      expect(await page.content()).not.toContain(value);
      expect(await page.locator("body").textContent()).not.toContain(value);
      expect(await page.getByLabel("Name", { exact: true }).inputValue()).toBe("");

      // The deployment lists its name, never the value.
      await page.goto(new URL("deployments/support-bot/overview", portalUrl).toString());
      await visible(page.getByText("SECRET_TOKEN", { exact: true }));
      expect(await page.content()).not.toContain(value);

      await page.goBack();
      const row = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: "SECRET_TOKEN" }) });
      await row.getByRole("button", { name: "Unset SECRET_TOKEN" }).click();
      await row.getByRole("button", { name: "Yes, unset" }).click();
      await visible(page.getByText("No secrets.", { exact: true }));
      await done(tab);
    },
    TEST_MS,
  );

  it(
    "rolls back to the first revision, confirmed first",
    async () => {
      const tab = await openSignedIn("deployments/support-bot/revisions");
      const { page } = tab;
      // The secret's set and unset each redeployed the bundle: revision 1 no longer serves.
      const first = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: /#1/ }) });
      await first.getByRole("button", { name: "Roll back to #1" }).click({ timeout: 60_000 });
      await visible(first.getByText("Deploy revision 1's bundle again, as a new revision?", { exact: true }));
      await first.getByRole("button", { name: "Yes, roll back" }).click();
      const started = await visible(first.getByRole("status").filter({ hasText: "Rolling back" }));
      const number = /revision (\d+) deploys revision 1's bundle/.exec((await started.textContent()) ?? "")?.[1];
      expect(Number(number)).toBeGreaterThan(1);
      const rollback = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: new RegExp(`#${number}\\b`) }) });
      await visible(rollback.getByRole("link", { name: "redeploys #1" }));
      await visible(rollback.getByText("serving", { exact: true }), 60_000);
      await visible(rollback.getByText("deployed", { exact: true }));
      await done(tab);
    },
    TEST_MS,
  );

  it(
    "fits a 420 px window, and works from the keyboard",
    async () => {
      const tab = await openSignedIn("deployments", ADMIN_KEY, { width: 420, height: 800 });
      const { page } = tab;
      await visible(page.getByRole("link", { name: "support-bot" }));
      expect(await fitsWidth(page)).toBe(true);
      // The menu opens the navigation.
      const menu = page.getByRole("button", { name: "Menu" });
      await menu.click();
      await visible(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit log" }));
      await menu.click();

      for (const pathname of [
        "deployments/support-bot/overview",
        "deployments/support-bot/revisions",
        "deployments/support-bot/logs",
        "deployments/support-bot/settings",
        "deployments/new",
        "keys",
        "secrets",
        "audit",
      ]) {
        await page.goto(new URL(pathname, portalUrl).toString());
        await visible(page.getByRole("heading", { level: 1 }));
        await page.getByText("Loading", { exact: false }).first().waitFor({ state: "hidden", timeout: WAIT_MS });
        expect(await fitsWidth(page), pathname).toBe(true);
      }

      // From the keyboard: the skip link, then to a deployment's page and its tabs.
      await page.goto(new URL("deployments", portalUrl).toString());
      await visible(page.getByRole("link", { name: "support-bot" }));
      await page.keyboard.press("Tab");
      expect(await page.evaluate("document.activeElement?.textContent")).toBe("Skip to content");
      await page.keyboard.press("Enter");
      let found = false;
      for (let i = 0; i < 30 && !found; i++) {
        await page.keyboard.press("Tab");
        found = (await page.evaluate('document.activeElement?.textContent === "support-bot"')) === true;
      }
      expect(found).toBe(true);
      await page.keyboard.press("Enter");
      await page.waitForURL(/\/deployments\/support-bot\/overview$/, { timeout: WAIT_MS });
      await done(tab);
    },
    TEST_MS,
  );

  it(
    "shows why a deployment failed, and deletes it from the list",
    async () => {
      const tab = await openSignedIn("deployments/new");
      const { page } = tab;
      await page.getByLabel("Name", { exact: true }).fill("broken-bot");
      await page.getByLabel("Git URL").fill(repoUrl);
      await page.getByLabel("Config path").fill("missing.json");
      await page.getByRole("button", { name: "Create deployment" }).click();
      await page.waitForURL(/\/portal\/deployments\/broken-bot\/logs$/, { timeout: WAIT_MS });
      await visible(page.getByRole("status").getByText("build failed", { exact: true }), BUILD_MS);
      expect(await page.getByRole("log").textContent()).toContain("missing.json");

      // The list says it failed, and why.
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Deployments" }).click();
      const card = page.getByRole("listitem").filter({ has: page.getByRole("link", { name: "broken-bot" }) });
      await visible(card.getByText("failed", { exact: true }), WAIT_MS);
      const reason = await visible(card.getByRole("list").getByRole("listitem").first());
      expect(await reason.textContent()).toMatch(/revision 1: .*missing\.json/);
      // The revision's detail lists what the build found.
      await card.getByRole("link", { name: "broken-bot" }).click();
      await visible(page.getByText(/revision 1: .*missing\.json/).first());
      await openTab(page, "Revisions");
      await page.getByRole("link", { name: "#1" }).click();
      await visible(page.getByRole("heading", { name: "Defects" }));
      await visible(page.getByText("build failed", { exact: true }));

      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Deployments" }).click();
      await card.getByRole("button", { name: "Delete broken-bot" }).click();
      const dialog = await visible(page.getByRole("dialog", { name: "Delete broken-bot?" }));
      await dialog.getByLabel("Type broken-bot to confirm").fill("broken-bot");
      await dialog.getByRole("button", { name: "Delete deployment" }).click();
      await gone(dialog);
      await gone(card);
      await visible(page.getByRole("link", { name: "support-bot" }));
      await done(tab);
    },
    BUILD_MS,
  );

  it(
    "deletes the deployment once its name is typed",
    async () => {
      const tab = await openSignedIn("deployments/support-bot/settings");
      const { page } = tab;
      await page.getByRole("button", { name: "Delete support-bot…" }).click();
      const dialog = await visible(page.getByRole("dialog", { name: "Delete support-bot?" }));
      const confirm = dialog.getByRole("button", { name: "Delete deployment" });
      expect(await confirm.isDisabled()).toBe(true);
      await dialog.getByLabel("Type support-bot to confirm").fill("support-bo");
      expect(await confirm.isDisabled()).toBe(true);
      await dialog.getByLabel("Type support-bot to confirm").fill("support-bot");
      await confirm.click();
      await page.waitForURL(/\/portal\/deployments$/, { timeout: WAIT_MS });
      await visible(page.getByText("No deployments yet.", { exact: false }));
      await done(tab);
    },
    TEST_MS,
  );

  it(
    "lists every action taken in the audit log, newest first, filtered in the URL",
    async () => {
      const tab = await openSignedIn("audit");
      const { page } = tab;
      await visible(page.getByRole("heading", { level: 1, name: "Audit log" }));
      const table = await visible(page.getByRole("table", { name: "Audit events, newest first" }));
      const actions = async () =>
        (await table.getByRole("row").locator("td:nth-child(3) code").allTextContents()).map((text) => text.trim());
      const listed = await actions();
      for (const action of [
        "api_key.create",
        "deployment.create",
        "secret.set",
        "secret.unset",
        "revision.rollback",
        "deployment.delete",
      ]) {
        expect(listed).toContain(action);
      }
      // Newest first: the delete came after the secret's changes, which came after the deployment.
      expect(listed.indexOf("deployment.delete")).toBeLessThan(listed.indexOf("secret.unset"));
      expect(listed.indexOf("secret.unset")).toBeLessThan(listed.indexOf("secret.set"));
      expect(listed.indexOf("secret.set")).toBeLessThan(listed.lastIndexOf("deployment.create"));
      // The viewer's refused attempt is there too, marked.
      const refused = table.getByRole("row").filter({ hasText: "refused" });
      await visible(refused.getByText("deployment.create", { exact: true }));
      await visible(refused.getByText("ci-viewer", { exact: true }));

      await page.getByLabel("Action").fill("secret.");
      await page.getByRole("button", { name: "Filter" }).click();
      await until(async () => {
        const shown = await actions();
        return shown.length === 2 && shown.every((action) => action.startsWith("secret.")) && shown;
      }, "the secret actions only");
      expect(new URL(page.url()).searchParams.get("action")).toBe("secret.");
      const details = table.getByRole("row").filter({ hasText: "secret.set" });
      await visible(details.getByText("SECRET_TOKEN", { exact: true }));
      await done(tab);
    },
    TEST_MS,
  );
});
