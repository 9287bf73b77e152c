import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";

/*
 * An in-process stand-in for the Kubernetes API server, for tests that drive the real
 * @kubernetes/client-node against it (the test machines have no Docker and no kube-apiserver). It keeps
 * what controllers depend on: resourceVersion conflicts, generation, status subresources, finalizers,
 * owner-reference garbage collection and resumable watches. Left out: admission, defaulting, schemas,
 * server-side apply and dryRun (both refused), pagination (`limit` returns everything), watch
 * bookmarks, deletecollection, and namespaces need not exist before objects are created in them.
 */

type Json = Record<string, unknown>;

/** Object metadata as the fake reads it; any other field passes through untouched. */
export interface FakeObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
  [field: string]: unknown;
}

/** A stored object, as JSON. */
export interface FakeObject {
  apiVersion: string;
  kind: string;
  metadata: FakeObjectMeta;
  spec?: unknown;
  status?: unknown;
  [field: string]: unknown;
}

/** One kind the fake serves. */
export interface FakeKind {
  /** "" for the core group. */
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  /** Writes to the object keep its stored status; only `<plural>/status` changes it. */
  statusSubresource: boolean;
  /** A custom resource: list items keep apiVersion/kind and strategic merge patch is refused (415), as for real CRDs. */
  custom?: boolean;
}

const kind = (group: string, version: string, kind: string, plural: string, status = false, custom = false): FakeKind => {
  return { group, version, kind, plural, namespaced: kind !== "Namespace", statusSubresource: status, custom };
};

/** What the operator and the control plane touch: the kinds served unless startFakeKube is given others. */
export const FAKE_KUBE_KINDS: readonly FakeKind[] = [
  kind("", "v1", "Namespace", "namespaces", true),
  kind("", "v1", "ServiceAccount", "serviceaccounts"),
  kind("", "v1", "Service", "services", true),
  kind("", "v1", "Secret", "secrets"),
  kind("", "v1", "ConfigMap", "configmaps"),
  kind("", "v1", "Pod", "pods", true),
  kind("", "v1", "Event", "events"),
  kind("apps", "v1", "Deployment", "deployments", true),
  kind("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies"),
  kind("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true),
  kind("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true),
  kind("coordination.k8s.io", "v1", "Lease", "leases"),
  kind("keda.sh", "v1alpha1", "ScaledObject", "scaledobjects", true, true),
  kind("platform.langopen.dev", "v1alpha1", "AgentDeployment", "agentdeployments", true, true),
];

/** One request as the fake received it. */
export interface FakeKubeRequest {
  method: string;
  /** Without the query, e.g. `/apis/apps/v1/namespaces/default/deployments/web`. */
  path: string;
  /** Without the `?`. */
  query: string;
  contentType: string | undefined;
}

export interface KubeletMode {
  /** How long after a Deployment changes its status follows (default 0: the next tick). */
  delayMs?: number;
}

export interface FakeKubeOptions {
  /**
   * The kinds served (default FAKE_KUBE_KINDS): add to it for more, filter it to play a cluster
   * without, say, KEDA (its group is then absent from discovery and its paths answer 404).
   */
  kinds?: readonly FakeKind[];
  /** Watch events kept for resuming from a resourceVersion; resuming from before them is 410 Gone (default 1000). */
  historyLimit?: number;
  /** See FakeKube.setKubelet; off by default. */
  kubelet?: boolean | KubeletMode;
}

export interface FakeKube {
  /** e.g. `http://127.0.0.1:40123` */
  readonly url: string;
  /** A KubeConfig for the fake: plain http, no credentials, default namespace "default" unless given. */
  kubeConfig(namespace?: string): KubeConfig;
  /** Ends open watches and stops the server. */
  close(): Promise<void>;
  /** A copy of the stored object, or undefined. `namespace` is ignored for cluster-scoped kinds. */
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): FakeObject | undefined;
  /** Copies of a kind's objects in one namespace or all, ordered by namespace and name. */
  list(apiVersion: string, kind: string, namespace?: string): FakeObject[];
  /**
   * Stores an object as given, bypassing every check (to play a controller, e.g. set a Deployment's
   * status): a new resourceVersion, a missing uid/creationTimestamp/generation filled in, watchers told.
   */
  put(obj: object): FakeObject;
  /** Removes an object at once, ignoring finalizers, and collects its dependents. False when absent. */
  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): boolean;
  /** Every request received, oldest first; clear it with `requests.length = 0`. */
  readonly requests: FakeKubeRequest[];
  /** The next request `match` accepts is answered with a Status of this code instead of being served (once). */
  failNext(match: (request: FakeKubeRequest) => boolean, code: number, message?: string): void;
  /**
   * When on, each Deployment's status (replicas, readyReplicas, updatedReplicas, availableReplicas,
   * observedGeneration) follows its spec after `delayMs`, as if its pods came up at once. Tests of
   * rollouts leave it off and drive the status by hand with put().
   */
  setKubelet(mode: boolean | KubeletMode): void;
  /** Watches still streaming (to check that clients hang up). */
  openWatches(): number;
}

class KubeError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Json,
  ) {
    super(message);
  }
}

interface WatchEvent {
  rv: number;
  kind: FakeKind;
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: FakeObject;
  /** The object before, so that a watch with a selector sees an object enter or leave it. */
  old: FakeObject | undefined;
}

const REASONS: Record<number, string> = { 404: "NotFound", 409: "Conflict", 410: "Expired", 422: "Invalid" };
Object.assign(REASONS, { 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout" });
const VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"];
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** MicroTime fields: the real server wants exactly six fractional digits, so it refuses `Date#toISOString()`. */
const MICRO_TIME_FIELDS: Record<string, string[]> = { Lease: ["spec.acquireTime", "spec.renewTime"], Event: ["eventTime"] };
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;

const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)));
const at = (v: unknown, path: string[]) => path.reduce<unknown>((o, part) => (isObj(o) ? o[part] : undefined), v);
const apiVersionOf = (k: FakeKind) => (k.group ? `${k.group}/${k.version}` : k.version);
const resourceName = (k: FakeKind) => (k.group ? `${k.plural}.${k.group}` : k.plural);
/** Real timestamps have whole seconds. */
const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");
const keyOf = (k: FakeKind, ns: string | undefined, name: string) => `${k.group}/${k.plural}/${k.namespaced ? ns : ""}/${name}`;

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => equal(v, b[i]));
  if (!isObj(a) || !isObj(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => key in b && equal(a[key], b[key]));
}

/** A failure Status; reason "" is the real StatusReasonUnknown, which the server leaves out. */
function statusBody(code: number, reason: string, message: string, details?: Json): Json {
  const body: Json = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message };
  return { ...body, ...(reason ? { reason } : {}), ...(details ? { details } : {}), code };
}

const badRequest = (message: string) => new KubeError(400, "BadRequest", message);
const pathNotFound = () =>
  new KubeError(404, "NotFound", "the server could not find the requested resource", {
    causes: [{ reason: "UnexpectedServerResponse", message: "404 page not found" }],
  });
const details = (k: FakeKind, name: string, extra?: Json): Json => {
  return { name, ...(k.group ? { group: k.group } : {}), kind: k.plural, ...extra };
};
const notFound = (k: FakeKind, name: string) =>
  new KubeError(404, "NotFound", `${resourceName(k)} "${name}" not found`, details(k, name));
const STALE = "the object has been modified; please apply your changes to the latest version and try again";
const conflict = (k: FakeKind, name: string, why = STALE) =>
  new KubeError(409, "Conflict", `Operation cannot be fulfilled on ${resourceName(k)} "${name}": ${why}`, details(k, name));
const precondition = (k: FakeKind, name: string, what: string, want: unknown, have: unknown) =>
  conflict(k, name, `Precondition failed: ${what} in precondition: ${want}, ${what} in object meta: ${have}`);
const invalid = (k: FakeKind, name: string, field: string, problem: string) => {
  const message = `${k.kind}${k.group && `.${k.group}`} "${name}" is invalid: ${field}: ${problem}`;
  return new KubeError(422, "Invalid", message, { ...details(k, name), kind: k.kind, causes: [{ field, message: problem }] });
};

/** A label selector (`a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)`, comma-joined) as a predicate. */
function labelSelector(selector: string): (labels: Record<string, string> | undefined) => boolean {
  const terms = selector.split(/,(?![^(]*\))/).map((term) => term.trim());
  const tests = terms.filter(Boolean).map((term): ((labels: Record<string, string>) => boolean) => {
    const set = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (set) {
      const [, key = "", op, list = ""] = set;
      const values = list.split(",").map((v) => v.trim());
      return (l) => (l[key] !== undefined && values.includes(l[key])) === (op === "in");
    }
    const eq = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(term);
    if (eq) {
      const [, key = "", op, value] = eq;
      return (l) => (l[key] === value) === (op !== "!=");
    }
    const exists = /^(!?)([\w./-]+)$/.exec(term);
    if (!exists) throw badRequest(`unable to parse requirement: found '${term}'`);
    const [, not, key = ""] = exists;
    return (l) => (l[key] !== undefined) === !not;
  });
  return (labels) => tests.every((test) => test(labels ?? {}));
}

/** A field selector (`metadata.name=x`, `metadata.namespace!=y`, or any other dotted path) as a predicate. */
function fieldSelector(selector: string): (obj: FakeObject) => boolean {
  const tests = selector
    .split(",")
    .filter((term) => term.trim())
    .map((term) => {
      const [, path = "", op, value] = /^\s*([\w.]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(term) ?? [];
      if (!op) throw badRequest(`invalid field selector: '${term}'`);
      return (obj: FakeObject) => (String(at(obj, path.split(".")) ?? "") === value) === (op !== "!=");
    });
  return (obj) => tests.every((test) => test(obj));
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  const out: Json = isObj(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** RFC 6902 JSON patch (add, remove, replace, test, move, copy), applied in place to `doc`. */
function jsonPatch(doc: Json, ops: unknown[]): Json {
  const fail = (message: string) => new KubeError(422, "Invalid", message);
  const tokens = (path: string) => path.split("/").map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
  const child = (v: unknown, t: string): unknown => (Array.isArray(v) ? v[Number(t)] : isObj(v) ? v[t] : undefined);
  const get = (path: string) => {
    const value = tokens(path).slice(1).reduce<unknown>(child, doc);
    if (value === undefined) throw fail(`doc is missing path: "${path}"`);
    return value;
  };
  const locate = (path: string) => {
    const parts = tokens(path).slice(1);
    const last = parts.pop() ?? "";
    const parent = parts.reduce<unknown>(child, doc);
    const index = last === "-" && Array.isArray(parent) ? parent.length : Number(last);
    if (isObj(parent) || (Array.isArray(parent) && Number.isInteger(index) && index >= 0 && index <= parent.length)) {
      return { parent, last, index };
    }
    throw fail(`doc is missing path: "${path}"`);
  };
  const remove = (path: string) => {
    const { parent, last, index } = locate(path);
    get(path);
    if (Array.isArray(parent)) parent.splice(index, 1);
    else delete parent[last];
  };
  const add = (path: string, value: unknown) => {
    const { parent, last, index } = locate(path);
    if (Array.isArray(parent)) parent.splice(index, 0, clone(value));
    else parent[last] = clone(value);
  };
  for (const op of ops) {
    if (!isObj(op) || typeof op.path !== "string") throw fail(`invalid JSON patch operation: ${JSON.stringify(op)}`);
    if (!["add", "remove", "replace", "test", "copy", "move"].includes(String(op.op))) throw fail(`Unexpected kind: ${op.op}`);
    const value = op.op === "copy" || op.op === "move" ? get(String(op.from)) : op.value;
    if (op.op === "test" && !equal(get(op.path), value)) throw fail(`testing value ${op.path} failed`);
    if (op.op === "remove" || op.op === "replace") remove(op.path);
    if (op.op === "move") remove(String(op.from));
    if (op.op !== "remove" && op.op !== "test") add(op.path, value);
  }
  return doc;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
}

/** Starts the fake on 127.0.0.1, on a free port. */
export async function startFakeKube(options: FakeKubeOptions = {}): Promise<FakeKube> {
  const kinds = options.kinds ?? FAKE_KUBE_KINDS;
  const historyLimit = options.historyLimit ?? 1000;
  const store = new Map<string, FakeObject>();
  const history: WatchEvent[] = [];
  const watchers = new Set<{ deliver(event: WatchEvent): void; end(): void }>();
  const requests: FakeKubeRequest[] = [];
  const failures: { match: (request: FakeKubeRequest) => boolean; code: number; message: string }[] = [];
  const kubeletTimers = new Map<string, NodeJS.Timeout>();
  let kubelet: KubeletMode | undefined;
  let counter = 1;
  /** Events up to this resourceVersion have left the history. */
  let expiredUpTo = 0;

  const kindFor = (apiVersion: unknown, kindName: unknown): FakeKind => {
    const k = kinds.find((c) => apiVersionOf(c) === apiVersion && c.kind === kindName);
    if (!k) throw new Error(`the fake Kubernetes API does not serve ${apiVersion} ${kindName}`);
    return k;
  };
  const objectsOf = (k: FakeKind, ns?: string) => {
    const prefix = `${k.group}/${k.plural}/${ns === undefined || !k.namespaced ? "" : `${ns}/`}`;
    const keys = [...store.keys()].filter((key) => key.startsWith(prefix)).sort();
    return keys.map((key) => store.get(key) as FakeObject);
  };
  const storedKey = (obj: FakeObject) =>
    keyOf(kindFor(obj.apiVersion, obj.kind), obj.metadata.namespace, obj.metadata.name ?? "");

  /** Stores (or removes) an object under a new resourceVersion, records the event and tells the watchers. */
  function commit(k: FakeKind, obj: FakeObject, type: WatchEvent["type"]): FakeObject {
    const key = keyOf(k, obj.metadata.namespace, obj.metadata.name ?? "");
    const old = store.get(key);
    obj.metadata.resourceVersion = String(++counter);
    if (type === "DELETED") store.delete(key);
    else store.set(key, obj);
    const event: WatchEvent = { rv: counter, kind: k, type, object: clone(obj), old };
    history.push(event);
    if (history.length > historyLimit) expiredUpTo = history.shift()?.rv ?? expiredUpTo;
    for (const watcher of watchers) watcher.deliver(event);
    if (k.kind === "Deployment" && k.group === "apps" && type !== "DELETED") scheduleKubelet(key);
    return clone(obj);
  }

  function scheduleKubelet(key: string): void {
    if (!kubelet || kubeletTimers.has(key)) return;
    const timer = setTimeout(() => {
      kubeletTimers.delete(key);
      const obj = store.get(key);
      if (!obj || obj.metadata.deletionTimestamp) return;
      const replicas = at(obj, ["spec", "replicas"]) ?? 1;
      const status: Json = { ...(isObj(obj.status) ? obj.status : {}), observedGeneration: obj.metadata.generation };
      // a real Deployment's status leaves zero counts out
      for (const field of ["replicas", "readyReplicas", "updatedReplicas", "availableReplicas"]) {
        if (replicas) status[field] = replicas;
        else delete status[field];
      }
      if (!equal(status, obj.status)) commit(kindFor("apps/v1", "Deployment"), { ...clone(obj), status }, "MODIFIED");
    }, kubelet.delayMs ?? 0);
    kubeletTimers.set(key, timer);
  }

  /** Checks a request body against the kind and the URL, defaulting apiVersion, kind and namespace. */
  function checkBody(k: FakeKind, input: unknown, ns: string | undefined, name?: string): FakeObject {
    if (!isObj(input)) throw badRequest(`the body of the request could not be decoded as a ${k.kind}`);
    const obj = clone(input) as FakeObject;
    const expected = apiVersionOf(k);
    if (obj.apiVersion !== undefined && obj.apiVersion !== expected) {
      throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${expected})`);
    }
    const cannot = `${obj.kind ?? k.kind} in version "${k.version}" cannot be handled as a ${k.kind}`;
    if (obj.kind !== undefined && obj.kind !== k.kind) throw badRequest(`${cannot}: the kind does not match the URL`);
    Object.assign(obj, { apiVersion: expected, kind: k.kind, metadata: isObj(obj.metadata) ? obj.metadata : {} });
    const meta = obj.metadata;
    // the real server's typed ObjectMeta drops empty fields, so `labels: {}` or `finalizers: []` is no change
    for (const [field, v] of Object.entries(meta)) if (v === "" || equal(v, []) || equal(v, {})) delete meta[field];
    if (k.namespaced && meta.namespace && meta.namespace !== ns) {
      throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    if (k.namespaced) meta.namespace = ns;
    else delete meta.namespace;
    if (name !== undefined && meta.name !== name) {
      throw badRequest(`the name of the object (${meta.name ?? ""}) does not match the name on the URL (${name})`);
    }
    for (const path of MICRO_TIME_FIELDS[k.kind] ?? []) {
      const value = at(obj, path.split("."));
      if (typeof value !== "string" || MICRO_TIME.test(value)) continue;
      const layout = "2006-01-02T15:04:05.000000Z07:00";
      throw badRequest(
        `${cannot}: parsing time "${value}" as "${layout}": cannot parse "${/\..*$/.exec(value)?.[0] ?? value}" as ".000000"`,
      );
    }
    return obj;
  }

  function create(k: FakeKind, ns: string | undefined, input: unknown): FakeObject {
    const obj = checkBody(k, input, ns);
    const meta = obj.metadata;
    // the real server's storage refuses it with a 500 of unknown reason
    if (meta.resourceVersion) throw new KubeError(500, "", "resourceVersion should not be set on objects to be created");
    if (!meta.name && meta.generateName) meta.name = meta.generateName + Math.random().toString(36).slice(2, 7);
    if (!meta.name) throw invalid(k, "", "metadata.name", "Required value: name or generateName is required");
    if (!NAME.test(meta.name) || meta.name.length > 253) {
      const rule = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'";
      throw invalid(k, meta.name, "metadata.name", `Invalid value: "${meta.name}": ${rule}`);
    }
    if (store.has(keyOf(k, ns, meta.name))) {
      throw new KubeError(409, "AlreadyExists", `${resourceName(k)} "${meta.name}" already exists`, details(k, meta.name));
    }
    Object.assign(meta, { uid: randomUUID(), creationTimestamp: now(), generation: 1 });
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    if (k.statusSubresource) delete obj.status;
    return commit(k, obj, "ADDED");
  }

  /** PUT, and PATCH with the patched object: on `/status` only the status changes, elsewhere all but the status. */
  function update(k: FakeKind, ns: string | undefined, name: string, input: unknown, onStatus: boolean): FakeObject {
    const old = store.get(keyOf(k, ns, name));
    if (!old) throw notFound(k, name);
    const body = checkBody(k, input, ns, name);
    const { resourceVersion, uid } = body.metadata;
    if (resourceVersion && resourceVersion !== old.metadata.resourceVersion) throw conflict(k, name);
    if (uid && uid !== old.metadata.uid) throw precondition(k, name, "UID", uid, old.metadata.uid);
    let next: FakeObject;
    if (onStatus) {
      next = { ...clone(old), status: body.status };
      if (!("status" in body)) delete next.status;
    } else {
      next = body;
      if (k.statusSubresource) next.status = clone(old.status);
      if (next.status === undefined) delete next.status;
      for (const field of ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"]) {
        next.metadata[field] = old.metadata[field];
        if (old.metadata[field] === undefined) delete next.metadata[field];
      }
      const added = (next.metadata.finalizers ?? []).filter((f) => !old.metadata.finalizers?.includes(f));
      if (old.metadata.deletionTimestamp && added.length > 0) {
        const found = `found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(", ")}}`;
        const problem = `Forbidden: no new finalizers can be added if the object is being deleted, ${found}`;
        throw invalid(k, name, "metadata.finalizers", problem);
      }
      const rest = (o: FakeObject) =>
        Object.entries(o).filter(([f]) => !["apiVersion", "kind", "metadata", "status"].includes(f));
      const specChanged = !equal(Object.fromEntries(rest(old)), Object.fromEntries(rest(next)));
      if (specChanged) next.metadata.generation = (old.metadata.generation ?? 0) + 1;
    }
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    // a write that changes nothing keeps the resourceVersion and sends no event, as etcd does
    if (equal(next, old)) return clone(old);
    if (next.metadata.deletionTimestamp && !next.metadata.finalizers?.length) return removeNow(k, next);
    return commit(k, next, "MODIFIED");
  }

  function patch(k: FakeKind, ns: string | undefined, name: string, input: unknown, contentType: string, onStatus: boolean) {
    const old = store.get(keyOf(k, ns, name));
    if (!old) throw notFound(k, name);
    const type = contentType.split(";")[0]?.trim();
    if (type === "application/json-patch+json") {
      if (!Array.isArray(input)) throw badRequest("json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp");
      return update(k, ns, name, jsonPatch(clone(old), input), onStatus);
    }
    // Strategic merge patch is applied as a merge patch: lists are replaced rather than merged by
    // key, and `$patch` directives mean nothing. Real CRDs refuse it, so custom kinds do too.
    const strategic = type === "application/strategic-merge-patch+json" && !k.custom;
    if (type !== "application/merge-patch+json" && !strategic) {
      const accepted = `application/json-patch+json, application/merge-patch+json${k.custom ? "" : ", application/strategic-merge-patch+json"}`;
      const message = `the body of the request was in an unknown format - accepted media types include: ${accepted}`;
      throw new KubeError(415, "UnsupportedMediaType", message);
    }
    if (!isObj(input)) throw badRequest("the patch is not a JSON object");
    return update(k, ns, name, mergePatch(old, input), onStatus);
  }

  /** DELETE: an object with finalizers is only marked (undefined when it went at once). */
  function deleteObject(k: FakeKind, obj: FakeObject): FakeObject | undefined {
    if (!obj.metadata.finalizers?.length) return void removeNow(k, obj);
    if (obj.metadata.deletionTimestamp) return clone(obj);
    const next = clone(obj);
    // the real server also bumps the generation of an object it marks for deletion
    if (next.metadata.generation) next.metadata.generation += 1;
    Object.assign(next.metadata, { deletionTimestamp: now(), deletionGracePeriodSeconds: 0 });
    return commit(k, next, "MODIFIED");
  }

  /**
   * Removes an object, then does what the garbage collector (background propagation) and the
   * namespace controller would: a dependent with no other live owner is deleted through the same
   * path (its finalizers are honoured), the others lose the reference; a namespace takes its objects along.
   */
  function removeNow(k: FakeKind, obj: FakeObject): FakeObject {
    const gone = commit(k, clone(obj), "DELETED");
    const { uid, name } = gone.metadata;
    const live = (u: string) => [...store.values()].some((o) => o.metadata.uid === u);
    for (const key of [...store.keys()]) {
      const current = store.get(key);
      const refs = current?.metadata.ownerReferences ?? [];
      if (current && refs.some((r) => r.uid === uid)) {
        const dk = kindFor(current.apiVersion, current.kind);
        if (refs.some((r) => r.uid !== uid && live(r.uid))) detach(current, uid);
        else deleteObject(dk, current);
      }
      if (current && k.kind === "Namespace" && k.group === "" && current.metadata.namespace === name && store.has(key)) {
        deleteObject(kindFor(current.apiVersion, current.kind), store.get(key) as FakeObject);
      }
    }
    return gone;
  }
  /** Drops an object's owner reference to `uid`. */
  function detach(obj: FakeObject, uid: unknown): void {
    const ownerReferences = obj.metadata.ownerReferences?.filter((r) => r.uid !== uid);
    const next = { ...clone(obj), metadata: { ...clone(obj.metadata), ownerReferences } };
    commit(kindFor(obj.apiVersion, obj.kind), next, "MODIFIED");
  }

  function watch(k: FakeKind, ns: string | undefined, query: URLSearchParams, res: ServerResponse): void {
    const labels = labelSelector(query.get("labelSelector") ?? "");
    const fields = fieldSelector(query.get("fieldSelector") ?? "");
    const matches = (o: FakeObject | undefined) =>
      o !== undefined && (ns === undefined || o.metadata.namespace === ns) && labels(o.metadata.labels) && fields(o);
    const since = query.get("resourceVersion");
    const from = since && since !== "0" ? Number(since) : undefined;
    if (from !== undefined && !Number.isInteger(from)) throw badRequest(`invalid resource version: ${since}`);
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" }).flushHeaders();
    const write = (type: string, object: unknown) => {
      if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify({ type, object })}\n`);
    };
    if (from !== undefined && from < expiredUpTo) {
      write("ERROR", statusBody(410, "Expired", `too old resource version: ${from} (${expiredUpTo + 1})`));
      res.end();
      return;
    }
    const watcher = {
      deliver(event: WatchEvent) {
        if (event.kind !== k) return;
        const [was, is] = [matches(event.old), matches(event.object)];
        // as the watch cache does: an object entering or leaving the selection is ADDED or DELETED for this watch
        if (event.type === "MODIFIED" && was !== is) write(is ? "ADDED" : "DELETED", event.object);
        else if (is) write(event.type, event.object);
      },
      end: () => res.end(),
    };
    if (from === undefined) for (const obj of objectsOf(k, ns).filter(matches)) write("ADDED", obj);
    else for (const event of history) if (event.rv > from) watcher.deliver(event);
    watchers.add(watcher);
    const timeout = Number(query.get("timeoutSeconds") ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    res.on("close", () => {
      watchers.delete(watcher);
      clearTimeout(timer);
    });
  }

  /** GET /api, /apis, /apis/{group} and /api(s)/{group}/{version} in the real shapes; undefined for other paths. */
  function discovery(parts: string[], address: string): Json | undefined {
    if (parts.length === 1 && parts[0] === "api") {
      const cidrs = [{ clientCIDR: "0.0.0.0/0", serverAddress: address }];
      return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: cidrs };
    }
    const groupOf = (name: string) => {
      const versions = [...new Set(kinds.filter((k) => k.group === name).map((k) => k.version))];
      const entries = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
      return entries[0] && { name, versions: entries, preferredVersion: entries[0] };
    };
    if (parts.length === 1 && parts[0] === "apis") {
      const groups = [...new Set(kinds.map((k) => k.group).filter(Boolean))].map(groupOf);
      return { kind: "APIGroupList", apiVersion: "v1", groups };
    }
    const group = parts.length === 2 && parts[0] === "apis" ? groupOf(parts[1] ?? "") : undefined;
    if (group) return { kind: "APIGroup", apiVersion: "v1", ...group };
    const core = parts[0] === "api" && parts.length === 2;
    const [g, v] = core ? ["", parts[1]] : parts[0] === "apis" && parts.length === 3 ? [parts[1], parts[2]] : [];
    const served = kinds.filter((k) => k.group === g && k.version === v);
    if (!served.length) return undefined;
    // each kind's own entry comes before its status (KubernetesObjectApi takes the first entry of a kind)
    const resources = served.flatMap((k) => {
      const main = { name: k.plural, singularName: k.kind.toLowerCase(), namespaced: k.namespaced, kind: k.kind, verbs: VERBS };
      const status = { ...main, name: `${k.plural}/status`, singularName: "", verbs: ["get", "patch", "update"] };
      return k.statusSubresource ? [main, status] : [main];
    });
    return { kind: "APIResourceList", apiVersion: "v1", groupVersion: g ? `${g}/${v}` : v, resources };
  }

  /** Serves one request; undefined when it streams (a watch). */
  function route(method: string, url: URL, raw: string, contentType: string, res: ServerResponse): [number, unknown] | undefined {
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    if (method === "GET" && url.pathname === "/version") return [200, { major: "1", minor: "33", gitVersion: "v1.33.0-fake" }];
    const found = method === "GET" ? discovery(parts, url.host) : undefined;
    if (found) return [200, found];
    const core = parts[0] === "api";
    const [group, version] = core ? ["", parts[1]] : [parts[1], parts[2]];
    let rest = parts.slice(core ? 2 : 3);
    if ((!core && parts[0] !== "apis") || rest.length === 0) throw pathNotFound();
    let ns: string | undefined;
    // `namespaces/x` and `namespaces/x/status` are the Namespace itself
    if (rest[0] === "namespaces" && rest.length >= 3 && !(rest.length === 3 && rest[2] === "status")) {
      ns = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, sub] = rest;
    const k = kinds.find((c) => c.group === group && c.version === version && c.plural === plural);
    if (!k || rest.length > 3 || (sub !== undefined && (sub !== "status" || !k.statusSubresource))) throw pathNotFound();
    if (k.namespaced ? name !== undefined && ns === undefined : ns !== undefined) throw pathNotFound();
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch (err) {
      throw badRequest(`the body of the request could not be decoded: ${(err as Error).message}`);
    }
    const notAllowed = new KubeError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
    const query = url.searchParams;
    if (query.has("dryRun")) throw badRequest("the fake Kubernetes API does not support dryRun");
    if (name === undefined) {
      if (method === "POST" && (ns !== undefined || !k.namespaced)) return [201, create(k, ns, body)];
      if (method !== "GET") throw notAllowed;
      if (query.get("watch") === "true" || query.get("watch") === "1") return void watch(k, ns, query, res);
      const labels = labelSelector(query.get("labelSelector") ?? "");
      const fields = fieldSelector(query.get("fieldSelector") ?? "");
      const items = objectsOf(k, ns)
        .filter((o) => labels(o.metadata.labels) && fields(o))
        // built-in lists leave apiVersion and kind off their items; custom resources keep them
        .map(({ apiVersion, kind, ...item }) => (k.custom ? { apiVersion, kind, ...item } : item));
      return [200, { kind: `${k.kind}List`, apiVersion: apiVersionOf(k), metadata: { resourceVersion: String(counter) }, items }];
    }
    const stored = store.get(keyOf(k, ns, name));
    if (method === "GET" && stored) return [200, clone(stored)];
    if (method === "PUT") return [200, update(k, ns, name, body, sub === "status")];
    if (method === "PATCH") return [200, patch(k, ns, name, body, contentType, sub === "status")];
    if ((method !== "DELETE" && method !== "GET") || (method === "DELETE" && sub)) throw notAllowed;
    if (!stored) throw notFound(k, name);
    const pre = isObj(body) && isObj(body.preconditions) ? body.preconditions : {};
    if (pre.uid && pre.uid !== stored.metadata.uid) throw precondition(k, name, "UID", pre.uid, stored.metadata.uid);
    const rv = stored.metadata.resourceVersion;
    if (pre.resourceVersion && pre.resourceVersion !== rv)
      throw precondition(k, name, "ResourceVersion", pre.resourceVersion, rv);
    // Foreground propagation is treated as Background; Orphan detaches the dependents at once
    if ((query.get("propagationPolicy") ?? (isObj(body) && body.propagationPolicy)) === "Orphan") {
      const uid = stored.metadata.uid;
      for (const o of [...store.values()]) if (o.metadata.ownerReferences?.some((r) => r.uid === uid)) detach(o, uid);
    }
    const marked = deleteObject(k, stored);
    const success = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success" };
    return [200, marked ?? { ...success, details: details(k, name, { uid: stored.metadata.uid }) }];
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "127.0.0.1"}`);
    const [method, contentType] = [req.method ?? "GET", req.headers["content-type"]];
    const request: FakeKubeRequest = { method, path: url.pathname, query: url.search.slice(1), contentType };
    requests.push(request);
    const raw = await readBody(req);
    const failure = failures.find((f) => f.match(request));
    if (failure) {
      failures.splice(failures.indexOf(failure), 1);
      return send(res, failure.code, statusBody(failure.code, REASONS[failure.code] ?? "", failure.message));
    }
    if (["/healthz", "/readyz", "/livez"].includes(url.pathname)) return void res.writeHead(200).end("ok");
    try {
      const answer = route(request.method, url, raw, request.contentType ?? "", res);
      if (answer) send(res, answer[0], answer[1]);
    } catch (err) {
      const e = err instanceof KubeError ? err : new KubeError(500, "InternalError", String(err));
      if (res.headersSent) res.end();
      else send(res, e.code, statusBody(e.code, e.reason, e.message, e.details));
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const fake: FakeKube = {
    url,
    requests,
    kubeConfig(namespace = "default") {
      const kc = new KubeConfig();
      // client-node refuses a plain-http server unless skipTLSVerify is set
      kc.loadFromOptions({
        clusters: [{ name: "fake", server: url, skipTLSVerify: true }],
        users: [{ name: "fake" }],
        contexts: [{ name: "fake", cluster: "fake", user: "fake", namespace }],
        currentContext: "fake",
      });
      return kc;
    },
    async close() {
      for (const timer of kubeletTimers.values()) clearTimeout(timer);
      kubelet = undefined;
      for (const watcher of watchers) watcher.end();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    get(apiVersion, kindName, namespace, name) {
      return clone(store.get(keyOf(kindFor(apiVersion, kindName), namespace, name)));
    },
    list(apiVersion, kindName, namespace) {
      return clone(objectsOf(kindFor(apiVersion, kindName), namespace));
    },
    put(input) {
      const obj = clone(input) as FakeObject;
      if (!isObj(obj.metadata) || !obj.metadata.name) throw new Error("put needs metadata.name");
      const k = kindFor(obj.apiVersion, obj.kind);
      const meta = obj.metadata;
      if (k.namespaced) meta.namespace ??= "default";
      else delete meta.namespace;
      const old = store.get(storedKey(obj))?.metadata;
      meta.uid ??= old?.uid ?? randomUUID();
      meta.creationTimestamp ??= old?.creationTimestamp ?? now();
      meta.generation ??= old?.generation ?? 1;
      return commit(k, obj, old ? "MODIFIED" : "ADDED");
    },
    remove(apiVersion, kindName, namespace, name) {
      const k = kindFor(apiVersion, kindName);
      const obj = store.get(keyOf(k, namespace, name));
      if (obj) removeNow(k, obj);
      return obj !== undefined;
    },
    failNext(match, code, message = `injected failure (${code})`) {
      failures.push({ match, code, message });
    },
    setKubelet(mode) {
      kubelet = mode === false ? undefined : mode === true ? {} : mode;
      const deployments = kinds.find((k) => k.group === "apps" && k.kind === "Deployment");
      for (const obj of deployments ? objectsOf(deployments) : []) scheduleKubelet(storedKey(obj));
    },
    openWatches: () => watchers.size,
  };
  if (options.kubelet) fake.setKubelet(options.kubelet);
  return fake;
}
