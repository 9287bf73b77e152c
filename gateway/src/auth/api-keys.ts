import { createHash, timingSafeEqual } from "node:crypto";

/** Who an API key stands for. Keys issued by a control plane will also carry a role and a scope. */
export interface ApiKeyPrincipal {
  /** The key's name: the identity of requests made with it. */
  name: string;
}

/**
 * Checks a presented `x-api-key`. The one-server implementation holds hashes from the
 * environment or a file; a control-plane implementation can ask the control plane (and cache)
 * behind the same interface, so the gateway does not change.
 */
export interface ApiKeyVerifier {
  verify(presented: string): Promise<ApiKeyPrincipal | undefined>;
}

interface StoredKey {
  name: string;
  sha256: Buffer;
}

const HASHED = /^sha256:([0-9a-f]{64})$/i;

const sha256 = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest();

/**
 * Keys as an operator writes them: entries separated by commas or new lines, each `name=key` or
 * just `key` (named `key-<n>`); a key may be given as `sha256:<hex>` of itself, so a keys file need
 * not hold any key in clear. Blank lines and lines starting with `#` are skipped.
 */
export function parseApiKeys(text: string): StoredKey[] {
  const keys: StoredKey[] = [];
  for (const raw of text.split(/[\n,]/)) {
    const entry = raw.trim();
    if (entry === "" || entry.startsWith("#")) continue;
    const eq = entry.indexOf("=");
    const name = eq > 0 ? entry.slice(0, eq).trim() : `key-${keys.length + 1}`;
    const secret = eq > 0 ? entry.slice(eq + 1).trim() : entry;
    if (secret === "") throw new Error(`API key "${name}" is empty`);
    const hashed = HASHED.exec(secret);
    keys.push({ name, sha256: hashed?.[1] ? Buffer.from(hashed[1], "hex") : sha256(secret) });
  }
  return keys;
}

/**
 * Keys held as SHA-256 hashes only. A presented key is hashed and compared with every stored
 * hash in constant time, without stopping at a match, so neither the comparison nor the number
 * of comparisons tells how close a guess was.
 */
export function staticApiKeys(keys: StoredKey[]): ApiKeyVerifier {
  if (keys.length === 0) throw new Error("No API keys given");
  return {
    async verify(presented) {
      const hash = sha256(presented);
      let found: StoredKey | undefined;
      for (const key of keys) {
        if (timingSafeEqual(hash, key.sha256) && found === undefined) found = key;
      }
      return found ? { name: found.name } : undefined;
    },
  };
}
