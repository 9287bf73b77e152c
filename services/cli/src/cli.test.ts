import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { createLogger, type RpcServer, startRpcServer } from "@langopen/common";
import { DeploymentSchema, DeploymentStatus, SandboxProfile } from "@langopen/gen/langopen/control/v1/deployment_pb";
import { DeploymentService } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { freePort } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliIo, runCli } from "./index.js";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function collect(stream: PassThrough): () => string {
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks).toString("utf8");
}

async function run(
  argv: string[],
  options: { env?: Record<string, string>; stdin?: CliIo["stdin"]; cwd?: string } = {},
): Promise<Result> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = collect(stdout);
  const err = collect(stderr);
  const stdin = options.stdin ?? Object.assign(Readable.from([]), { isTTY: true });
  const code = await runCli(argv, { env: options.env ?? {}, stdout, stderr, stdin, cwd: options.cwd ?? os.tmpdir() });
  return { code, stdout: out(), stderr: err() };
}

const COMMANDS = [
  "deploy",
  "deployments list",
  "deployments get",
  "deployments delete",
  "revisions list",
  "rollback",
  "logs",
  "keys create",
  "keys list",
  "keys revoke",
  "secrets set",
  "secrets list",
  "secrets unset",
  "audit",
  "bundle fetch",
  "dev",
];

describe("usage", () => {
  it.each(COMMANDS)("%s --help prints its usage and exits 0", async (name) => {
    const res = await run([...name.split(" "), "--help"]);
    expect(res).toMatchObject({ code: 0, stderr: "" });
    expect(res.stdout).toContain(`Usage: langopen ${name}`);
  });

  it("--help, -h and help show the list of commands", async () => {
    for (const argv of [["--help"], ["-h"], ["help"]]) {
      const res = await run(argv);
      expect(res.code).toBe(0);
      for (const name of COMMANDS) expect(res.stdout).toContain(name);
    }
  });

  it.each(["deployments", "revisions", "keys", "secrets"])("%s --help lists its commands", async (group) => {
    const res = await run([group, "--help"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`Usage: langopen ${group} <command>`);
    expect(res.stdout).toContain(`${group} list`);
  });

  it("help COMMAND shows that command's usage", async () => {
    const res = await run(["help", "keys", "create"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("Usage: langopen keys create");
  });

  it("help GROUP lists the group's commands", async () => {
    const res = await run(["help", "secrets"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("Usage: langopen secrets <command>");
  });

  it("--help wins over other arguments, even wrong ones", async () => {
    expect((await run(["deploy", "--nope", "--help"])).code).toBe(0);
    expect((await run(["logs", "x", "-h"])).code).toBe(0);
  });

  it.each([
    [[], "missing command"],
    [["nope"], "unknown command 'nope'"],
    [["help", "nope"], "unknown command 'nope'"],
    [["deployments"], "missing command after 'deployments'"],
    [["deployments", "nope"], "unknown command 'deployments nope'"],
    [["--nope", "deployments", "list"], "unknown option '--nope'"],
    [["deployments", "list", "--nope"], "'--nope'"],
    [["keys", "list", "extra"], "unexpected argument 'extra'"],
    [["deployments", "get"], "missing NAME_OR_ID"],
    [["deploy", "--name", "a", "--git", "g", "--sandbox", "docker"], "--sandbox must be one of node, gvisor, none"],
    [["deploy", "--name", "a", "--git", "g", "--timeout", "soon"], "--timeout must be a whole number"],
    [["deploy", "--name", "a", "--git", "g", "--env", "NOEQUALS"], "--env must be KEY=VALUE"],
    [["logs", "a", "--build", "--runtime"], "--build and --runtime exclude each other"],
    [["logs", "a", "--revision", "r"], "--revision goes with --build"],
    [["keys", "create", "--name", "ci"], "missing --role"],
    [["keys", "create", "--name", "ci", "--role", "root"], "--role must be one of admin, developer, viewer"],
    [["deploy", "--name", "a", "--git", "https://example.com/a.git", "--dir", "."], "give --git or --dir, not both"],
    [["bundle", "fetch", "r1", "--to", "out"], "missing --public-key"],
    [["bundle", "fetch", "--public-key", "k.pem", "--to", "out"], "REVISION_ID"],
  ])("%j is a usage error (exit 2): %s", async (argv, message) => {
    const res = await run(argv, { env: { LANGOPEN_API_KEY: "k" } });
    expect(res.code).toBe(2);
    expect(res.stdout).toBe("");
    expect(res.stderr).toContain(message);
    expect(res.stderr).toContain("Usage: langopen");
  });

  it.each([
    [["deploy", "--git", "https://example.com/a.git"], "missing --name"],
    [["deploy", "--name", "agent"], "missing --git (or --dir)"],
  ])("%j names the missing flag (exit 2), with or without a key", async (argv, message) => {
    for (const env of [{}, { LANGOPEN_API_KEY: "k" }] as Record<string, string>[]) {
      const res = await run(argv, { env });
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(`langopen: ${message}`);
    }
  });
});

describe("settings", () => {
  it("without an API key, a command says how to get one (exit 1)", async () => {
    const res = await run(["deployments", "list"]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe("");
    expect(res.stderr).toContain("langopen: no API key");
    expect(res.stderr).toContain("set LANGOPEN_API_KEY (or --api-key) to a key from `langopen keys create`");
  });

  it("a control plane URL that is not http(s) is refused (exit 1)", async () => {
    const res = await run(["audit"], { env: { LANGOPEN_API_KEY: "k", LANGOPEN_CONTROL_URL: "ftp://example.com" } });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("is not an http(s) URL");
  });

  describe("with nothing listening at the control plane's address", () => {
    let url: string;
    beforeAll(async () => {
      url = `http://127.0.0.1:${await freePort()}`;
    });

    it("says to start the control plane, naming the URL, within seconds (exit 1)", async () => {
      const started = Date.now();
      const res = await run(["deployments", "list"], { env: { LANGOPEN_API_KEY: "k", LANGOPEN_CONTROL_URL: url } });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(res.code).toBe(1);
      const lines = res.stderr.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^langopen: list deployments: .+/);
      expect(lines[1]).toContain(`is the control plane running at ${url}? start it with \`npm run platform\``);
    });

    it("takes --url and --api-key as flags, before or after the command", async () => {
      for (const argv of [
        ["--url", url, "--api-key", "k", "keys", "list"],
        ["keys", "list", `--url=${url}`, "--api-key", "k"],
      ]) {
        const res = await run(argv, { env: { LANGOPEN_CONTROL_URL: "http://127.0.0.1:1" } });
        expect(res.code).toBe(1);
        expect(res.stderr).toContain(`is the control plane running at ${url}?`);
      }
    });

    it("secrets set: KEY=VALUE splits at the first '=', so the value may hold more", async () => {
      const res = await run(["secrets", "set", "x", "KEY=a=b"], { env: { LANGOPEN_API_KEY: "k", LANGOPEN_CONTROL_URL: url } });
      expect(res.code).toBe(1);
      expect(res.stderr).toContain("langopen: set secret KEY of x:");
    });

    it("secrets set: KEY alone reads the value from stdin when it is not a terminal", async () => {
      const stdin = Object.assign(Readable.from([Buffer.from("s3cret\n")]), { isTTY: false });
      const res = await run(["secrets", "set", "x", "KEY"], { env: { LANGOPEN_API_KEY: "k", LANGOPEN_CONTROL_URL: url }, stdin });
      expect(res.code).toBe(1);
      expect(res.stderr).toContain("langopen: set secret KEY of x:");
      expect(res.stderr).not.toContain("s3cret");
    });
  });

  it("secrets set: KEY= (an empty value, as from an unset shell variable) is refused (exit 2)", async () => {
    const res = await run(["secrets", "set", "x", "KEY="], { env: { LANGOPEN_API_KEY: "k" } });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("KEY= has an empty value");
  });

  it("secrets set: KEY alone with stdin a terminal asks for the value (exit 2)", async () => {
    const res = await run(["secrets", "set", "x", "KEY"], { env: { LANGOPEN_API_KEY: "k" } });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("no value for KEY");
  });

  it("secrets set: KEY with nothing on stdin is refused (exit 2)", async () => {
    const stdin = Object.assign(Readable.from([]), { isTTY: false });
    const res = await run(["secrets", "set", "x", "KEY"], { env: { LANGOPEN_API_KEY: "k" }, stdin });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("no value for KEY on stdin");
  });
});

describe("dev", () => {
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), "langopen-cli-dev-"));
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it("in a folder without langgraph.json, names the path it looked for (exit 1), with no API key needed", async () => {
    const res = await run(["dev"], { cwd: folder });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`no langgraph.json at ${path.join(folder, "langgraph.json")}`);
    expect(res.stderr).not.toContain("API key");
  });

  it("with --config naming a missing file, names it (exit 1)", async () => {
    const res = await run(["dev", "--config", "sub/graphs.json"], { cwd: folder });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(path.join(folder, "sub", "graphs.json"));
  });
});

describe("deployments get, against a control plane", () => {
  const created = new Date(Date.now() - 3 * 3600_000);
  const deployment = create(DeploymentSchema, {
    deploymentId: "3f1c9a52-5a7e-4d0b-9f51-0c3e2b6a7d10",
    name: "agent",
    status: DeploymentStatus.DEGRADED,
    statusMessage: "its data plane is down",
    url: "http://agent.example",
    replicas: 2,
    sandbox: SandboxProfile.KATA,
    createTime: timestampFromDate(created),
    updateTime: timestampFromDate(created),
    conditions: [
      {
        type: "Ready",
        status: "False",
        reason: "Unavailable",
        message: "0 of 2 workers are ready",
        lastTransitionTime: timestampFromDate(new Date(Date.now() - 90_000)),
      },
      { type: "Progressing", status: "False", reason: "Complete", message: "", lastTransitionTime: timestampFromDate(created) },
      {
        type: "Degraded",
        status: "True",
        reason: "Unavailable",
        message: "pods crash:\nOOMKilled",
        lastTransitionTime: timestampFromDate(new Date(Date.now() - 90_000)),
      },
    ],
  });
  let server: RpcServer;

  beforeAll(async () => {
    server = await startRpcServer({
      host: "127.0.0.1",
      port: 0,
      logger: createLogger({ service: "test", level: "silent" }),
      services: [DeploymentService],
      routes: (router) =>
        router.service(DeploymentService, {
          async getDeployment(req) {
            if (req.deployment !== "agent") throw new ConnectError("no such deployment", Code.NotFound);
            return { deployment };
          },
        }),
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("prints the data plane's conditions as a table: TYPE STATUS REASON MESSAGE AGE", async () => {
    const res = await run(["deployments", "get", "agent"], { env: { LANGOPEN_CONTROL_URL: server.url, LANGOPEN_API_KEY: "k" } });
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("sandbox:");
    expect(res.stdout).toContain("KATA");
    const lines = res.stdout.split("\n");
    const header = lines.findIndex((l) => l.startsWith("TYPE"));
    expect(lines[header]).toMatch(/^TYPE +STATUS +REASON +MESSAGE +AGE$/);
    expect(lines[header + 1]).toMatch(/^Ready +False +Unavailable +0 of 2 workers are ready +9\ds$/);
    expect(lines[header + 2]).toMatch(/^Progressing +False +Complete +- +3h$/);
    // A line break in a message would break the columns.
    expect(lines[header + 3]).toMatch(/^Degraded +True +Unavailable +pods crash: OOMKilled +9\ds$/);
  });

  it("--json includes the conditions", async () => {
    const res = await run(["deployments", "get", "agent", "--json"], {
      env: { LANGOPEN_CONTROL_URL: server.url, LANGOPEN_API_KEY: "k" },
    });
    expect(res.code).toBe(0);
    const json = JSON.parse(res.stdout) as { conditions: Record<string, string>[]; sandbox: string };
    expect(json.sandbox).toBe("KATA");
    expect(json.conditions).toHaveLength(3);
    expect(json.conditions[2]).toEqual({
      type: "Degraded",
      status: "True",
      reason: "Unavailable",
      message: "pods crash:\nOOMKilled",
      last_transition_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });
});
