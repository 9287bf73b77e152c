import { createHash } from "node:crypto";
import { canonicalJson } from "@langopen/common";
import { isStatus, type Kube, type LiveObject, refOf } from "./kube.js";
import type { KubeObject } from "./render.js";

/** The digest of what the operator last wrote into an object: equal means nothing to do. */
export const APPLIED_HASH = "platform.langopen.dev/applied-hash";

export type ApplyOutcome = "created" | "updated" | "unchanged";

/** An object of the same name exists and another owner (or nobody) controls it: it is not ours to overwrite. */
export class NotOwnedError extends Error {}

/**
 * Makes one object what the render says. The API server fills in defaults, so comparing the
 * live object with the rendered one field by field would always differ: the operator records a
 * digest of what it rendered in an annotation and rewrites the object when the digest changes
 * (a replace conditional on the resourceVersion read: a concurrent change is a 409, and the
 * next reconcile starts from what is there). `keepReplicas`: an autoscaler owns spec.replicas,
 * so the live count stands (and does not count as a change).
 */
export async function applyObject(
  kube: Kube,
  desired: KubeObject,
  options: { keepReplicas?: boolean } = {},
): Promise<ApplyOutcome> {
  const hash = digestOf(desired, options.keepReplicas === true);
  const annotated: KubeObject = {
    ...desired,
    metadata: { ...desired.metadata, annotations: { ...annotationsOf(desired), [APPLIED_HASH]: hash } },
  };
  const live = await kube.read(refOf(desired));
  if (!live) {
    try {
      await kube.create(annotated);
      return "created";
    } catch (err) {
      // Created in between (another reconcile, a stale cache): the next pass compares.
      if (isStatus(err, 409)) return "unchanged";
      throw err;
    }
  }
  const owner = (desired.metadata.ownerReferences as Array<{ uid: string }> | undefined)?.[0]?.uid;
  if (owner && !(live.metadata.ownerReferences ?? []).some((ref) => ref.uid === owner && ref.controller)) {
    throw new NotOwnedError(
      `${desired.kind} ${desired.metadata.name} exists and is not controlled by this AgentDeployment (delete or rename it)`,
    );
  }
  if (live.metadata.annotations?.[APPLIED_HASH] === hash) return "unchanged";
  await kube.replace(withLiveFields(annotated, live, options.keepReplicas === true));
  return "updated";
}

/** What a replace must carry over from the live object: its version (the precondition) and what others own. */
function withLiveFields(desired: KubeObject, live: LiveObject, keepReplicas: boolean): KubeObject {
  const out = structuredClone(desired) as KubeObject & { spec?: Record<string, unknown> };
  out.metadata.resourceVersion = live.metadata.resourceVersion;
  const liveSpec = (live as { spec?: Record<string, unknown> }).spec ?? {};
  if (desired.kind === "Service" && out.spec) {
    // Allocated by the API server and immutable.
    for (const field of ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"]) {
      if (liveSpec[field] !== undefined) out.spec[field] = liveSpec[field];
    }
  }
  if (keepReplicas && out.spec && typeof liveSpec.replicas === "number" && liveSpec.replicas > 0) {
    out.spec.replicas = liveSpec.replicas;
  }
  return out;
}

function annotationsOf(object: KubeObject): Record<string, string> {
  return (object.metadata.annotations as Record<string, string> | undefined) ?? {};
}

/** A digest of the rendered object, independent of key order; without spec.replicas when an autoscaler owns it. */
export function digestOf(object: KubeObject, withoutReplicas: boolean): string {
  const copy = structuredClone(object) as KubeObject & { spec?: Record<string, unknown> };
  if (withoutReplicas && copy.spec) delete copy.spec.replicas;
  return createHash("sha256").update(canonicalJson(copy)).digest("hex").slice(0, 32);
}
