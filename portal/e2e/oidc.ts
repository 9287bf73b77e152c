// A real OpenID Connect provider for the sign-in tests: oidc-provider on loopback, with its
// development login and consent pages (any login name is accepted), one public client (the
// portal: authorization code with PKCE, no secret) and accounts whose claims name them; and, for
// tests without a browser, service clients that get JWT access tokens for an audience (client
// credentials with a resource indicator).
import { generateKeyPairSync, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

export interface OidcProviderOptions {
  /** The portal's client id (default `langopen-portal`). */
  clientId?: string;
  /** A claim every account carries beside sub, name and email (e.g. a role), in its ID tokens too: its value by login name. */
  accountClaim?: { name: string; value(login: string): unknown };
  /** Service clients (client credentials, with a secret) by id, and the claims their access tokens carry. */
  serviceClients?: Record<string, Record<string, unknown>>;
}

export interface OidcProvider {
  issuer: string;
  clientId: string;
  /** Registers the portal's callback URL (known once the server it signs in to has started). */
  allowRedirect(redirectUri: string): void;
  /** A JWT access token of a service client for an audience (its resource indicator), from the token endpoint. */
  accessToken(serviceClient: string, audience: string): Promise<string>;
  /** Stops answering (the port closed) until resume(): an issuer that is down. */
  suspend(): Promise<void>;
  /** Listens again on the same port, with the same keys. */
  resume(): Promise<void>;
  close(): Promise<void>;
}

/** The secret of every service client (the tests and the provider both hold it). */
const SERVICE_SECRET = randomBytes(24).toString("hex");

/**
 * A provider listening at once (its issuer URL is needed to start the server), with its service
 * clients; its portal client registered by allowRedirect.
 */
export async function startOidcProvider(options: OidcProviderOptions = {}): Promise<OidcProvider> {
  const clientId = options.clientId ?? "langopen-portal";
  const services = options.serviceClients ?? {};
  // One signing key for the provider's whole life, so that a provider made again (a redirect registered) keeps it.
  const signingKey = { ...generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" }), kid: "k1" };
  const cookieKey = randomBytes(32).toString("hex");
  const extra = options.accountClaim;
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  function serve(redirectUri: string | undefined): void {
    const portalClient = redirectUri && {
      client_id: clientId,
      token_endpoint_auth_method: "none",
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    };
    const serviceClients = Object.keys(services).map((id) => ({
      client_id: id,
      client_secret: SERVICE_SECRET,
      grant_types: ["client_credentials"],
      response_types: [],
      redirect_uris: [],
    }));
    const provider = new Provider(issuer, {
      clients: [...(portalClient ? [portalClient] : []), ...serviceClients],
      jwks: { keys: [signingKey] },
      pkce: { required: () => true },
      claims: { openid: ["sub"], profile: extra ? ["name", extra.name] : ["name"], email: ["email"] },
      // The ID token carries the claims of its scopes (a role, for the server the portal calls with it).
      conformIdTokenClaims: false,
      findAccount: (_ctx, id) => ({
        accountId: id,
        claims: () => ({
          sub: id,
          name: `User ${id}`,
          email: `${id}@example.test`,
          ...(extra && { [extra.name]: extra.value(id) }),
        }),
      }),
      features: {
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          // Any audience a test asks for: its access tokens are JWTs.
          getResourceServerInfo: (_ctx: unknown, resource: string) => ({
            scope: "",
            audience: resource,
            accessTokenFormat: "jwt",
          }),
        },
      },
      extraTokenClaims: (_ctx, token) => (token.kind === "ClientCredentials" ? services[token.clientId] : undefined),
      cookies: { keys: [cookieKey] },
      ttl: { ClientCredentials: 600 },
    });
    server.removeAllListeners("request");
    server.on("request", provider.callback());
  }
  serve(undefined);

  return {
    issuer,
    clientId,
    allowRedirect: serve,
    async accessToken(serviceClient, audience) {
      const res = await fetch(`${issuer}/token`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: `Basic ${Buffer.from(`${serviceClient}:${SERVICE_SECRET}`).toString("base64")}`,
        },
        body: new URLSearchParams({ grant_type: "client_credentials", resource: audience }),
      });
      const body = (await res.json()) as { access_token?: string; error_description?: string };
      if (!res.ok || !body.access_token) throw new Error(`The provider issued no token: ${body.error_description ?? res.status}`);
      return body.access_token;
    },
    suspend: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    resume: () => new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
