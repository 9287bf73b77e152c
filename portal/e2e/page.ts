// What the portal's browser tests wait for and check, shared by every file: an element shown or
// hidden (a failure says what the page showed instead), a page closed with no console problem, the
// server polled until it agrees. Every wait is bounded.
import type { Locator, Page } from "playwright-core";
import { expect } from "vitest";
import type { PortalPage } from "./browser.js";

/** How long a page may take to show what a test waits for (a run of the test graphs included). */
export const WAIT_MS = 20_000;

/** Waits until `locator` is visible; a timeout says what the page showed instead. */
export async function shown(locator: Locator, timeout = WAIT_MS): Promise<Locator> {
  try {
    await locator.waitFor({ state: "visible", timeout });
  } catch (error) {
    const page = locator.page();
    const text = await page
      .locator("body")
      .textContent({ timeout: 1_000 })
      .catch(() => "(nothing)");
    throw new Error(`${String(error)}\nat ${page.url()}, the page showed:\n${(text ?? "").slice(0, 1_500)}`);
  }
  return locator;
}

/** Waits until `locator` is hidden or gone. */
export async function hidden(locator: Locator, timeout = WAIT_MS): Promise<void> {
  await locator.waitFor({ state: "hidden", timeout });
}

/** Asserts the page logged no error or warning (but lines holding `allowed`) and closes it. */
export async function closeClean(opened: PortalPage, allowed?: string): Promise<void> {
  const problems = opened.problems.filter((line) => allowed === undefined || !line.includes(allowed));
  expect(problems).toEqual([]);
  await opened.context.close();
}

/** Waits until `read` returns something `accept`s, polling the server (bounded); the last value read otherwise. */
export async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean, timeout = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await read();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Whether `target` has the keyboard focus. */
export async function focused(target: Locator): Promise<boolean> {
  return target.evaluate((element) => element.matches(":focus"));
}

/** Presses Tab (or `key`, e.g. Shift+Tab) until `target` has the focus, at most `max` times; false when it never does. */
export async function tabTo(page: Page, target: Locator, max: number, key = "Tab"): Promise<boolean> {
  await target.waitFor({ state: "visible", timeout: WAIT_MS });
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(key);
    if (await focused(target)) return true;
  }
  return false;
}
