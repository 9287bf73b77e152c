import { Code, ConnectError } from "@connectrpc/connect";
import { createOidcVerifier, OidcTokenError, OidcUnavailableError } from "@langopen/gateway";
import type { RoleName } from "./store.js";

/** Platform operators signing in with an OpenID Connect provider: whose tokens, and which claim says their role. */
export interface PlatformOidcSettings {
  /** The provider's issuer URL. */
  issuer: string;
  /** The client the portal signs in as (a public client: authorization code with PKCE). */
  clientId: string;
  /** The audience tokens must name; absent: the client id (the ID tokens the portal holds). */
  audience?: string;
  /** The claim holding the platform role: viewer, developer or admin (any case). */
  roleClaim: string;
}

/** Who a valid token stands for. */
export interface OidcIdentity {
  /** The token's subject. */
  subject: string;
  /** Its name and e-mail address when it carries them, else the subject. */
  displayName: string;
  role: RoleName;
}

export interface PlatformOidc {
  readonly settings: PlatformOidcSettings;
  /**
   * The identity of a token, or a ConnectError: Unauthenticated when it is not a valid token of
   * the issuer for the audience, PermissionDenied when it carries no platform role, Unavailable
   * (naming the issuer) when the issuer could not be asked.
   */
  identify(token: string): Promise<OidcIdentity>;
}

const ROLES = new Map<string, RoleName>([
  ["viewer", "VIEWER"],
  ["developer", "DEVELOPER"],
  ["admin", "ADMIN"],
]);

/**
 * Whether a credential is a JWT (three base64url parts, the first a JSON header naming its
 * algorithm) rather than an API key: the keys the platform makes have no dots, and one an operator
 * gives would need a JOSE header to be taken for a token.
 */
export function isJwt(credential: string): boolean {
  const parts = credential.split(".");
  if (parts.length !== 3 || !parts.every((part) => /^[A-Za-z0-9_-]*$/.test(part))) return false;
  try {
    const header: unknown = JSON.parse(Buffer.from(parts[0] as string, "base64url").toString("utf8"));
    return typeof header === "object" && header !== null && typeof (header as { alg?: unknown }).alg === "string";
  } catch {
    return false;
  }
}

/** The gateway's verifier (discovery, the issuer's keys, signature, issuer, audience, lifetime), and the role claim read from what it accepts. */
export function createPlatformOidc(settings: PlatformOidcSettings): PlatformOidc {
  const verifier = createOidcVerifier({ issuer: settings.issuer, clientId: settings.clientId, audience: settings.audience });
  return {
    settings,
    async identify(token) {
      let claims: Awaited<ReturnType<typeof verifier.claims>>;
      try {
        claims = await verifier.claims(token);
      } catch (err) {
        if (err instanceof OidcTokenError)
          throw new ConnectError(`The OIDC token was refused: ${err.message}`, Code.Unauthenticated);
        if (err instanceof OidcUnavailableError) throw new ConnectError(err.message, Code.Unavailable, undefined, undefined, err);
        throw err;
      }
      const subject = claims.sub as string;
      const text = (name: string) =>
        typeof claims[name] === "string" && claims[name] !== "" ? (claims[name] as string) : undefined;
      const name = text("name") ?? text("preferred_username");
      const email = text("email");
      const displayName = name && email ? `${name} <${email}>` : (name ?? email ?? subject);
      const claimed = claims[settings.roleClaim];
      const role = typeof claimed === "string" ? ROLES.get(claimed.toLowerCase()) : undefined;
      if (!role)
        throw new ConnectError(
          claimed === undefined
            ? `The OIDC token of ${displayName} has no platform role: its claim "${settings.roleClaim}" is missing (it must be viewer, developer or admin)`
            : `The OIDC token of ${displayName} has no platform role: its claim "${settings.roleClaim}" must be viewer, developer or admin`,
          Code.PermissionDenied,
        );
      return { subject, displayName, role };
    },
  };
}
