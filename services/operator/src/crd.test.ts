import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import type { AgentDeployment } from "./generated/agent-deployment.js";
import { agentDeploymentIssues } from "./validate.js";

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CRD_FILE = `${ROOT}charts/langopen/crds/agentdeployments.platform.langopen.dev.yaml`;

type Schema = Record<string, unknown> & { properties?: Record<string, Schema>; items?: Schema };

const example = (): AgentDeployment => ({
  apiVersion: "platform.langopen.dev/v1alpha1",
  kind: "AgentDeployment",
  metadata: { name: "support-bot", namespace: "agents" },
  spec: {
    deploymentId: "df6db9a1-0489-4e00-95f0-322a02251be9",
    revision: {
      id: "603040a1-449e-4c19-9b64-674931e590f5",
      number: 3,
      bundleDigest: `sha256:${"a".repeat(64)}`,
      bundleUrl: "http://langopen-control-plane.langopen:8130/bundles/sha256-aaaa.tgz",
    },
    sandbox: "gvisor",
    egress: [{ host: "api.openai.com", ports: [443] }],
    components: {
      gateway: { replicas: 2, resources: { requests: { cpu: "100m", memory: "128Mi" } } },
      workers: { minReplicas: 1, maxReplicas: 8 },
      runtimes: { minReplicas: 2, maxReplicas: 4, resources: { limits: { cpu: 1, memory: "1Gi" } } },
    },
    autoscaling: { mode: "keda", backlogPerReplica: 5 },
    database: { secretName: "support-bot-db", key: "url" },
    redis: { secretName: "langopen-redis", key: "url" },
    env: [{ name: "LOG_LEVEL", value: "info" }],
    secretRefs: ["support-bot-secrets"],
  },
});

/** Every schema node below `node`, with its path. */
function* nodes(node: Schema, at = "openAPIV3Schema"): Generator<[string, Schema]> {
  yield [at, node];
  for (const [name, child] of Object.entries(node.properties ?? {})) yield* nodes(child, `${at}.${name}`);
  if (node.items) yield* nodes(node.items, `${at}[]`);
}

describe("the AgentDeployment CRD", () => {
  it("is a valid apiextensions.k8s.io/v1 CustomResourceDefinition with a structural schema", async () => {
    const crd = YAML.parse(await readFile(CRD_FILE, "utf8"));
    expect(() => new CustomResourceDefinition(crd).validate()).not.toThrow();
    // (The model's validator does check: a CRD without its names is refused.)
    expect(() => new CustomResourceDefinition({ ...crd, spec: { ...crd.spec, names: undefined } }).validate()).toThrow();
    expect(crd.spec.versions).toHaveLength(1);
    const version = crd.spec.versions[0];
    expect(version.subresources).toEqual({ status: {} });
    // Structural: every node says its type (or is int-or-string); no $ref; properties never beside additionalProperties.
    const schema = version.schema.openAPIV3Schema as Schema;
    const problems: string[] = [];
    for (const [at, node] of nodes(schema)) {
      if (node.type === undefined && node["x-kubernetes-int-or-string"] !== true) problems.push(`${at}: no type`);
      if ("$ref" in node) problems.push(`${at}: $ref`);
      if (node.properties && node.additionalProperties !== undefined) problems.push(`${at}: properties and additionalProperties`);
    }
    expect(problems).toEqual([]);
    // Every printer column points at a field of the schema.
    for (const column of version.additionalPrinterColumns as Array<{ name: string; jsonPath: string }>) {
      if (column.jsonPath.startsWith(".metadata")) continue;
      const fields = column.jsonPath
        .replace(/\[\?\(.*\)\]/, "[]")
        .split(".")
        .filter(Boolean);
      let node: Schema | undefined = schema;
      for (const field of fields) {
        node = field.endsWith("[]") ? node?.properties?.[field.slice(0, -2)]?.items : node?.properties?.[field];
      }
      expect(node, `${column.name}: ${column.jsonPath}`).toBeDefined();
    }
    const conditions = schema.properties?.status?.properties?.conditions as Schema;
    expect(conditions["x-kubernetes-list-map-keys"]).toEqual(["type"]);
  });

  it("generates the operator's types and schema constant from the CRD, and they are up to date", async () => {
    const res = await exec(process.execPath, [`${ROOT}scripts/generate-crd.mjs`, "--check"]).then(
      () => 0,
      (err: { code: number; stderr: string }) => {
        throw new Error(err.stderr);
      },
    );
    expect(res).toBe(0);
  });
});

describe("agentDeploymentIssues", () => {
  it("accepts a whole AgentDeployment, and one with only what is required", () => {
    expect(agentDeploymentIssues(example())).toEqual([]);
    const { deploymentId, revision, database } = example().spec;
    expect(agentDeploymentIssues({ spec: { deploymentId, revision, database } })).toEqual([]);
  });

  it.each([
    [
      "a misspelt field",
      (d: AgentDeployment) => Object.assign(d.spec, { sandbx: "gvisor" }),
      "/spec",
      /additional properties: sandbx/,
    ],
    [
      "an unknown sandbox",
      (d: AgentDeployment) => Object.assign(d.spec, { sandbox: "docker" }),
      "/spec/sandbox",
      /gvisor, kata, none/,
    ],
    [
      "a digest that is not sha256",
      (d: AgentDeployment) => (d.spec.revision.bundleDigest = "md5:abc"),
      "/spec/revision/bundleDigest",
      /pattern/,
    ],
    [
      "a bundle URL that is not http(s)",
      (d: AgentDeployment) => (d.spec.revision.bundleUrl = "file:///etc/passwd"),
      "/spec/revision/bundleUrl",
      /pattern/,
    ],
    [
      "no gateway replica",
      (d: AgentDeployment) => Object.assign(d.spec.components?.gateway ?? {}, { replicas: 0 }),
      "/spec/components/gateway/replicas",
      />= 1/,
    ],
    [
      "an egress port out of range",
      (d: AgentDeployment) => (d.spec.egress = [{ host: "x.example", ports: [70000] }]),
      "/spec/egress/0/ports/0",
      /<= 65535/,
    ],
    [
      "minReplicas above maxReplicas",
      (d: AgentDeployment) => Object.assign(d.spec.components?.workers ?? {}, { minReplicas: 9 }),
      "/spec/components/workers",
      /minReplicas must not exceed maxReplicas/,
    ],
    [
      "a memory quantity that is not one",
      (d: AgentDeployment) => Object.assign(d.spec.components?.gateway?.resources?.requests ?? {}, { memory: "lots" }),
      "/spec/components/gateway/resources/requests/memory",
      /pattern/,
    ],
    [
      "a variable name with a space",
      (d: AgentDeployment) => (d.spec.env = [{ name: "MY VAR", value: "x" }]),
      "/spec/env/0/name",
      /pattern/,
    ],
    ["no database", (d: AgentDeployment) => Object.assign(d.spec, { database: undefined }), "/spec", /database/],
  ])("refuses %s, naming where", (_what, mutate, path, message) => {
    const d = example();
    mutate(d);
    const issues = agentDeploymentIssues(JSON.parse(JSON.stringify(d)));
    expect(issues).toContainEqual({ path, message: expect.stringMatching(message) });
  });
});
