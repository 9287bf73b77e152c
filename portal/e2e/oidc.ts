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
  /** Registers the portal's callback URL (known once the server it signs in to has started). */
  allowRedirect(redirectUri: string): void;
  close(): Promise<void>;
}

/** A provider listening at once (its issuer URL is needed to start the server); its client registered by allowRedirect. */
export async function startOidcProvider(clientId = "langopen-portal"): Promise<OidcProvider> {
  const server = http.createServer((_req, res) => {
    res.statusCode = 503;
    res.end("no client registered yet");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    clientId,
    allowRedirect(redirectUri) {
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: clientId,
            token_endpoint_auth_method: "none",
            redirect_uris: [redirectUri],
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
      server.removeAllListeners("request");
      server.on("request", provider.callback());
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
