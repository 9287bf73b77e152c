import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger, verifyBundle } from "@langopen/common";
import { Health, HealthCheckResponse_ServingStatus } from "@langopen/gen/health/v1/health_pb";
import { BuilderService, BuildStatus } from "@langopen/gen/langopen/builder/v1/builder_service_pb";
import { until } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BuilderServer, startBuilderServer } from "./compose.js";
import { git, makeRepo, simpleProject, tempDir } from "./test-fixtures/projects.js";

const logger = createLogger({ service: "test", level: "silent" });

let root: string;
let dataDir: string;
let repoUrl: string;
let slowUrl: string;
let server: BuilderServer | undefined;

async function start(): Promise<Client<typeof BuilderService>> {
  server = await startBuilderServer(
    { host: "127.0.0.1", port: 0, dataDir, allowFileUrls: true, timeoutMs: 60_000, concurrency: 1 },
    logger,
  );
  return createClient(BuilderService, createGrpcTransport({ baseUrl: server.url }));
}

async function stop(): Promise<void> {
  await server?.stop(1_000);
  server = undefined;
}

const codeOf = async (promise: Promise<unknown>): Promise<Code | "ok"> =>
  promise.then(
    () => "ok" as const,
    (err: unknown) => ConnectError.from(err).code,
  );

async function readLog(client: Client<typeof BuilderService>, buildId: string, follow: boolean): Promise<string[]> {
  const lines: string[] = [];
  for await (const res of client.streamBuildLog({ buildId, follow }, { timeoutMs: 60_000 })) lines.push(res.line?.text ?? "");
  return lines;
}

beforeAll(async () => {
  root = await tempDir("service");
  dataDir = path.join(root, "data");
  const repo = path.join(root, "repo");
  await mkdir(repo);
  const project = simpleProject();
  repoUrl = await makeRepo(repo, {
    ...project,
    "langgraph.json": { ...(project["langgraph.json"] as object), egress: ["api.openai.com:443", "203.0.113.0/24:8443,443"] },
  });
  const slow = path.join(root, "slow");
  await mkdir(slow);
  slowUrl = await makeRepo(slow, {
    ...simpleProject(),
    // An unreachable registry: npm waits on it (retries) until the build is cancelled.
    ".npmrc": "registry=http://127.0.0.1:9/\nfetch-retries=5\nfetch-retry-mintimeout=10000\n",
    "package.json": { name: "slow", version: "1.0.0", dependencies: { "left-pad": "1.3.0" } },
  });
});

afterAll(async () => {
  await stop();
  await rm(root, { recursive: true, force: true });
});

describe("BuilderService over HTTP/2", () => {
  it("builds in the background, streams the log, answers after a restart", async () => {
    let client = await start();
    const transport = createGrpcTransport({ baseUrl: (server as BuilderServer).url });
    const health = await createClient(Health, transport).check({ service: BuilderService.typeName });
    expect(health.status).toBe(HealthCheckResponse_ServingStatus.SERVING);

    const started = await client.startBuild({ buildId: "rev-1", source: { case: "git", value: { url: repoUrl, ref: "main" } } });
    expect([BuildStatus.QUEUED, BuildStatus.RUNNING]).toContain(started.build?.status);
    const followed = await readLog(client, "rev-1", true);
    expect(followed[0]).toMatch(/^build rev-1 queued: file:\/\//);
    expect(followed).toContain("validating langgraph.json");
    expect(followed.at(-1)).toBe("build succeeded");

    const { build } = await client.getBuild({ buildId: "rev-1" });
    expect(build?.status).toBe(BuildStatus.SUCCEEDED);
    expect(build?.message).toBe("");
    expect(build?.commitSha).toBe(await git(path.join(root, "repo"), "rev-parse", "HEAD"));
    expect(build?.graphIds).toEqual(["agent", "helper"]);
    expect(build?.egress).toEqual(["api.openai.com:443", "203.0.113.0/24:443,8443"]);
    expect(followed).toContain("egress: api.openai.com:443, 203.0.113.0/24:443,8443");
    expect(build?.bundleDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(build?.bundleSignature).not.toBe("");
    expect(build?.sbomComponents).toBe(0);
    expect(build?.endTime).toBeDefined();
    if (!build?.endTime || !build.createTime) throw new Error("the build has no times");
    expect(timestampDate(build.endTime).getTime()).toBeGreaterThanOrEqual(timestampDate(build.createTime).getTime());
    const bundleFile = path.join(dataDir, "bundles", `${build?.bundleDigest.replace(":", "-")}.tgz`);
    await verifyBundle(bundleFile, (server as BuilderServer).publicKeyPem, build?.bundleDigest as `sha256:${string}`);
    expect(await readLog(client, "rev-1", false)).toEqual(followed);
    // An ended build is returned unchanged by a cancel.
    expect((await client.cancelBuild({ buildId: "rev-1" })).build?.status).toBe(BuildStatus.SUCCEEDED);

    // A defect fails the build, with the reason in its message.
    await client.startBuild({ buildId: "rev-2", source: { case: "git", value: { url: repoUrl, ref: "nope" } } });
    await readLog(client, "rev-2", true);
    const failed = (await client.getBuild({ buildId: "rev-2" })).build;
    expect(failed?.status).toBe(BuildStatus.FAILED);
    expect(failed?.message).toBe(`ref nope does not exist in ${repoUrl}`);

    // One at a time: a second build waits, QUEUED, and either may be cancelled.
    await client.startBuild({ buildId: "slow", source: { case: "git", value: { url: slowUrl, ref: "" } } });
    await until(
      async () => (await readLog(client, "slow", false)).some((l) => l.startsWith("installing dependencies")),
      "the install",
      {
        timeoutMs: 20_000,
      },
    );
    const queued = await client.startBuild({ buildId: "waiting", source: { case: "git", value: { url: repoUrl, ref: "" } } });
    expect(queued.build?.status).toBe(BuildStatus.QUEUED);
    expect((await client.cancelBuild({ buildId: "waiting" })).build?.status).toBe(BuildStatus.CANCELLED);
    const cancelled = (await client.cancelBuild({ buildId: "slow" })).build;
    expect(cancelled?.status).toBe(BuildStatus.CANCELLED);
    expect(cancelled?.message).toBe("the build was cancelled");
    expect(await readLog(client, "slow", false)).toContain("build cancelled: the build was cancelled");

    // A build an earlier process left running.
    await mkdir(path.join(dataDir, "builds", "orphan"));
    const orphan = JSON.parse(await readFile(path.join(dataDir, "builds", "rev-1", "build.json"), "utf8"));
    // Written by a builder that did not keep egress yet.
    await writeFile(
      path.join(dataDir, "builds", "orphan", "build.json"),
      JSON.stringify({ ...orphan, build_id: "orphan", status: "RUNNING", end_time: undefined, egress: undefined }),
    );

    await stop();
    client = await start();
    const again = (await client.getBuild({ buildId: "rev-1" })).build;
    expect(again?.status).toBe(BuildStatus.SUCCEEDED);
    expect(again?.bundleDigest).toBe(build?.bundleDigest);
    expect(again?.egress).toEqual(build?.egress);
    expect(await readLog(client, "rev-1", true)).toEqual(followed);
    const interrupted = (await client.getBuild({ buildId: "orphan" })).build;
    expect(interrupted?.status).toBe(BuildStatus.FAILED);
    expect(interrupted?.message).toBe("interrupted by a restart");
    expect(interrupted?.egress).toEqual([]);
    expect(await readLog(client, "orphan", true)).toEqual(["interrupted by a restart"]);
    expect(await codeOf(client.startBuild({ buildId: "rev-1", source: { case: "git", value: { url: repoUrl, ref: "" } } }))).toBe(
      Code.AlreadyExists,
    );
  }, 90_000);

  it("answers bad requests with the right codes", async () => {
    const client = server ? createClient(BuilderService, createGrpcTransport({ baseUrl: server.url })) : await start();
    const git = { case: "git" as const, value: { url: repoUrl, ref: "" } };
    expect(await codeOf(client.startBuild({ buildId: "", source: git }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.startBuild({ buildId: "../x", source: git }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.startBuild({ buildId: "x".repeat(65), source: git }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.startBuild({ buildId: "no-source" }))).toBe(Code.InvalidArgument);
    const big = new Uint8Array(64 * 1024 * 1024 + 1);
    expect(await codeOf(client.startBuild({ buildId: "big", source: { case: "tarball", value: big } }))).toBe(
      Code.InvalidArgument,
    );
    expect(await codeOf(client.getBuild({ buildId: "unknown" }))).toBe(Code.NotFound);
    expect(await codeOf(client.cancelBuild({ buildId: "unknown" }))).toBe(Code.NotFound);
    expect(await codeOf(readLog(client, "unknown", true))).toBe(Code.NotFound);
    expect(await codeOf(client.getBuild({ buildId: "../../etc" }))).toBe(Code.InvalidArgument);

    // A URL the builder refuses is a failed build, not a refused call: the control plane records why.
    await client.startBuild({
      buildId: "refused",
      source: { case: "git", value: { url: "--upload-pack=touch /tmp/x", ref: "" } },
    });
    await readLog(client, "refused", true);
    const refused = (await client.getBuild({ buildId: "refused" })).build;
    expect(refused?.status).toBe(BuildStatus.FAILED);
    expect(refused?.message).toMatch(/refused/);
    expect(await codeOf(client.startBuild({ buildId: "refused", source: git }))).toBe(Code.AlreadyExists);
  }, 60_000);
});
