// A real browser for the portal's tests: Debian's Chromium driven by playwright-core (never a
// downloaded browser), one page per test, with every console error and uncaught page error
// collected so that a test can insist on none.
import { existsSync } from "node:fs";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

/** Where CI installs Chromium (`.ci/run`: apt-get install chromium); PORTAL_CHROMIUM overrides it. */
const CHROMIUM = process.env.PORTAL_CHROMIUM ?? "/usr/bin/chromium";

export interface PortalBrowser {
  browser: Browser;
  /** A fresh page in its own context (its own session storage), at `url`, with its problems recorded. */
  open(url: string, options?: { viewport?: { width: number; height: number } }): Promise<PortalPage>;
  close(): Promise<void>;
}

export interface PortalPage {
  page: Page;
  context: BrowserContext;
  /** Console errors and warnings, and uncaught exceptions, in the order they happened. */
  problems: string[];
}

export async function launchBrowser(): Promise<PortalBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set PORTAL_CHROMIUM`);
  }
  const browser = await chromium.launch({
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
  const contexts: BrowserContext[] = [];
  return {
    browser,
    async open(url, options = {}) {
      const context = await browser.newContext({ viewport: options.viewport ?? { width: 1366, height: 800 } });
      contexts.push(context);
      const page = await context.newPage();
      const problems: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error" || message.type() === "warning") problems.push(`${message.type()}: ${message.text()}`);
      });
      page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
      await page.goto(url);
      return { page, context, problems };
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => {});
      await browser.close();
    },
  };
}
