import { readFile } from "node:fs/promises";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { sleep } from "@langopen/common";
import { ApiKeyService } from "@langopen/gen/langopen/control/v1/api_key_service_pb";
import type { AuthOptions } from "../plugins/auth.js";
import { parseApiKeys, staticApiKeys } from "./api-keys.js";
import { controlPlaneApiKeys } from "./control-plane-keys.js";
import { CustomAuth } from "./custom-auth.js";
import { createOidcVerifier, type OidcSettings } from "./oidc.js";

export { type ApiKeyPrincipal, type ApiKeyVerifier, parseApiKeys, staticApiKeys } from "./api-keys.js";
export { controlPlaneApiKeys } from "./control-plane-keys.js";
export { AuthRejected, CustomAuth } from "./custom-auth.js";
export { createOidcVerifier, type OidcSettings, type OidcVerifier } from "./oidc.js";

export interface AuthSources {
  /** `LANGOPEN_API_KEYS`: `name=key` entries (or `name=sha256:<hex>`), comma-separated. */
  apiKeys?: string;
  /** `LANGOPEN_API_KEYS_FILE`: the same entries, one per line. */
  apiKeysFile?: string;
  /**
   * A control plane issuing this deployment's keys (LANGOPEN_CONTROL_URL, LANGOPEN_DEPLOYMENT_ID):
   * presented keys are asked about there; instead of the keys above.
   */
  controlPlane?: { transport: Transport; deploymentId: string };
  /** The runtime that serves the project's custom auth (AuthService), when it has one. */
  runtime?: Transport;
  /**
   * How long to wait for that runtime to answer when it is not up yet (in a cluster the pods
   * start in any order); told of each wait. After it, the gateway refuses to start.
   */
  runtimeWait?: { ms: number; onWaiting?: (err: ConnectError) => void };
  /** Sign-in with an OpenID Connect provider (LANGOPEN_OIDC_*): its tokens are accepted as bearer tokens. */
  oidc?: OidcSettings;
}

/** Calls until the peer answers, while it is unavailable (not yet listening), up to `waitMs`. */
async function whenUp<T>(call: () => Promise<T>, wait: AuthSources["runtimeWait"]): Promise<T> {
  const deadline = Date.now() + (wait?.ms ?? 0);
  for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof ConnectError && err.code === Code.Unavailable) || Date.now() + delay > deadline) throw err;
      wait?.onWaiting?.(err);
      await sleep(delay);
    }
  }
}

/** The gateway's auth from its settings: API keys, the project's custom auth (asked of the runtime), both or neither. */
export async function loadAuth(sources: AuthSources): Promise<AuthOptions> {
  let text = sources.apiKeys ?? "";
  if (sources.apiKeysFile) {
    try {
      text += `\n${await readFile(sources.apiKeysFile, "utf8")}`;
    } catch (err) {
      throw new Error(`Cannot read the API keys file ${sources.apiKeysFile}: ${(err as Error).message}`);
    }
  }
  const keys = parseApiKeys(text);
  if (sources.controlPlane && keys.length > 0)
    throw new Error(
      "API keys come from the control plane (LANGOPEN_CONTROL_URL): LANGOPEN_API_KEYS and LANGOPEN_API_KEYS_FILE must not be set",
    );
  return {
    apiKeys: sources.controlPlane
      ? controlPlaneApiKeys(createClient(ApiKeyService, sources.controlPlane.transport), {
          deploymentId: sources.controlPlane.deploymentId,
        })
      : keys.length > 0
        ? staticApiKeys(keys)
        : undefined,
    oidc: sources.oidc ? createOidcVerifier(sources.oidc) : undefined,
    customAuth: sources.runtime
      ? await whenUp(() => CustomAuth.connect(sources.runtime as Transport), sources.runtimeWait)
      : undefined,
  };
}

/** Whether anything stands between a client and the API. */
export const authConfigured = (auth: AuthOptions): boolean =>
  auth.apiKeys !== undefined || auth.oidc !== undefined || auth.customAuth !== undefined;
