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
  /** The claims of a valid token of the issuer for the audience; OidcTokenError saying why when it is not one. */
  claims(token: string): Promise<JWTPayload>;
}

const encoder = new TextEncoder();

/** The issuer could not be asked (down, or not what it says): an outage, answered 503 naming it. */
export class OidcUnavailableError extends Error {
  constructor(issuer: string, why: string) {
    super(`The OIDC issuer ${issuer} did not answer: ${why}`);
    this.name = "OidcUnavailableError";
  }
}

/** A token that is not a valid one of the issuer for the audience; the message says why, for the caller. */
export class OidcTokenError extends Error {
  constructor(why: string) {
    super(why);
    this.name = "OidcTokenError";
  }
}

/** Errors of jose that say the token is bad, not that the issuer could not be asked. */
function isInvalidToken(err: unknown): boolean {
  return err instanceof errors.JOSEError && !(err instanceof errors.JWKSTimeout);
}

/** Why jose refused a token, in the caller's terms (jose's own words name its checks, not the token). */
function refusalOf(err: errors.JOSEError, audience: string): string {
  if (err instanceof errors.JWTExpired) return "it has expired";
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "aud") return `it is not meant for this server (its audience is not ${audience})`;
    if (err.claim === "iss") return "another issuer made it";
    if (err.claim === "nbf" || err.claim === "iat") return "it is not valid yet";
    return err.message;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return "its signature does not verify";
  if (err instanceof errors.JWKSNoMatchingKey) return "it is signed with a key the issuer does not publish";
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return "it is not a well-formed JWT";
  return err.message;
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

  const audience = settings.audience ?? settings.clientId;

  async function claims(token: string): Promise<JWTPayload> {
    const jwks = await signingKeys();
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: [issuer, `${issuer}/`],
        audience,
        clockTolerance: 30,
        requiredClaims: ["sub", "exp"],
      });
      return payload;
    } catch (err) {
      if (isInvalidToken(err)) throw new OidcTokenError(refusalOf(err as errors.JOSEError, audience));
      throw new OidcUnavailableError(issuer, (err as Error).message);
    }
  }

  return {
    settings,
    claims,
    async verify(token) {
      try {
        return userOf(await claims(token), settings.permissionsClaim);
      } catch (err) {
        if (err instanceof OidcTokenError) return undefined;
        throw err;
      }
    },
  };
}
