// Sign-in with the OpenID Connect provider the server names in /portal/config.json: the
// authorization code flow with PKCE (oidc-client-ts), the provider's ID token then sent as a bearer
// token (a deployment's gateway and the platform's control plane accept ID tokens of the portal's
// client). Loaded only when used, so a server without OIDC costs the bundle nothing.
import type { UserManager } from "oidc-client-ts";
import { loadConfig } from "../lib/mode";
import { signIn } from "./session";

export interface OidcSettings {
  issuer: string;
  clientId: string;
}

/** Where the provider sends the browser back (the server answers the app's page there). */
export const CALLBACK_PATH = `${import.meta.env.BASE_URL}auth/callback`;

/** The OIDC settings of a config.json body, when it has valid ones. */
export function oidcSettingsOf(raw: Record<string, unknown>): OidcSettings | undefined {
  const oidc = raw.oidc;
  if (typeof oidc !== "object" || oidc === null) return undefined;
  const { issuer, clientId } = oidc as Record<string, unknown>;
  return typeof issuer === "string" && typeof clientId === "string" ? { issuer, clientId } : undefined;
}

/** The server's OIDC settings, if it offers that sign-in. */
export async function loadOidcSettings(): Promise<OidcSettings | undefined> {
  return oidcSettingsOf((await loadConfig()).raw);
}

let manager: Promise<UserManager> | undefined;

function managerFor(settings: OidcSettings): Promise<UserManager> {
  manager ??= import("oidc-client-ts").then(
    ({ UserManager, WebStorageStateStore }) =>
      new UserManager({
        authority: settings.issuer,
        client_id: settings.clientId,
        redirect_uri: `${window.location.origin}${CALLBACK_PATH}`,
        response_type: "code",
        scope: "openid profile email",
        // The tab's storage, as for keys: closing the tab signs out.
        userStore: new WebStorageStateStore({ store: window.sessionStorage }),
        stateStore: new WebStorageStateStore({ store: window.sessionStorage }),
        loadUserInfo: false,
        automaticSilentRenew: false,
      }),
  );
  return manager;
}

/** Leaves for the provider's sign-in page; back on CALLBACK_PATH, to `returnTo` (a path under the portal). */
export async function startOidcSignIn(settings: OidcSettings, returnTo: string): Promise<void> {
  const users = await managerFor(settings);
  await users.signinRedirect({ state: { returnTo } });
}

/**
 * On CALLBACK_PATH: exchanges the provider's code (with the PKCE verifier kept in this tab) for
 * tokens, signs in with the ID token, and answers where to go back to.
 */
export async function completeOidcSignIn(): Promise<string> {
  const settings = await loadOidcSettings();
  if (!settings) throw new Error("This server does not offer OpenID Connect sign-in");
  const user = await (await managerFor(settings)).signinRedirectCallback();
  if (!user.id_token) throw new Error("The provider answered without an ID token");
  signIn(user.id_token, "bearer");
  const state = user.state as { returnTo?: unknown } | undefined;
  const back = typeof state?.returnTo === "string" ? state.returnTo : import.meta.env.BASE_URL;
  // Only a path of this portal: the state comes back through the provider.
  return back.startsWith(import.meta.env.BASE_URL) && !back.startsWith("//") ? back : import.meta.env.BASE_URL;
}
