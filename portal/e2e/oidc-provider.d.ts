// The few parts of oidc-provider (which ships no types) that the portal's sign-in tests use.
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http";

  interface ProviderAccount {
    accountId: string;
    claims(): Promise<Record<string, unknown>> | Record<string, unknown>;
  }

  interface ProviderConfiguration {
    clients: Record<string, unknown>[];
    findAccount?(ctx: unknown, id: string): Promise<ProviderAccount | undefined> | ProviderAccount | undefined;
    claims?: Record<string, string[]>;
    pkce?: { required?: () => boolean };
    features?: Record<string, unknown>;
    cookies?: { keys: string[] };
    ttl?: Record<string, number>;
    jwks?: { keys: Record<string, unknown>[] };
    conformIdTokenClaims?: boolean;
    extraTokenClaims?(
      ctx: unknown,
      token: { kind: string; clientId: string; accountId?: string },
    ): Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined>;
  }

  export default class Provider {
    constructor(issuer: string, configuration: ProviderConfiguration);
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
  }
}
