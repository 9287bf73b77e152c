import { createHash } from "node:crypto";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { unavailable } from "@langopen/common";
import type { ApiKeyService } from "@langopen/gen/langopen/control/v1/api_key_service_pb";
import type { ApiKeyPrincipal, ApiKeyVerifier } from "./api-keys.js";

export interface ControlPlaneKeysOptions {
  /** The deployment this gateway serves: keys scoped to another are refused. */
  deploymentId: string;
  /** Most keys remembered (oldest forgotten first). */
  maxEntries?: number;
  /** How long a refusal is remembered (a key just created becomes valid after at most this). */
  negativeTtlMs?: number;
  /** While the control plane is down, how long a key it accepted stays accepted. */
  staleMs?: number;
}

interface Entry {
  principal: ApiKeyPrincipal | undefined;
  expires: number;
  fetched: number;
}

/**
 * Keys issued by the control plane: each presented key is asked about once (VerifyApiKey), and
 * the answer kept for as long as the control plane says (a revoked key stops working after at
 * most that), refusals for a short while. Keys are remembered by their SHA-256 only. While the
 * control plane cannot be reached, keys it accepted recently keep working and others get 503
 * naming the control plane, rather than a 401 that would blame the client.
 */
export function controlPlaneApiKeys(client: Client<typeof ApiKeyService>, options: ControlPlaneKeysOptions): ApiKeyVerifier {
  const maxEntries = options.maxEntries ?? 10_000;
  const negativeTtlMs = options.negativeTtlMs ?? 2_000;
  const staleMs = options.staleMs ?? 300_000;
  const cache = new Map<string, Entry>();
  const inflight = new Map<string, Promise<ApiKeyPrincipal | undefined>>();

  const remember = (id: string, entry: Entry) => {
    cache.delete(id);
    cache.set(id, entry);
    if (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
  };

  const ask = async (id: string, presented: string, known: Entry | undefined): Promise<ApiKeyPrincipal | undefined> => {
    try {
      const res = await client.verifyApiKey({ key: presented, deploymentId: options.deploymentId }, { timeoutMs: 5_000 });
      const now = Date.now();
      const principal = res.valid ? { name: res.name } : undefined;
      remember(id, {
        principal,
        fetched: now,
        expires: now + (res.valid ? Math.max(0, res.cacheSeconds) * 1_000 : negativeTtlMs),
      });
      return principal;
    } catch (err) {
      const code = ConnectError.from(err).code;
      if (code !== Code.Unavailable && code !== Code.DeadlineExceeded) throw err;
      if (known?.principal && Date.now() - known.fetched < staleMs) return known.principal;
      throw unavailable("control-plane", err);
    }
  };

  return {
    async verify(presented) {
      if (presented.length > 512) return undefined;
      const id = createHash("sha256").update(presented).digest("hex");
      const known = cache.get(id);
      if (known && known.expires > Date.now()) return known.principal;
      let pending = inflight.get(id);
      if (!pending) {
        pending = ask(id, presented, known).finally(() => inflight.delete(id));
        inflight.set(id, pending);
      }
      return pending;
    },
  };
}
