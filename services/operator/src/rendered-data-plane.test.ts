// The data plane as the operator renders it really runs: the four Deployments' commands and
// environments (secret references resolved from the Secrets the control plane writes), started as
// processes from this checkout against the test Postgres and Redis, serve a run through the
// official SDK, and the api-server's metrics port answers the backlog the operator reports. Only
// what a cluster would provide differs: Service DNS names become loopback ports, the bundle's
// project folder is a local one, and the control plane (API keys) is left out.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { generateInternalSecret, runtimeCredentialsOf } from "@langopen/common";
import { createTestDatabase, freePort, until } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { backlogFromMetrics } from "./backlog.js";
import type { AgentDeployment } from "./generated/agent-deployment.js";
import type { LiveAgentDeployment } from "./reconcile.js";
import { type KubeObject, renderDataPlane } from "./render.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const PROJECT = fileURLToPath(new URL("../../../scripts/smoke/graphs/langgraph.json", import.meta.url));
const NAME = "support-bot";
const NS = "agents";

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string } };
}
interface Container {
  args: string[];
  env: EnvVar[];
}

const agd: AgentDeployment = {
  apiVersion: "platform.langopen.dev/v1alpha1",
  kind: "AgentDeployment",
  metadata: { name: NAME, namespace: NS, uid: "6f1c2a9e-1111-4c1e-9d53-3b0e6a0d2f10" },
  spec: {
    deploymentId: "df6db9a1-0489-4e00-95f0-322a02251be9",
    revision: {
      id: "rev-1",
      bundleDigest: `sha256:${"b".repeat(64)}`,
      bundleUrl: "http://langopen-control-plane.langopen.svc:8130",
    },
    database: { secretName: `${NAME}-database`, key: "url" },
    redis: { secretName: "langopen-redis", key: "url" },
    env: [{ name: "GREETING", value: "hello" }],
  },
};

const children: ChildProcess[] = [];
const byComponent = new Map<string, ChildProcess>();
let gatewayUrl = "";
let metricsUrl = "";
/** Each split service's /metrics (the gateway serves its own on its port). */
const scrapeUrls = new Map<string, string>();
let dropDatabase: (() => Promise<void>) | undefined;
const logs = new Map<string, string>();

beforeAll(async () => {
  const database = await createTestDatabase(inject("databaseUrl"));
  dropDatabase = database.drop;
  const secret = generateInternalSecret();
  const runtime = runtimeCredentialsOf(secret);
  // What the control plane's Kubernetes driver writes, by Secret name and key.
  const secrets: Record<string, Record<string, string>> = {
    [`${NAME}-database`]: { url: database.url },
    "langopen-redis": { url: inject("redisUrl") },
    [`${NAME}-credentials`]: {
      "internal-secret": secret,
      "runtime-token": runtime.token,
      "caller-token-sha256": runtime.callerTokenSha256,
      "bundle-key": "unused-here",
    },
  };
  const objects = renderDataPlane(agd, {
    image: "ghcr.io/langopen/langopen:0.1.0",
    controlPlaneUrl: "http://langopen-control-plane.langopen.svc:8130",
    controlPlane: { to: [{ podSelector: {} }], ports: [{ port: 8130 }] },
    dependencies: [],
    publicKeyConfigMap: "langopen-signing-key",
    credentialsSecret: "{name}-credentials",
    prometheusUrl: "http://prometheus:9090",
    urlTemplate: "https://{name}.agents.example.com",
  });
  // The pods' fixed ports, each Service's DNS name and port mapped to a free loopback port.
  const local = new Map<string, number>();
  for (const port of ["gateway:8123", "api-server:8124", "runtime:8125"]) local.set(port, await freePort());
  const metricsPorts = new Map<string, number>();
  const urlOf = (text: string) =>
    text.replace(new RegExp(`http://${NAME}-([a-z-]+)\\.${NS}\\.svc:(\\d+)`, "g"), (_m, c: string, p: string) => {
      const port = local.get(`${c}:${p}`);
      if (!port) throw new Error(`the render points at ${c}:${p}, which no rendered Service serves`);
      return `http://127.0.0.1:${port}`;
    });
  const order = ["api-server", "runtime", "worker", "gateway"];
  for (const component of order) {
    const deployment = objects.find((o) => o.kind === "Deployment" && o.metadata.name === `${NAME}-${component}`) as KubeObject;
    const pod = (deployment.spec as { template: { spec: { containers: Container[] } } }).template.spec;
    const [container] = pod.containers;
    if (!container) throw new Error(`${component} has no container`);
    const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LOG_LEVEL: "info" };
    for (const v of container.env) {
      if (v.valueFrom) {
        const { name, key } = v.valueFrom.secretKeyRef;
        const value = secrets[name]?.[key];
        if (value === undefined)
          throw new Error(`${component}: ${v.name} refers to Secret ${name} key ${key}, which nobody writes`);
        env[v.name] = value;
      } else env[v.name] = urlOf(v.value ?? "");
    }
    // The cluster's differences (see the top of the file).
    for (const host of ["HOST", "RPC_HOST", "METRICS_HOST"]) if (env[host]) env[host] = "127.0.0.1";
    if (env.PORT) env.PORT = String(local.get("gateway:8123"));
    if (env.RPC_PORT) env.RPC_PORT = String(local.get(`${component}:${env.RPC_PORT}`));
    if (env.METRICS_PORT) {
      metricsPorts.set(component, await freePort());
      env.METRICS_PORT = String(metricsPorts.get(component));
    }
    env.LANGOPEN_CONFIG = PROJECT;
    delete env.LANGOPEN_CONTROL_URL;
    delete env.LANGOPEN_DEPLOYMENT_ID;
    const [node, ...args] = container.args;
    expect(node).toBe("node");
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    logs.set(component, "");
    const keep = (chunk: Buffer) => logs.set(component, `${logs.get(component) ?? ""}${chunk}`.slice(-8_000));
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    children.push(child);
    byComponent.set(component, child);
    if (component === "api-server") {
      // The first api-server applies the migrations before the others start.
      await until(
        async () => /Started RPC server/.test(logs.get(component) ?? "") || (child.exitCode !== null && "exited"),
        "the api-server",
        {
          timeoutMs: 60_000,
        },
      );
    }
  }
  gatewayUrl = `http://127.0.0.1:${local.get("gateway:8123")}`;
  metricsUrl = `http://127.0.0.1:${metricsPorts.get("api-server")}/metrics`;
  for (const [component, port] of metricsPorts) scrapeUrls.set(component, `http://127.0.0.1:${port}/metrics`);
  scrapeUrls.set("gateway", `${gatewayUrl}/metrics`);
  await until(async () => (await fetch(`${gatewayUrl}/ok`).catch(() => undefined))?.ok, "the gateway", {
    timeoutMs: 60_000,
  }).catch((err) => {
    throw new Error(`${err}\n${[...logs].map(([c, l]) => `--- ${c}\n${l}`).join("\n")}`);
  });
}, 120_000);

afterAll(async () => {
  for (const child of children) child.kill("SIGTERM");
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : undefined)));
  await dropDatabase?.();
});

describe("the rendered data plane", () => {
  it("serves a streamed run through the official SDK, across all four components", async () => {
    const client = new Client({ apiUrl: gatewayUrl });
    const thread = await client.threads.create();
    const events: string[] = [];
    let last: { step?: number } = {};
    for await (const chunk of client.runs.stream(thread.thread_id, "smoke", { input: {}, streamMode: ["values"] })) {
      events.push(chunk.event);
      if (chunk.event === "values") last = chunk.data as { step?: number };
    }
    expect(events.filter((e) => e === "values").length).toBeGreaterThanOrEqual(5);
    expect(last.step).toBe(5);
  });

  it("answers requests naming it as the cluster does (its Service, the public host), and no other Host", async () => {
    const get = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL("/info", gatewayUrl);
        http
          .get({ host: url.hostname, port: url.port, path: url.pathname, headers: { host } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on("error", reject);
      });
    expect(await get(`${NAME}-gateway.${NS}.svc:8123`)).toBe(200);
    expect(await get(`${NAME}-gateway.${NS}.svc.cluster.local:8123`)).toBe(200);
    expect(await get(`${NAME}.agents.example.com`)).toBe(200);
    expect(await get("rebound.attacker.example")).toBeGreaterThanOrEqual(400);
  });

  it("reports the runnable backlog on the api-server's metrics port, as the operator reads it", async () => {
    const read = backlogFromMetrics({ urlOf: () => metricsUrl });
    expect(await read({ metadata: { name: NAME, namespace: NS } } as LiveAgentDeployment)).toBe(0);
  });

  const hasPromtool = spawnSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" }).stdout.trim() !== "";
  it.skipIf(!hasPromtool && !process.env.CI)(
    "serves Prometheus metrics from every process, each exposition clean by promtool check metrics",
    async () => {
      expect([...scrapeUrls.keys()].sort()).toEqual(["api-server", "gateway", "runtime", "worker"]);
      const expected: Record<string, RegExp> = {
        "api-server": /^langopen_rpc_server_requests_total\{service="langopen\.data\.v1\.RunService"/m,
        worker: /^langopen_run_attempts_total\{outcome="success"\} [1-9]/m,
        runtime:
          /^langopen_rpc_server_requests_total\{service="langopen\.runtime\.v1\.RuntimeService",method="Execute",code="ok"\} [1-9]/m,
        gateway: /^langopen_gateway_http_requests_total\{/m,
      };
      for (const [component, url] of scrapeUrls) {
        const res = await fetch(url);
        expect(res.status, component).toBe(200);
        const text = await res.text();
        expect(text, component).toMatch(expected[component] as RegExp);
        const checked = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
        expect(`${checked.stdout}${checked.stderr}`, component).toBe("");
        expect(checked.status, component).toBe(0);
      }
    },
  );

  it("loses no accepted run when a rollout stops its worker: SIGTERM lets it finish the run within the rendered grace", async () => {
    const client = new Client({ apiUrl: gatewayUrl });
    const thread = await client.threads.create();
    const run = await client.runs.create(thread.thread_id, "smoke", { input: {} });
    await until(async () => (await client.runs.get(thread.thread_id, run.run_id)).status === "running", "the run to start", {
      timeoutMs: 15_000,
    });
    // What the operator's scale-to-zero makes the kubelet do to the old revision's worker.
    const worker = byComponent.get("worker") as ChildProcess;
    const exited = new Promise<number | null>((resolve) => worker.once("exit", (code) => resolve(code)));
    worker.kill("SIGTERM");
    expect(await exited).toBe(0);
    const done = await client.runs.get(thread.thread_id, run.run_id);
    expect(done.status).toBe("success");
    const state = await client.threads.getState(thread.thread_id);
    expect((state.values as { step: number }).step).toBe(5);
  });
});
