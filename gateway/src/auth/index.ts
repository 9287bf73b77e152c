import { readFile } from "node:fs/promises";
import type { Transport } from "@connectrpc/connect";
import type { AuthOptions } from "../plugins/auth.js";
import { parseApiKeys, staticApiKeys } from "./api-keys.js";
import { CustomAuth } from "./custom-auth.js";

export { type ApiKeyPrincipal, type ApiKeyVerifier, parseApiKeys, staticApiKeys } from "./api-keys.js";
export { AuthRejected, CustomAuth } from "./custom-auth.js";

export interface AuthSources {
  /** `LANGOPEN_API_KEYS`: `name=key` entries (or `name=sha256:<hex>`), comma-separated. */
  apiKeys?: string;
  /** `LANGOPEN_API_KEYS_FILE`: the same entries, one per line. */
  apiKeysFile?: string;
  /** The runtime that serves the project's custom auth (AuthService), when it has one. */
  runtime?: Transport;
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
  return {
    apiKeys: keys.length > 0 ? staticApiKeys(keys) : undefined,
    customAuth: sources.runtime ? await CustomAuth.connect(sources.runtime) : undefined,
  };
}

/** Whether anything stands between a client and the API. */
export const authConfigured = (auth: AuthOptions): boolean => auth.apiKeys !== undefined || auth.customAuth !== undefined;
