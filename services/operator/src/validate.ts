import { Ajv, type ErrorObject } from "ajv";
import type { AgentDeployment } from "./generated/agent-deployment.js";
import { agentDeploymentSchema } from "./generated/agent-deployment-schema.js";

/** One way an object fails the AgentDeployment schema: where (a JSON pointer) and what. */
export interface SchemaIssue {
  path: string;
  message: string;
}

/**
 * The schema as the validator applies it: as the API server's (the CRD's), and stricter in one
 * way: an object field the schema does not name is refused. The API server would silently drop
 * it (pruning), so a typo in a spec would go unnoticed; the control plane checks before it writes.
 */
function strict(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strict);
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = strict(value);
  if (out.type === "object" && out.properties !== undefined && out.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  return out;
}

const schema = strict(agentDeploymentSchema) as { properties: Record<string, unknown> };
// metadata is ObjectMeta, left open by the CRD (the API server checks it).
schema.properties.metadata = { type: "object" };

const ajv = new Ajv({
  allErrors: true,
  // Kubernetes' own keywords carry no JSON Schema meaning (x-kubernetes-validations are CEL rules
  // the API server evaluates; the one rule of this CRD is checked below).
  strict: false,
  formats: { "date-time": true },
});
const check = ajv.compile(schema);

function issueOf(error: ErrorObject): SchemaIssue {
  const extra =
    error.keyword === "additionalProperties"
      ? `: ${String((error.params as { additionalProperty: string }).additionalProperty)}`
      : error.keyword === "enum"
        ? `: ${(error.params as { allowedValues: unknown[] }).allowedValues.join(", ")}`
        : "";
  return { path: error.instancePath || "/", message: `${error.message ?? error.keyword}${extra}` };
}

/** The issues of `value` as an AgentDeployment (none: it is one). */
export function agentDeploymentIssues(value: unknown): SchemaIssue[] {
  const issues = check(value) ? [] : (check.errors ?? []).map(issueOf);
  // The CEL rule of workers and runtimes: minReplicas <= maxReplicas.
  const components = (value as { spec?: { components?: Record<string, { minReplicas?: number; maxReplicas?: number }> } })?.spec
    ?.components;
  for (const name of ["workers", "runtimes"]) {
    const c = components?.[name];
    if (c?.minReplicas !== undefined && c.maxReplicas !== undefined && c.minReplicas > c.maxReplicas) {
      issues.push({ path: `/spec/components/${name}`, message: "minReplicas must not exceed maxReplicas" });
    }
  }
  return issues;
}

export function isAgentDeployment(value: unknown): value is AgentDeployment {
  return agentDeploymentIssues(value).length === 0;
}
