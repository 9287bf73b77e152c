// Test helper: checks Kubernetes objects (what the operator renders, what the chart renders) against the
// schemas of kubernetes-models and its CRD packages, and, stricter than they are, refuses fields the schema
// does not name. Kubernetes' schemas are open, so a misspelled field (`imagePullPolcy`) validates and the
// API server silently drops it; here it is an issue.
//
// How the strict check works: the packages ship their schemas compiled into ajv validator functions (no
// JSON schema to walk), and a compiled validator reads every property its schema names (`data.image`,
// `data.imagePullPolicy`, ... whether present or not). So the object is handed to the validator behind a
// Proxy that records which keys were read: an own key of an object the validator looked into, but never
// read, is a field the schema does not have. Maps (labels, annotations, nodeSelector, data) are enumerated
// by the validator, so their keys count as read; objects the validator never looks into (free-form
// values such as a CRD's `default`) are left alone.

import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { PodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { Job } from "kubernetes-models/batch/v1/Job";
import { Lease } from "kubernetes-models/coordination.k8s.io/v1/Lease";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { RuntimeClass } from "kubernetes-models/node.k8s.io/v1/RuntimeClass";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";

/** Any Kubernetes object, as rendered (plain JSON). */
export interface KubeManifest {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/**
 * A model class of kubernetes-models: its prototype's validate() runs the schema on `this` (a compiled
 * validator; in the older base of @kubernetes-models/gateway-api, ajv with the schema registered by id).
 */
type ModelClass = { apiVersion: string; kind: string; prototype: { validate(): void } };

const MODELS: ModelClass[] = [
  ConfigMap,
  ClusterRole,
  ClusterRoleBinding,
  CustomResourceDefinition,
  Deployment,
  HorizontalPodAutoscaler,
  HTTPRoute,
  Ingress,
  Job,
  Lease,
  NetworkPolicy,
  PersistentVolumeClaim,
  PodDisruptionBudget,
  PodMonitor,
  PrometheusRule,
  Role,
  RoleBinding,
  RuntimeClass,
  ScaledObject,
  Secret,
  Service,
  ServiceAccount,
  ServiceMonitor,
  StatefulSet,
];
const BY_TYPE = new Map(MODELS.map((m) => [`${m.apiVersion}/${m.kind}`, m]));

/** The kinds kubeIssues knows, as `apiVersion/kind`. */
export const KNOWN_KINDS: readonly string[] = [...BY_TYPE.keys()].sort();

/**
 * Fields the models' generator left out of a schema although Kubernetes has them: in a CRD's schema
 * (JSONSchemaProps), `description` and the `x-kubernetes-*` extensions.
 */
const MODEL_GAPS = [/\/openAPIV3Schema(\/.*)?\/(description|x-kubernetes-[a-z-]+)$/];

type Check = () => string[];

/** `value` behind Proxies (for each nested object) that record the keys read; `checks` collects the verdicts. */
function tracked(value: unknown, path: string, checks: Check[]): unknown {
  if (value === null || typeof value !== "object") return value;
  const target = value as Record<string | symbol, unknown>;
  const read = new Set<string>();
  let enumerated = false;
  const children = new Map<string, unknown>();
  if (!Array.isArray(value)) {
    checks.push(() =>
      // Not looked into (free-form), or enumerated (a map): nothing to say.
      enumerated || read.size === 0
        ? []
        : Object.keys(target)
            .filter((key) => !read.has(key))
            .map((key) => `${path}/${key}`),
    );
  }
  return new Proxy(target, {
    get(t, key, receiver) {
      const v = Reflect.get(t, key, receiver);
      if (typeof key !== "string") return v;
      read.add(key);
      if (v === null || typeof v !== "object" || !Object.hasOwn(t, key)) return v;
      if (!children.has(key)) children.set(key, tracked(v, `${path}/${key}`, checks));
      return children.get(key);
    },
    has(t, key) {
      if (typeof key === "string") read.add(key);
      return Reflect.has(t, key);
    },
    getOwnPropertyDescriptor(t, key) {
      if (typeof key === "string") read.add(key);
      return Reflect.getOwnPropertyDescriptor(t, key);
    },
    ownKeys(t) {
      enumerated = true;
      return Reflect.ownKeys(t);
    },
  });
}

/**
 * The problems of one object, each a sentence naming where: the schema's errors (types, enums, required
 * fields) and the fields its schema does not name. Empty: Kubernetes accepts it as it is written.
 */
export function kubeIssues(object: KubeManifest): string[] {
  const what = `${object.kind} ${object.metadata?.name ?? "(no name)"}`;
  const Model = BY_TYPE.get(`${object.apiVersion}/${object.kind}`);
  if (!Model) return [`${what}: no schema for ${object.apiVersion} ${object.kind} (add its model to kube-validate.ts)`];
  const checks: Check[] = [];
  const issues: string[] = [];
  // The model's prototype under the object: older models (gateway-api) find their schema's id there.
  const root = Object.assign(Object.create(Model.prototype) as object, object);
  try {
    Model.prototype.validate.call(tracked(root, "", checks));
  } catch (err) {
    issues.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
  for (const path of checks.flatMap((check) => check())) {
    if (!MODEL_GAPS.some((gap) => gap.test(path))) issues.push(`${what}: unknown field ${path}`);
  }
  return issues;
}
