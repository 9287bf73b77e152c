import {
  ApiException,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from "@kubernetes/client-node";
import type { KubeObject } from "./render.js";

/** An object as the API server returns it: what the operator reads back of what it wrote. */
export type LiveObject = KubeObject & {
  metadata: KubeObject["metadata"] & {
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    deletionTimestamp?: string;
    finalizers?: string[];
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ uid: string; kind: string; name: string; controller?: boolean }>;
  };
};

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

/**
 * The calls the operator makes, over @kubernetes/client-node: reads that answer undefined for
 * "not there" (404) instead of throwing, writes that throw ApiException (409 on a stale
 * resourceVersion: the caller reconciles again from what is there now).
 */
export class Kube {
  private readonly objects: KubernetesObjectApi;
  private readonly custom: CustomObjectsApi;

  constructor(config: KubeConfig) {
    this.objects = KubernetesObjectApi.makeApiClient(config);
    this.custom = config.makeApiClient(CustomObjectsApi);
  }

  async read<T extends LiveObject = LiveObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return (await this.objects.read(header(ref))) as unknown as T;
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  /**
   * The objects of a kind in a namespace matching a label selector; undefined when the API server
   * does not serve the kind (e.g. KEDA's ScaledObject where KEDA is not installed).
   */
  async list<T extends LiveObject = LiveObject>(
    apiVersion: string,
    kind: string,
    namespace: string,
    labelSelector?: string,
  ): Promise<T[] | undefined> {
    try {
      const list = await this.objects.list(
        apiVersion,
        kind,
        namespace,
        undefined,
        undefined,
        undefined,
        undefined,
        labelSelector,
      );
      return list.items as unknown as T[];
    } catch (err) {
      if (isStatus(err, 404) || isUnknownKind(err)) return undefined;
      throw err;
    }
  }

  /** A list as the API server returns it (items and the list's resourceVersion, what a watch starts from); all namespaces without one. */
  listRaw(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    labelSelector?: string,
  ): Promise<KubernetesListObject<KubernetesObject>> {
    return this.objects.list(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector);
  }

  async create<T extends LiveObject>(object: KubeObject): Promise<T> {
    return (await this.objects.create(object as KubernetesObject)) as unknown as T;
  }

  /** Replaces an object; its metadata.resourceVersion makes it conditional (409 when stale). */
  async replace<T extends LiveObject>(object: KubeObject): Promise<T> {
    return (await this.objects.replace(object as KubernetesObject)) as unknown as T;
  }

  /** A JSON merge patch (RFC 7386) of the object named by `patch`'s apiVersion, kind and metadata. */
  async mergePatch<T extends LiveObject>(patch: KubeObject): Promise<T> {
    return (await this.objects.patch(
      patch as KubernetesObject,
      undefined,
      undefined,
      undefined,
      undefined,
      PatchStrategy.MergePatch,
    )) as unknown as T;
  }

  /** Deletes an object (background propagation: its dependents go after it); gone already is fine. */
  async delete(ref: ObjectRef): Promise<void> {
    try {
      await this.objects.delete(header(ref), undefined, undefined, undefined, undefined, "Background");
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
    }
  }

  /** Replaces a custom resource's status subresource (conditional on its resourceVersion). */
  async replaceStatus<T extends LiveObject>(object: LiveObject, plural: string): Promise<T> {
    const [group, version] = object.apiVersion.split("/");
    return (await this.custom.replaceNamespacedCustomObjectStatus({
      group: group as string,
      version: version as string,
      namespace: object.metadata.namespace,
      plural,
      name: object.metadata.name,
      body: object,
    })) as T;
  }
}

function header(ref: ObjectRef) {
  return { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } };
}

export function refOf(object: { apiVersion: string; kind: string; metadata: { namespace: string; name: string } }): ObjectRef {
  return { apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name };
}

/** Whether `err` is the API server answering with this HTTP status. */
export function isStatus(err: unknown, code: number): boolean {
  return err instanceof ApiException && err.code === code;
}

/** The client's own error when discovery does not know a kind (its API group is not installed). */
function isUnknownKind(err: unknown): boolean {
  return err instanceof Error && /Unrecognized API version and kind|resource .* not found/i.test(err.message);
}

/** What an API error says, for a status condition or a log line (without the whole response). */
export function describeError(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as { message?: string; reason?: string } | string | undefined;
    const message = typeof body === "string" ? safeMessage(body) : (body?.message ?? body?.reason);
    return `the Kubernetes API answered ${err.code}${message ? `: ${message}` : ""}`;
  }
  return err instanceof Error ? err.message : String(err);
}

function safeMessage(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { message?: unknown; reason?: unknown };
    if (typeof parsed.message === "string") return parsed.message;
    return typeof parsed.reason === "string" ? parsed.reason : undefined;
  } catch {
    return body.slice(0, 200) || undefined;
  }
}
