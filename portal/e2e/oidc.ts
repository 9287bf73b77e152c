// A real OpenID Connect provider for the portal's sign-in tests: oidc-provider on loopback, with
// its development login and consent pages (any login name is accepted), one public client (the
// portal: authorization code with PKCE, no secret) and accounts whose claims name them.
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

export interface OidcProvider {
  issuer: string;
  clientId: string;
  close(): Promise<void>;
}

/** A provider whose client may redirect back to `redirectUri` (the portal's callback page). */
export async function startOidcProvider(redirectUri: string, clientId = "langopen-portal"): Promise<OidcProvider> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        token_endpoint_auth_method: "none",
        redirect_uris: [redirectUri],
        post_logout_redirect_uris: [new URL(redirectUri).origin],
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
    ],
    pkce: { required: () => true },
    claims: { openid: ["sub"], profile: ["name"], email: ["email"] },
    findAccount: (_ctx, id) => ({
      accountId: id,
      claims: () => ({ sub: id, name: `User ${id}`, email: `${id}@example.test` }),
    }),
    cookies: { keys: [randomBytes(32).toString("hex")] },
  });
  server.on("request", provider.callback());
  return {
    issuer,
    clientId,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
