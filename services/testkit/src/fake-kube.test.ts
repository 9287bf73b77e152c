import {
  ApiException,
  ApisApi,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type V1ConfigMap,
  type V1Deployment,
  V1MicroTime,
  Watch,
} from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FAKE_KUBE_KINDS, type FakeKube, startFakeKube } from "./fake-kube.js";
import { until } from "./until.js";

/** Waits that fail in seconds, not until()'s default 20 s. */
const soon = <T>(probe: () => Promise<T | undefined | false>, what: string) => until(probe, what, { timeoutMs: 5000 });

const GROUP = "platform.langopen.dev";
const VERSION = "v1alpha1";
const PLURAL = "agentdeployments";
const AD = { group: GROUP, version: VERSION, namespace: "default", plural: PLURAL };

type Agent = KubernetesObject & {
  metadata: { name: string; namespace: string };
  spec: Record<string, unknown>;
  status?: unknown;
};

const agent = (name: string, spec: Record<string, unknown> = { replicas: 1 }): Agent => ({
  apiVersion: `${GROUP}/${VERSION}`,
  kind: "AgentDeployment",
  metadata: { name, namespace: "default" },
  spec,
});

const deployment = (name: string, replicas = 1): V1Deployment => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace: "default" },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "main", image: "nginx:1" }] } },
  },
});

const configMap = (name: string, extra: Partial<V1ConfigMap> = {}): V1ConfigMap => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  ...extra,
  metadata: { name, namespace: "default", ...extra.metadata },
});

/** The ApiException a call fails with; client-node carries the Status as the raw response text in `body`. */
async function rejection(call: Promise<unknown>): Promise<{ code: number; reason?: string; message?: string }> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const status = JSON.parse(err.body as string) as { reason?: string; message?: string; code: number };
    expect(status.code).toBe(err.code);
    return { code: err.code, reason: status.reason, message: status.message };
  }
  throw new Error("the call succeeded");
}

describe("the fake Kubernetes API server, through @kubernetes/client-node", () => {
  let fake: FakeKube;
  let kc: KubeConfig;
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeEach(async () => {
    fake = await startFakeKube();
    kc = fake.kubeConfig();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await fake.close();
  });

  it("serves discovery, and KubernetesObjectApi gets a 409 for a replace with a stale resourceVersion", async () => {
    const groups = await kc.makeApiClient(ApisApi).getAPIVersions();
    expect(groups.groups.map((g) => g.name)).toContain(GROUP);
    const apps = (await (await fetch(`${fake.url}/apis/apps/v1`)).json()) as { resources: { name: string; kind: string }[] };
    expect(apps.resources.filter((r) => r.kind === "Deployment").map((r) => r.name)).toEqual([
      "deployments",
      "deployments/status",
    ]);

    const objects = KubernetesObjectApi.makeApiClient(kc);
    const created = await objects.create(agent("alpha"));
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.generation).toBe(1);
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /apis",
      "GET /apis/apps/v1",
      `GET /apis/${GROUP}/${VERSION}`,
      `POST /apis/${GROUP}/${VERSION}/namespaces/default/${PLURAL}`,
    ]);

    const read = await objects.read(agent("alpha"));
    expect(read.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
    const replaced = await objects.replace({ ...read, spec: { replicas: 2 } } as KubernetesObject);
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(Number(read.metadata?.resourceVersion));

    const stale = await rejection(objects.replace({ ...read, spec: { replicas: 3 } } as KubernetesObject));
    expect(stale).toEqual({
      code: 409,
      reason: "Conflict",
      message: `Operation cannot be fulfilled on ${PLURAL}.${GROUP} "alpha": the object has been modified; please apply your changes to the latest version and try again`,
    });
    expect(fake.get(`${GROUP}/${VERSION}`, "AgentDeployment", "default", "alpha")?.spec).toEqual({ replicas: 2 });

    expect(await rejection(objects.create(agent("alpha")))).toMatchObject({ code: 409, reason: "AlreadyExists" });
    expect(await rejection(objects.read(agent("missing")))).toMatchObject({
      code: 404,
      reason: "NotFound",
      message: `${PLURAL}.${GROUP} "missing" not found`,
    });
    const listed = await objects.list(`${GROUP}/${VERSION}`, "AgentDeployment", "default");
    expect(listed.items.map((i) => `${i.kind} ${i.metadata?.name}`)).toEqual(["AgentDeployment alpha"]);
    const deleted = await objects.delete(agent("alpha"));
    expect(deleted).toMatchObject({ kind: "Status", status: "Success", details: { name: "alpha", kind: PLURAL } });
    expect(fake.get(`${GROUP}/${VERSION}`, "AgentDeployment", "default", "alpha")).toBeUndefined();
    // the core group: the namespace comes from the context
    const cm = await objects.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings" } } as KubernetesObject);
    expect(cm.metadata?.namespace).toBe("default");
    expect(fake.requests.map((r) => r.path)).toContain("/api/v1");
  });

  it("refuses bodies that do not fit the URL", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const wrongKind = { apiVersion: "v1", kind: "Secret", metadata: { name: "x" } } as V1ConfigMap;
    expect(await rejection(core.createNamespacedConfigMap({ namespace: "default", body: wrongKind }))).toMatchObject({
      code: 400,
      reason: "BadRequest",
    });
    expect(await rejection(core.createNamespacedConfigMap({ namespace: "default", body: configMap("") }))).toMatchObject({
      code: 422,
      reason: "Invalid",
    });
    const otherNs = configMap("x", { metadata: { namespace: "other" } });
    expect(await rejection(core.createNamespacedConfigMap({ namespace: "default", body: otherNs }))).toMatchObject({ code: 400 });
    const generated = await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { generateName: "run-" } },
    });
    expect(generated.metadata?.name).toMatch(/^run-[a-z0-9]{5}$/);
    const unknown = await fetch(`${fake.url}/apis/example.com/v1/namespaces/default/widgets`);
    expect(unknown.status).toBe(404);
  });

  it("serves only the kinds it is given, so a test can play a cluster without KEDA", async () => {
    const noKeda = await startFakeKube({ kinds: FAKE_KUBE_KINDS.filter((k) => k.group !== "keda.sh") });
    cleanups.push(() => noKeda.close());
    const scaledObject = { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", metadata: { name: "s", namespace: "default" } };
    const objects = KubernetesObjectApi.makeApiClient(noKeda.kubeConfig());
    expect(await rejection(objects.create(scaledObject))).toMatchObject({ code: 404 });
    const custom = noKeda.kubeConfig().makeApiClient(CustomObjectsApi);
    const create = custom.createNamespacedCustomObject({
      group: "keda.sh",
      version: "v1alpha1",
      namespace: "default",
      plural: "scaledobjects",
      body: scaledObject,
    });
    expect(await rejection(create)).toMatchObject({ code: 404, reason: "NotFound" });
    const groups = await noKeda.kubeConfig().makeApiClient(ApisApi).getAPIVersions();
    expect(groups.groups.map((g) => g.name)).not.toContain("keda.sh");
  });

  it("bumps generation only for spec changes and keeps a Deployment's status out of plain writes", async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const body = { ...deployment("web"), status: { readyReplicas: 5 } };
    const created = await apps.createNamespacedDeployment({ namespace: "default", body });
    expect(created.metadata?.generation).toBe(1);
    expect(created.status).toBeUndefined();

    const labelled = await apps.replaceNamespacedDeployment({
      name: "web",
      namespace: "default",
      body: { ...created, metadata: { ...created.metadata, labels: { team: "a" } } },
    });
    expect(labelled.metadata?.generation).toBe(1);
    expect(Number(labelled.metadata?.resourceVersion)).toBeGreaterThan(Number(created.metadata?.resourceVersion));

    const scaled = await apps.replaceNamespacedDeployment({
      name: "web",
      namespace: "default",
      body: { ...labelled, spec: { ...labelled.spec, replicas: 3 } as V1Deployment["spec"] },
    });
    expect(scaled.metadata?.generation).toBe(2);
    expect(scaled.metadata?.uid).toBe(created.metadata?.uid);

    // status on the main resource is ignored; the write then changes nothing, so the resourceVersion stays
    const same = await apps.replaceNamespacedDeployment({
      name: "web",
      namespace: "default",
      body: { ...scaled, status: { readyReplicas: 3 } },
    });
    expect(same.status).toBeUndefined();
    expect(same.metadata?.resourceVersion).toBe(scaled.metadata?.resourceVersion);

    const withStatus = await apps.replaceNamespacedDeploymentStatus({
      name: "web",
      namespace: "default",
      body: { ...scaled, spec: { ...scaled.spec, replicas: 7 } as V1Deployment["spec"], status: { readyReplicas: 3 } },
    });
    expect(withStatus.status?.readyReplicas).toBe(3);
    expect(withStatus.spec?.replicas).toBe(3);
    expect(withStatus.metadata?.generation).toBe(2);

    // kinds without spec: any change outside metadata counts
    const core = kc.makeApiClient(CoreV1Api);
    const cm = await core.createNamespacedConfigMap({ namespace: "default", body: configMap("c", { data: { a: "1" } }) });
    const changed = await core.replaceNamespacedConfigMap({ name: "c", namespace: "default", body: { ...cm, data: { a: "2" } } });
    expect(changed.metadata?.generation).toBe(2);
  });

  it("serves the status subresource to CustomObjectsApi and KubernetesObjectApi", async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const created = await custom.createNamespacedCustomObject({ ...AD, body: { ...agent("beta"), status: { phase: "Bogus" } } });
    expect(created.status).toBeUndefined();

    const withStatus = await custom.replaceNamespacedCustomObjectStatus({
      ...AD,
      name: "beta",
      body: { ...created, spec: { replicas: 9 }, status: { phase: "Ready", observedGeneration: 1 } },
    });
    expect(withStatus.status).toEqual({ phase: "Ready", observedGeneration: 1 });
    expect(withStatus.spec).toEqual({ replicas: 1 });
    expect(withStatus.metadata.generation).toBe(1);
    expect(await rejection(custom.replaceNamespacedCustomObjectStatus({ ...AD, name: "beta", body: created }))).toMatchObject({
      code: 409,
    });

    // client-node 1.4 sends custom-object patches as application/json-patch+json unless told otherwise
    fake.requests.length = 0;
    const patch = [{ op: "replace", path: "/status/phase", value: "Degraded" }];
    const jsonPatched = await custom.patchNamespacedCustomObjectStatus({ ...AD, name: "beta", body: patch });
    expect(jsonPatched.status.phase).toBe("Degraded");
    expect(fake.requests[0]?.contentType).toBe("application/json-patch+json");

    const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
    const body = { spec: { replicas: 4 }, status: { observedGeneration: 2 } };
    const merged = await custom.patchNamespacedCustomObjectStatus({ ...AD, name: "beta", body }, merge);
    expect(merged.status).toEqual({ phase: "Degraded", observedGeneration: 2 });
    expect(merged.spec).toEqual({ replicas: 1 });
    expect(fake.requests[1]?.contentType).toBe("application/merge-patch+json");

    // the main resource: spec changes, status is kept
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const patched = await objects.patch(
      { ...agent("beta", { replicas: 5 }), status: { phase: "Gone" } },
      undefined,
      undefined,
      undefined,
      undefined,
      PatchStrategy.MergePatch,
    );
    expect((patched as { spec?: unknown }).spec).toEqual({ replicas: 5 });
    expect((patched as { status?: unknown }).status).toEqual({ phase: "Degraded", observedGeneration: 2 });
    expect(patched.metadata?.generation).toBe(2);
  });

  it("applies merge, strategic-merge and JSON patches with resourceVersion preconditions", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const labels = { app: "web", tier: "front" };
    const cm = await core.createNamespacedConfigMap({ namespace: "default", body: configMap("p", { metadata: { labels } }) });

    // KubernetesObjectApi.patch defaults to strategic merge patch, which the fake applies as a merge patch
    const untiered = { ...configMap("p"), metadata: { name: "p", labels: { tier: null } } } as unknown as KubernetesObject;
    const smp = await objects.patch(untiered);
    expect(smp.metadata?.labels).toEqual({ app: "web" });
    expect(fake.requests.at(-1)?.contentType).toBe("application/strategic-merge-patch+json");

    const stale = { ...configMap("p"), metadata: { name: "p", resourceVersion: cm.metadata?.resourceVersion } };
    const conflict = objects.patch(stale, undefined, undefined, undefined, undefined, PatchStrategy.MergePatch);
    expect(await rejection(conflict)).toMatchObject({ code: 409, reason: "Conflict" });

    // custom resources refuse strategic merge patch, as real CRDs do
    await objects.create(agent("gamma"));
    expect(await rejection(objects.patch(agent("gamma", { replicas: 2 })))).toMatchObject({ code: 415 });

    const custom = kc.makeApiClient(CustomObjectsApi);
    const ops = [
      { op: "test", path: "/spec/replicas", value: 1 },
      { op: "add", path: "/metadata/labels", value: { stage: "one" } },
      { op: "replace", path: "/spec/replicas", value: 6 },
    ];
    const jsonPatched = await custom.patchNamespacedCustomObject({ ...AD, name: "gamma", body: ops });
    expect(jsonPatched.spec.replicas).toBe(6);
    expect(jsonPatched.metadata.labels).toEqual({ stage: "one" });
    const failedTest = custom.patchNamespacedCustomObject({
      ...AD,
      name: "gamma",
      body: [{ op: "test", path: "/spec/replicas", value: 1 }],
    });
    expect(await rejection(failedTest)).toMatchObject({ code: 422 });
    expect(fake.get(`${GROUP}/${VERSION}`, "AgentDeployment", "default", "gamma")?.spec).toEqual({ replicas: 6 });
  });

  it("keeps an object with finalizers until the last one is removed", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const finalizers = ["langopen.dev/cleanup"];
    await core.createNamespacedConfigMap({ namespace: "default", body: configMap("f", { metadata: { finalizers } }) });

    const events: string[] = [];
    const watch = await new Watch(kc).watch(
      "/api/v1/namespaces/default/configmaps",
      {},
      (type: string, obj: KubernetesObject) => events.push(`${type} ${obj.metadata?.deletionTimestamp ? "deleting" : "live"}`),
      () => {},
    );
    cleanups.push(() => watch.abort());
    await core.deleteNamespacedConfigMap({ name: "f", namespace: "default" });
    const marked = await core.readNamespacedConfigMap({ name: "f", namespace: "default" });
    expect(marked.metadata?.deletionTimestamp).toBeInstanceOf(Date);
    expect(marked.metadata?.deletionGracePeriodSeconds).toBe(0);

    const objects = KubernetesObjectApi.makeApiClient(kc);
    const merge = PatchStrategy.MergePatch;
    const more = { ...configMap("f"), metadata: { name: "f", finalizers: [...finalizers, "another"] } };
    expect(await rejection(objects.patch(more, undefined, undefined, undefined, undefined, merge))).toMatchObject({
      code: 422,
      reason: "Invalid",
    });
    const labelled = { ...configMap("f"), metadata: { name: "f", labels: { still: "writable" } } };
    await objects.patch(labelled, undefined, undefined, undefined, undefined, merge);

    const finished = { ...configMap("f"), metadata: { name: "f", finalizers: [] } };
    await objects.patch(finished, undefined, undefined, undefined, undefined, merge);
    expect(await rejection(core.readNamespacedConfigMap({ name: "f", namespace: "default" }))).toMatchObject({ code: 404 });
    await soon(async () => events.length >= 4, "four watch events");
    expect(events).toEqual(["ADDED live", "MODIFIED deleting", "MODIFIED deleting", "DELETED deleting"]);
  });

  it("collects the dependents of a deleted owner", async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const apps = kc.makeApiClient(AppsV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const owner = await custom.createNamespacedCustomObject({ ...AD, body: agent("delta") });
    const ref = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: "AgentDeployment",
      name: "delta",
      uid: owner.metadata.uid,
      controller: true,
    };
    const owned = deployment("delta-runtime");
    owned.metadata = { ...owned.metadata, ownerReferences: [ref] };
    await apps.createNamespacedDeployment({ namespace: "default", body: owned });
    const other = await core.createNamespacedConfigMap({ namespace: "default", body: configMap("keeper") });
    const otherRef = { apiVersion: "v1", kind: "ConfigMap", name: "keeper", uid: other.metadata?.uid ?? "" };
    const shared = configMap("shared", { metadata: { ownerReferences: [ref, otherRef] } });
    await core.createNamespacedConfigMap({ namespace: "default", body: shared });
    const held = configMap("held", { metadata: { ownerReferences: [ref], finalizers: ["hold"] } });
    await core.createNamespacedConfigMap({ namespace: "default", body: held });

    await custom.deleteNamespacedCustomObject({ ...AD, name: "delta" });
    expect(await rejection(apps.readNamespacedDeployment({ name: "delta-runtime", namespace: "default" }))).toMatchObject({
      code: 404,
    });
    const survivor = await core.readNamespacedConfigMap({ name: "shared", namespace: "default" });
    expect(survivor.metadata?.ownerReferences?.map((r) => r.name)).toEqual(["keeper"]);
    const pending = await core.readNamespacedConfigMap({ name: "held", namespace: "default" });
    expect(pending.metadata?.deletionTimestamp).toBeDefined();
    await core.replaceNamespacedConfigMap({
      name: "held",
      namespace: "default",
      body: { ...pending, metadata: { ...pending.metadata, finalizers: [] } },
    });
    expect(fake.list("v1", "ConfigMap", "default").map((o) => o.metadata.name)).toEqual(["keeper", "shared"]);
  });

  it("streams watch events and resumes from a resourceVersion", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: "default", body: configMap("before") });
    const seen: string[] = [];
    const watch = new Watch(kc);
    const path = "/api/v1/namespaces/default/configmaps";
    const first = await watch.watch(
      path,
      {},
      (type: string, obj: V1ConfigMap) => seen.push(`${type} ${obj.metadata?.name}`),
      () => {},
    );
    cleanups.push(() => first.abort());

    const created = await core.createNamespacedConfigMap({ namespace: "default", body: configMap("w", { data: { v: "1" } }) });
    await core.replaceNamespacedConfigMap({ name: "w", namespace: "default", body: { ...created, data: { v: "2" } } });
    await core.deleteNamespacedConfigMap({ name: "w", namespace: "default" });
    await soon(async () => seen.length >= 4, "four events");
    expect(seen).toEqual(["ADDED before", "ADDED w", "MODIFIED w", "DELETED w"]);
    first.abort();
    await soon(async () => fake.openWatches() === 0, "the server to drop the watch");

    const resumed: string[] = [];
    const since = { resourceVersion: created.metadata?.resourceVersion };
    const second = await watch.watch(
      path,
      since,
      (type: string, obj: V1ConfigMap) => resumed.push(`${type} ${obj.data?.v}`),
      () => {},
    );
    cleanups.push(() => second.abort());
    await soon(async () => resumed.length >= 2, "the resumed events");
    expect(resumed).toEqual(["MODIFIED 2", "DELETED 2"]);

    // a label selector: objects entering and leaving it are ADDED and DELETED
    const labelled: string[] = [];
    const third = await watch.watch(
      path,
      { labelSelector: "app=web" },
      (type: string) => labelled.push(type),
      () => {},
    );
    cleanups.push(() => third.abort());
    const cm = await core.createNamespacedConfigMap({ namespace: "default", body: configMap("l") });
    const entered = await core.replaceNamespacedConfigMap({
      name: "l",
      namespace: "default",
      body: { ...cm, metadata: { ...cm.metadata, labels: { app: "web" } } },
    });
    await core.replaceNamespacedConfigMap({
      name: "l",
      namespace: "default",
      body: { ...entered, metadata: { ...entered.metadata, labels: {} } },
    });
    await soon(async () => labelled.length >= 2, "the selector events");
    expect(labelled).toEqual(["ADDED", "DELETED"]);
  });

  it("answers 410 Gone to a watch resuming from before its history, and ends a watch after timeoutSeconds", async () => {
    const small = await startFakeKube({ historyLimit: 2 });
    cleanups.push(() => small.close());
    const core = small.kubeConfig().makeApiClient(CoreV1Api);
    const first = await core.createNamespacedConfigMap({ namespace: "default", body: configMap("a") });
    for (const name of ["b", "c", "d"]) await core.createNamespacedConfigMap({ namespace: "default", body: configMap(name) });
    const events: { type: string; code?: number }[] = [];
    let ended: unknown = "not yet";
    await new Watch(small.kubeConfig()).watch(
      "/api/v1/namespaces/default/configmaps",
      { resourceVersion: first.metadata?.resourceVersion },
      (type: string, obj: { code?: number }) => events.push({ type, code: obj.code }),
      (err: unknown) => {
        ended = err;
      },
    );
    await soon(async () => ended !== "not yet", "the watch to end");
    expect(events).toEqual([{ type: "ERROR", code: 410 }]);

    const started = Date.now();
    let done = false;
    await new Watch(small.kubeConfig()).watch(
      "/api/v1/configmaps",
      { timeoutSeconds: 1 },
      () => {},
      () => {
        done = true;
      },
    );
    await soon(async () => done, "the watch to time out");
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it("feeds an informer its list and later changes", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: "default", body: configMap("listed", { data: { v: "0" } }) });
    const informer = makeInformer(kc, "/api/v1/namespaces/default/configmaps", () =>
      core.listNamespacedConfigMap({ namespace: "default" }),
    );
    const seen: string[] = [];
    informer.on("add", (obj) => seen.push(`add ${obj.metadata?.name} ${obj.data?.v}`));
    informer.on("update", (obj) => seen.push(`update ${obj.metadata?.name} ${obj.data?.v}`));
    await informer.start();
    cleanups.push(() => informer.stop());

    const cm = await core.createNamespacedConfigMap({ namespace: "default", body: configMap("later", { data: { v: "1" } }) });
    await core.replaceNamespacedConfigMap({ name: "later", namespace: "default", body: { ...cm, data: { v: "2" } } });
    await soon(async () => seen.length >= 3, "three informer callbacks");
    expect(seen).toEqual(["add listed 0", "add later 1", "update later 2"]);
    expect(informer.get("later", "default")?.data).toEqual({ v: "2" });
  });

  it("serves Leases: MicroTime as the real server parses it, and a 409 for the writer that lost the race", async () => {
    const leases = kc.makeApiClient(CoordinationV1Api);
    const spec = { holderIdentity: "a", leaseDurationSeconds: 15 };
    // a plain Date goes out with milliseconds, which a real server refuses for a MicroTime
    const refused = await rejection(
      leases.createNamespacedLease({
        namespace: "default",
        body: { metadata: { name: "leader" }, spec: { ...spec, renewTime: new Date() } },
      }),
    );
    expect(refused.code).toBe(400);
    expect(refused.message).toMatch(/cannot parse "\.\d{3}Z" as "\.000000"/);

    const renewTime = new V1MicroTime();
    await leases.createNamespacedLease({
      namespace: "default",
      body: { metadata: { name: "leader" }, spec: { ...spec, renewTime } },
    });
    const seenByA = await leases.readNamespacedLease({ name: "leader", namespace: "default" });
    const seenByB = await leases.readNamespacedLease({ name: "leader", namespace: "default" });
    // client-node hands a MicroTime back as the string it received, not as a Date
    expect(seenByA.spec?.renewTime as unknown).toMatch(/\.\d{6}Z$/);

    const takeover = (lease: typeof seenByA, holder: string) => ({
      ...lease,
      spec: { ...lease.spec, holderIdentity: holder, renewTime: new V1MicroTime() },
    });
    await leases.replaceNamespacedLease({ name: "leader", namespace: "default", body: takeover(seenByA, "a") });
    const lost = await rejection(
      leases.replaceNamespacedLease({ name: "leader", namespace: "default", body: takeover(seenByB, "b") }),
    );
    expect(lost).toMatchObject({ code: 409, reason: "Conflict" });
    expect(fake.get("coordination.k8s.io/v1", "Lease", "default", "leader")?.spec).toMatchObject({ holderIdentity: "a" });
  });

  it("filters lists by label and field selectors", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const make = (name: string, labels: Record<string, string>, namespace = "default") =>
      core.createNamespacedConfigMap({ namespace, body: configMap(name, { metadata: { labels, namespace } }) });
    await make("web-prod", { app: "web", env: "prod" });
    await make("web-dev", { app: "web", env: "dev", canary: "true" });
    await make("db-prod", { app: "db", env: "prod" });
    await make("web-other", { app: "web", env: "prod" }, "other");
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (await core.listNamespacedConfigMap({ namespace: "default", labelSelector, fieldSelector })).items.map(
        (i) => i.metadata?.name,
      );

    expect(await names("app=web")).toEqual(["web-dev", "web-prod"]);
    expect(await names("app=web,env!=dev")).toEqual(["web-prod"]);
    expect(await names("!canary")).toEqual(["db-prod", "web-prod"]);
    expect(await names("canary")).toEqual(["web-dev"]);
    expect(await names("env in (dev, staging)")).toEqual(["web-dev"]);
    expect(await names("env notin (dev)")).toEqual(["db-prod", "web-prod"]);
    expect(await names(undefined, "metadata.name=db-prod")).toEqual(["db-prod"]);
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const generic = await objects.list("v1", "ConfigMap", "default", undefined, undefined, undefined, undefined, "env=prod");
    expect(generic.items.map((i) => i.metadata?.name)).toEqual(["db-prod", "web-prod"]);
    const everywhere = await core.listConfigMapForAllNamespaces({ labelSelector: "app=web,env=prod" });
    expect(everywhere.items.map((i) => `${i.metadata?.namespace}/${i.metadata?.name}`)).toEqual([
      "default/web-prod",
      "other/web-other",
    ]);
    // like the real server, a built-in list leaves kind and apiVersion off its items
    expect(everywhere.items[0]?.kind).toBeUndefined();
    expect(Number(everywhere.metadata?.resourceVersion)).toBeGreaterThan(0);
  });

  it("deletes the objects of a deleted namespace", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: "team-a" } } });
    await core.createNamespacedConfigMap({ namespace: "team-a", body: configMap("x", { metadata: { namespace: "team-a" } }) });
    expect((await core.readNamespace({ name: "team-a" })).metadata?.namespace).toBeUndefined();
    await core.deleteNamespace({ name: "team-a" });
    expect(fake.list("v1", "ConfigMap")).toEqual([]);
    expect(fake.list("v1", "Namespace")).toEqual([]);
  });

  it("gives tests hooks: failNext, the request log, put and the kubelet mode", async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    fake.failNext((r) => r.method === "POST" && r.path.endsWith("/deployments"), 503);
    expect(await rejection(apps.createNamespacedDeployment({ namespace: "default", body: deployment("web", 2) }))).toMatchObject({
      code: 503,
      reason: "ServiceUnavailable",
    });
    const created = await apps.createNamespacedDeployment({ namespace: "default", body: deployment("web", 2) });

    // an idempotent write: no change, no new resourceVersion
    fake.requests.length = 0;
    // empty metadata fields count as absent, as they do for the real server's typed ObjectMeta
    const body = { ...created, metadata: { ...created.metadata, labels: {}, finalizers: [] } };
    const again = await apps.replaceNamespacedDeployment({ name: "web", namespace: "default", body });
    expect(again.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
    expect(fake.requests.map((r) => r.method)).toEqual(["PUT"]);

    // kubelet off (the default): status only moves by hand
    await new Promise((resolve) => setTimeout(resolve, 20));
    const untouched = fake.get("apps/v1", "Deployment", "default", "web");
    expect(untouched?.status).toBeUndefined();
    fake.put({ ...untouched, status: { readyReplicas: 1, replicas: 2 } });
    expect((await apps.readNamespacedDeploymentStatus({ name: "web", namespace: "default" })).status?.readyReplicas).toBe(1);

    fake.setKubelet({ delayMs: 10 });
    const ready = await soon(async () => {
      const status = (await apps.readNamespacedDeployment({ name: "web", namespace: "default" })).status;
      return status?.readyReplicas === 2 && status;
    }, "the kubelet to bring the deployment up");
    expect(ready).toMatchObject({
      replicas: 2,
      readyReplicas: 2,
      updatedReplicas: 2,
      availableReplicas: 2,
      observedGeneration: 1,
    });

    expect(fake.remove("apps/v1", "Deployment", "default", "web")).toBe(true);
    expect(fake.get("apps/v1", "Deployment", "default", "web")).toBeUndefined();
  });
});
