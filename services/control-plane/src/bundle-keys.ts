import { newApiKey } from "./keys.js";
import type { ControlStore } from "./store.js";

/** The name of the key a deployment's data plane fetches its bundles with. */
export const BUNDLE_KEY_NAME = "bundle fetch (data plane)";

/** Issues the key a deployment's data plane fetches its revisions' bundles with (`langopen bundle fetch`). */
export interface BundleKeyIssuer {
  /** A new viewer key scoped to the deployment; the ones issued before for it are revoked. Returned once: only its hash is kept. */
  issue(deploymentId: string): Promise<string>;
}

/**
 * Keys made as the key service makes them (random, stored as a hash, audited), in one
 * transaction, by the platform itself: a VIEWER key scoped to the deployment, which may read its
 * revisions' bundles and nothing of any other deployment.
 */
export function createBundleKeyIssuer(store: ControlStore): BundleKeyIssuer {
  return {
    async issue(deploymentId) {
      const previous = (await store.listApiKeys(false, deploymentId)).filter((k) => k.name === BUNDLE_KEY_NAME);
      const fresh = newApiKey();
      await store.transaction(async (client) => {
        for (const old of previous) {
          await store.revokeApiKey(old.key_id, client);
          await store.audit(
            {
              actor: "system",
              actorName: "platform",
              action: "api_key.revoke",
              deploymentId,
              target: old.key_id,
              details: { name: old.name, why: "replaced by a new bundle key" },
              allowed: true,
            },
            client,
          );
        }
        const row = await store.insertApiKey(
          { name: BUNDLE_KEY_NAME, role: "VIEWER", deploymentId, prefix: fresh.prefix, sha256: fresh.sha256, createdBy: "" },
          client,
        );
        await store.audit(
          {
            actor: "system",
            actorName: "platform",
            action: "api_key.create",
            deploymentId,
            target: row.key_id,
            details: { name: BUNDLE_KEY_NAME, role: "VIEWER" },
            allowed: true,
          },
          client,
        );
      });
      return fresh.key;
    },
  };
}
