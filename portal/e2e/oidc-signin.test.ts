// Signing in to the portal with OpenID Connect against a real provider (oidc-provider, its
// development login and consent pages): the authorization code flow with PKCE in Chromium, back
// to the view the user was on, then every call made with the provider's ID token.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, type PortalBrowser } from "./browser.js";
import { type OidcProvider, startOidcProvider } from "./oidc.js";
import { type PortalStack, startPortalStack } from "./stack.js";

let idp: OidcProvider;
let served: PortalStack;
let browser: PortalBrowser;

beforeAll(async () => {
  idp = await startOidcProvider();
  served = await startPortalStack({ oidc: { issuer: idp.issuer, clientId: idp.clientId } });
  idp.allowRedirect(`${served.stack.url}/portal/auth/callback`);
  browser = await launchBrowser();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await served?.stop();
  await idp?.close();
});

describe("OIDC sign-in", () => {
  it("signs in at the provider and comes back to the view, its calls made with the ID token", async () => {
    const { page, problems } = await browser.open(`${served.portalUrl}assistants?q=echo`);
    const dialog = page.getByRole("dialog", { name: "Sign in" });
    await dialog.getByRole("button", { name: `Sign in with ${new URL(idp.issuer).host}` }).click();

    // The provider's own pages: any login name, then consent.
    await page.waitForURL((url) => url.origin === idp.issuer, { timeout: 15_000 });
    await page.locator('input[name="login"]').fill("ada");
    await page.locator('input[name="password"]').fill("any");
    await page.locator('button[type="submit"]').click();
    await page.locator('button[type="submit"]').click({ timeout: 15_000 });

    await page.waitForURL((url) => url.pathname === "/portal/assistants", { timeout: 15_000 });
    expect(new URL(page.url()).searchParams.get("q")).toBe("echo");
    await expect.poll(() => page.getByRole("link", { name: /echo/ }).count(), { timeout: 15_000 }).toBeGreaterThan(0);
    const token = await page.evaluate(() =>
      (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage.getItem(
        "langopen.bearerToken",
      ),
    );
    expect(token?.split(".")).toHaveLength(3);

    // The token is what lets the calls in: the API refuses the same call without it.
    const search = (headers: Record<string, string>) =>
      fetch(`${served.stack.url}/assistants/search`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: "{}",
      });
    expect((await search({})).status).toBe(401);
    expect((await search({ authorization: `Bearer ${token}` })).status).toBe(200);
    expect(problems.filter((p) => !p.includes("Failed to load resource"))).toEqual([]);
  });
});
