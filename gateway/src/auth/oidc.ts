import { create } from "@bufbuild/protobuf";
import { type AuthUser, AuthUserSchema } from "@langopen/gen/langopen/runtime/v1/auth_service_pb";
import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from "jose";

/** Sign-in with an OpenID Connect provider: whose tokens the API accepts, and which client the portal is. */
export interface OidcSettings {
  /** The provider's issuer URL (its discovery document is at `<issuer>/.well-known/openid-configuration`). */
  issuer: string;
  /** The client the portal signs in as (authorization code with PKCE, no secret). */
  clientId: string;
  /** The audience tokens must name; absent: the client id (the ID tokens the portal holds). */
  audience?: string;
  /** A claim holding the user's permissions (an array of strings), as custom auth's `permissions`. */
  permissionsClaim?: string;
}

export interface OidcVerifier {
  readonly settings: OidcSettings;
  /** The user a bearer token stands for; undefined when it is not a valid token of the issuer for the audience. */
  verify(token: string): Promise<AuthUser | undefined>;
}

const encoder = new TextEncoder();

/** The issuer could not be asked (down, or not what it says): an outage, answered 503 naming it. */
export class OidcUnavailableError extends Error {
  constructor(issuer: string, why: string) {
    super(`The OIDC issuer ${issuer} did not answer: ${why}`);
    this.name = "OidcUnavailableError";
  }
}

/** Errors of jose that say the token is bad, not that the issuer could not be asked. */
function isInvalidToken(err: unknown): boolean {
  return err instanceof errors.JOSEError && !(err instanceof errors.JWKSTimeout);
}

function userOf(claims: JWTPayload, permissionsClaim: string | undefined): AuthUser {
  const text = (name: string) => (typeof claims[name] === "string" ? (claims[name] as string) : undefined);
  const identity = claims.sub as string;
  const granted = permissionsClaim === undefined ? undefined : claims[permissionsClaim];
  const permissions = Array.isArray(granted) ? granted.filter((p): p is string => typeof p === "string") : [];
  const user = {
    identity,
    display_name: text("name") ?? text("preferred_username") ?? text("email") ?? identity,
    email: text("email"),
    permissions,
    is_authenticated: true,
  };
  return create(AuthUserSchema, { identity, permissions, userJson: encoder.encode(JSON.stringify(user)) });
}

/**
 * Verifies bearer tokens against the issuer's signing keys (found through its discovery document,
 * cached and refreshed as the keys rotate, by jose): signature, issuer, audience and lifetime.
 * The subject is the user's identity. An issuer that cannot be reached is an outage (503 naming
 * it), not a refusal of the user.
 */
export function createOidcVerifier(settings: OidcSettings): OidcVerifier {
  const issuer = settings.issuer.replace(/\/+$/, "");
  let keys: ReturnType<typeof createRemoteJWKSet> | undefined;

  async function signingKeys(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    if (keys) return keys;
    let discovery: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const res = await fetch(`${issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      discovery = (await res.json()) as typeof discovery;
    } catch (err) {
      throw new OidcUnavailableError(issuer, (err as Error).message);
    }
    if (typeof discovery.jwks_uri !== "string" || String(discovery.issuer).replace(/\/+$/, "") !== issuer) {
      throw new OidcUnavailableError(issuer, "its discovery document names another issuer or no signing keys");
    }
    keys = createRemoteJWKSet(new URL(discovery.jwks_uri), { timeoutDuration: 5_000 });
    return keys;
  }

  return {
    settings,
    async verify(token) {
      const jwks = await signingKeys();
      try {
        const { payload } = await jwtVerify(token, jwks, {
          issuer: [issuer, `${issuer}/`],
          audience: settings.audience ?? settings.clientId,
          clockTolerance: 30,
          requiredClaims: ["sub", "exp"],
        });
        return userOf(payload, settings.permissionsClaim);
      } catch (err) {
        if (isInvalidToken(err)) return undefined;
        throw new OidcUnavailableError(issuer, (err as Error).message);
      }
    },
  };
}
