// Signing in to the platform's portal (served by the control plane) with OpenID Connect against a
// real provider (oidc-provider, its development login and consent pages): the authorization code
// flow with PKCE in Chromium, back to the deployments, every call made with the provider's ID
// token, whose role claim makes the user a platform admin.
import { rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { createLogger } from "@langopen/common";
import { createTestDatabase, makeTempDir, type TestDatabase } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Platform, startPlatform } from "../../services/control-plane/src/compose.js";
import { launchBrowser, type PortalBrowser } from "./browser.js";
import { type OidcProvider, startOidcProvider } from "./oidc.js";

const PORTAL_DIST = fileURLToPath(new URL("../dist", import.meta.url));
const logger = createLogger({ service: "test", level: "silent" });
/** How long a page may take to show what it waits for. */
const WAIT_MS = 15_000;
/**
 * What the browser itself logs for resources it could not load: the call refused before the
 * sign-in (401), and what the provider's development pages ask for (their favicon, remote assets).
 */
const FAILED_LOAD = /^error: Failed to load resource: /;

let idp: OidcProvider;
let platform: Platform;
let database: TestDatabase;
let platformDir: string;
let browser: PortalBrowser;

beforeAll(async () => {
  idp = await startOidcProvider({ accountClaim: { name: "langopen_role", value: () => "admin" } });
  database = await createTestDatabase(inject("databaseUrl"));
  platformDir = await makeTempDir("platform-oidc");
  platform = await startPlatform(
    {
      host: "127.0.0.1",
      port: 0,
      dataDir: platformDir,
      databaseUrl: database.url,
      buildTimeoutSeconds: 60,
      buildConcurrency: 1,
      defaultSandbox: "NODE",
      drainMs: 1_000,
      keyCacheSeconds: 1,
      portal: { port: 0, dir: PORTAL_DIST },
      // No audience: the ID tokens the portal holds, for its client.
      oidc: { issuer: idp.issuer, clientId: idp.clientId, roleClaim: "langopen_role" },
    },
    logger,
  );
  idp.allowRedirect(new URL("auth/callback", platform.portalUrl).toString());
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
  await idp?.close();
  await database?.drop();
  if (platformDir) await rm(platformDir, { recursive: true, force: true });
}, 60_000);

describe("OIDC sign-in to the platform's portal", () => {
  it("signs in at the provider and shows the deployments, its calls made with the ID token", async () => {
    const { page, context, problems } = await browser.open(new URL("deployments", platform.portalUrl).toString());
    const dialog = page.getByRole("dialog", { name: "Sign in" });
    await dialog.getByRole("button", { name: `Sign in with ${new URL(idp.issuer).host}` }).click({ timeout: WAIT_MS });

    // The provider's own pages: any login name, then consent.
    await page.waitForURL((url) => url.origin === idp.issuer, { timeout: WAIT_MS });
    await page.locator('input[name="login"]').fill("grace");
    await page.locator('input[name="password"]').fill("any");
    await page.locator('button[type="submit"]').click();
    await page.locator('button[type="submit"]').click({ timeout: WAIT_MS });

    await page.waitForURL((url) => url.pathname === "/portal/deployments", { timeout: WAIT_MS });
    await page.getByRole("heading", { level: 1, name: "Deployments" }).waitFor({ state: "visible", timeout: WAIT_MS });
    await page.getByText("No deployments yet.", { exact: false }).waitFor({ state: "visible", timeout: WAIT_MS });
    expect(await dialog.count()).toBe(0);

    // The admin's other pages open too: the platform's keys (the role comes from the token's claim).
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "API keys" }).click();
    await page.getByRole("heading", { level: 1, name: "API keys" }).waitFor({ state: "visible", timeout: WAIT_MS });

    const token = await page.evaluate(() =>
      (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage.getItem(
        "langopen.bearerToken",
      ),
    );
    expect(token?.split(".")).toHaveLength(3);
    expect(problems.filter((line) => !FAILED_LOAD.test(line))).toEqual([]);
    await context.close();
  });
});
