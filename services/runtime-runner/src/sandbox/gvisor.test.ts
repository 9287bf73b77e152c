import { spawnSync } from "node:child_process";
import { access, chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { freePort, StartupError } from "@langopen/common";
import { createTestDatabase } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type LauncherProcess, spawnLauncher } from "../../../launcher/src/test-fixtures/launcher-process.js";
import { findRunsc, removeStaleSandboxes } from "./gvisor.js";
import { PERMISSION_FLAG } from "./index.js";

/**
 * LANGOPEN_SANDBOX=gvisor: each runtime process runs inside gVisor. The project below asks for
 * child processes, so that its probes run as shell commands, which Node's permission model (the
 * second layer) does not restrict: what they find is what gVisor alone lets through.
 */
const REPO_MODULES = fileURLToPath(new URL("../../../../node_modules", import.meta.url));

const runscPath = spawnSync("sh", ["-c", "command -v runsc"], { encoding: "utf8" }).stdout.trim();
const canRun = runscPath !== "" && process.getuid?.() === 0;
if (!canRun && !process.env.CI) {
  console.log("Skipping the gVisor tests: they need runsc on the PATH (apt-get install runsc) and root");
}

const PROBE_GRAPH = `
import { execSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Annotation, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({ launcherPid: Annotation(), dataDir: Annotation(), projectDir: Annotation(), report: Annotation() });

function sh(command) {
  try {
    return "allowed: " + execSync(command, { stdio: ["ignore", "pipe", "pipe"], timeout: 10000 }).toString().trim().slice(0, 200);
  } catch (err) {
    return "denied: " + String(err.stderr ?? err.message).trim().slice(0, 200);
  }
}

function probe(state) {
  return {
    report: {
      kernel: sh("uname -r"),
      uid: sh("id -u"),
      processes: sh("cd /proc && echo [0-9]*"),
      pid1: sh("tr '\\\\0' ' ' < /proc/1/cmdline"),
      launcherProc: sh("cat /proc/" + state.launcherPid + "/cmdline"),
      dataDir: sh("ls -A " + state.dataDir),
      internalSecret: sh("cat " + path.join(state.dataDir, "internal-secret")),
      writeProject: sh("touch " + path.join(state.projectDir, "pwned")),
      writeUsr: sh("touch /usr/local/langopen-pwned"),
      // World-writable on the host: only gVisor's read-only root refuses it.
      writeVarTmp: sh("touch /var/tmp/langopen-gvisor-pwned"),
      writeTmp: sh("echo x > /tmp/langopen-gvisor-pwned && echo written"),
      writeScratch: sh("echo x > " + path.join(os.tmpdir(), "scratch-file") + " && echo written"),
      permissionModel: (() => {
        try {
          fs.readFileSync("/etc/hostname");
          return "allowed";
        } catch (err) {
          return "denied: " + err.code;
        }
      })(),
    },
  };
}

export const graph = new StateGraph(State).addNode("probe", probe).addEdge("__start__", "probe").compile();
`;

/** What graph code reaches of the network: the ports to try come in its input. */
const NET_GRAPH = `
import dns from "node:dns/promises";
import http from "node:http";
import net from "node:net";
import { Annotation, StateGraph } from "@langchain/langgraph";
import { Client } from "@langchain/langgraph-sdk";

const State = Annotation.Root({ ports: Annotation(), report: Annotation() });

async function attempt(fn) {
  try {
    return "allowed: " + String(await fn()).slice(0, 300);
  } catch (err) {
    return "denied: " + String(err.cause?.message ?? err.code ?? err.message).slice(0, 400);
  }
}

function tcp(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.setTimeout(5000, () => socket.destroy(new Error("timed out")));
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", reject);
  });
}

function httpGet(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve(body));
    }).on("error", reject);
  });
}

async function probe({ ports }) {
  const undeclared = () => fetch("http://127.0.0.1:" + ports.undeclared + "/").then((r) => r.text());
  return {
    report: {
      declared: await attempt(() => fetch("http://127.0.0.1:" + ports.declared + "/model").then((r) => r.text())),
      declaredHttpModule: await attempt(() => httpGet("http://127.0.0.1:" + ports.declared + "/module")),
      undeclared: await attempt(undeclared),
      undeclaredAgain: await attempt(undeclared),
      postgres: await attempt(() => tcp(ports.postgres)),
      apiServer: await attempt(() => tcp(ports.apiServer)),
      gatewayRaw: await attempt(() => tcp(ports.gateway)),
      sdkClient: await attempt(async () => "assistants: " + (await new Client().assistants.search({ limit: 5 })).length),
      dns: await attempt(async () => JSON.stringify(await dns.lookup("example.com"))),
    },
  };
}

export const graph = new StateGraph(State).addNode("probe", probe).addEdge("__start__", "probe").compile();
`;

describe.skipIf(!canRun && !process.env.CI)("npm start with LANGOPEN_SANDBOX=gvisor", () => {
  let dir: string;
  let dataDir: string;
  let launcher: LauncherProcess;
  let client: Client;
  let dropDb: () => Promise<void>;
  let port: number;
  let databaseUrl: string;
  /** Loopback servers graph code may (declared in egress) and may not reach. */
  let declared: Server;
  let undeclared: Server;
  const portOf = (server: Server) => (server.address() as AddressInfo).port;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "langopen-gvisor-test-"));
    await chmod(dir, 0o755);
    await symlink(REPO_MODULES, path.join(dir, "node_modules"), "dir");
    await writeFile(path.join(dir, "probe.mjs"), PROBE_GRAPH);
    await writeFile(path.join(dir, "net.mjs"), NET_GRAPH);
    const serve = async (name: string) => {
      const server = createServer((req, res) => res.end(`${name} answered ${req.url}`));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
      return server;
    };
    declared = await serve("declared");
    undeclared = await serve("undeclared");
    await writeFile(
      path.join(dir, "langgraph.json"),
      JSON.stringify({
        graphs: { probe: "./probe.mjs:graph", net: "./net.mjs:graph" },
        egress: [`127.0.0.1/32:${portOf(declared)}`, "api.openai.com:443"],
        langopen: { sandbox: { allow: ["child_process"] } },
      }),
    );
    const db = await createTestDatabase(inject("databaseUrl"));
    databaseUrl = db.url;
    dropDb = () => db.drop();
    dataDir = path.join(dir, ".langopen");
    port = await freePort();
    const { REDIS_URL: _r, ...inherited } = process.env;
    launcher = spawnLauncher(["--config", path.join(dir, "langgraph.json"), "--port", String(port)], {
      ...inherited,
      DATABASE_URL: db.url,
      LANGOPEN_DATA_DIR: dataDir,
      // Two: each has its own sockets, relays and egress proxy.
      LANGOPEN_RUNTIME_PROCESSES: "2",
      LANGOPEN_SANDBOX: "gvisor",
      LOG_LEVEL: "info",
    });
    client = new Client({ apiUrl: `http://127.0.0.1:${port}` });
    await launcher.waitFor("LangOpen is ready", 150_000);
  }, 180_000);

  afterAll(async () => {
    if (launcher && launcher.child.exitCode === null) {
      launcher.child.kill("SIGTERM");
      await launcher.exited;
    }
    await dropDb?.();
    declared?.close();
    undeclared?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("runs a graph through the SDK inside gVisor, which shows it no host process, no secret and no writable host folder but its scratch", {
    timeout: 90_000,
  }, async () => {
    const thread = await client.threads.create();
    const values = (await client.runs.wait(thread.thread_id, "probe", {
      input: { launcherPid: launcher.child.pid, dataDir, projectDir: dir },
    })) as { report: Record<string, string> };
    const got = values.report;
    console.log("What the graph found inside gVisor:", got);
    // gVisor's own kernel answers, not the host's.
    expect(got.kernel).toBe("allowed: 4.4.0");
    expect(got.uid).toBe("allowed: 65534");
    // Its own processes only: the runtime is pid 1 of the sandbox, the host's launcher is not there.
    const pids =
      got.processes
        ?.replace(/^allowed: /, "")
        .split(/\s+/)
        .filter((name) => /^\d+$/.test(name)) ?? [];
    expect(pids).toContain("1");
    // pid 1 of the sandbox is the runtime itself, under the permission model.
    expect(got.pid1).toContain(`allowed: ${process.execPath} ${PERMISSION_FLAG}`);
    expect(pids).not.toContain(String(launcher.child.pid));
    expect(pids.length).toBeLessThan(10);
    expect(got.launcherProc).toMatch(/^denied: /);
    const secret = (await readFile(path.join(dataDir, "internal-secret"), "utf8")).trim();
    expect(secret.length).toBeGreaterThan(0);
    expect(got.internalSecret).not.toContain(secret);
    expect(got.writeProject).toMatch(/^denied: /);
    expect(got.writeUsr).toMatch(/^denied: /);
    expect(got.writeVarTmp).toMatch(/^denied: .*Read-only file system/);
    await expect(access("/var/tmp/langopen-gvisor-pwned")).rejects.toThrow();
    expect(got.dataDir).toMatch(/^denied: /);
    // /tmp is the sandbox's own: a write there never reaches the host's.
    expect(got.writeTmp).toBe("allowed: written");
    await expect(access("/tmp/langopen-gvisor-pwned")).rejects.toThrow();
    expect(got.writeScratch).toBe("allowed: written");
    // Node's permission model still applies inside, as the second layer.
    expect(got.permissionModel).toBe("denied: ERR_ACCESS_DENIED");
    await expect(access(path.join(dir, "pwned"))).rejects.toThrow();
  });

  it("reaches what egress declares and nothing else: no socket out, no name resolved, the proxy's refusal named", {
    timeout: 90_000,
  }, async () => {
    const apiServerPort = (
      launcher.lines().find((line) => line.msg === "Started RPC server" && line.service === "api-server") as { port?: number }
    )?.port;
    expect(apiServerPort).toBeGreaterThan(0);
    const ports = {
      declared: portOf(declared),
      undeclared: portOf(undeclared),
      postgres: Number(new URL(databaseUrl).port || 5432),
      apiServer: apiServerPort,
      gateway: port,
    };
    const thread = await client.threads.create();
    const values = (await client.runs.wait(thread.thread_id, "net", { input: { ports } })) as {
      report: Record<string, string>;
    };
    const got = values.report;
    console.log("What the graph reached inside gVisor:", got);
    // The model-provider case: a declared destination answers fetch and the http module.
    expect(got.declared).toBe(`allowed: declared answered /model`);
    expect(got.declaredHttpModule).toBe(`allowed: declared answered /module`);
    // Anything else: the proxy's sentence, naming the destination and where to declare it.
    const refusal = `LangOpen's egress proxy refused 127.0.0.1:${ports.undeclared}: an internal address`;
    expect(got.undeclared).toContain(`denied: ${refusal}`);
    expect(got.undeclared).toContain('"egress" of langgraph.json');
    expect(got.undeclaredAgain).toContain(`denied: ${refusal}`);
    // No socket reaches the host: the sandbox's loopback is its own.
    expect(got.postgres).toBe("denied: ECONNREFUSED");
    expect(got.apiServer).toBe("denied: ECONNREFUSED");
    expect(got.gatewayRaw).toBe("denied: ECONNREFUSED");
    // The installation's own API stays reachable for the SDK's Client() without a URL.
    expect(got.sdkClient).toMatch(/^allowed: assistants: \d+$/);
    // No name resolves inside (the proxy resolves the declared ones outside).
    expect(got.dns).toBe("denied: EAI_AGAIN");
    // The launcher said so, once for both attempts.
    const warnings = launcher
      .lines()
      .filter((line) => line.msg === "Refused a connection of graph code outside the project's egress");
    expect(warnings.filter((line) => line.destination === `127.0.0.1:${ports.undeclared}`)).toHaveLength(1);
    // The runtime processes' metrics reach the launcher's /metrics through their sockets.
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain('runtime="0"');
    expect(metrics).toContain('runtime="1"');
  });

  it("leaves no container, bundle or scratch folder behind once the launcher stops", { timeout: 60_000 }, async () => {
    const pid = launcher.child.pid as number;
    launcher.child.kill("SIGTERM");
    expect(await launcher.exited).toBe(0);
    const left = (await readdir(os.tmpdir())).filter(
      (name) => name.startsWith(`langopen-runtime-${pid}-`) || name === `langopen-gvisor-${pid}`,
    );
    const state = left.includes(`langopen-gvisor-${pid}`)
      ? await readdir(path.join(os.tmpdir(), `langopen-gvisor-${pid}`, "state")).catch(() => [])
      : [];
    // The folders of the runtimes' Unix sockets (see network.ts).
    const sockets = left.includes(`langopen-gvisor-${pid}`)
      ? await readdir(path.join(os.tmpdir(), `langopen-gvisor-${pid}`, "net")).catch(() => [])
      : [];
    // runsc makes a cgroup per container (under each v1 controller, or the v2 root) and leaves it behind.
    const cgroups: string[] = [];
    for (const dir of ["/sys/fs/cgroup", "/sys/fs/cgroup/memory"]) {
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (name.startsWith(`langopen-${pid}-`)) cgroups.push(path.join(dir, name));
      }
    }
    expect({ scratch: left.filter((n) => n.startsWith("langopen-runtime-")), state, sockets, cgroups }).toEqual({
      scratch: [],
      state: [],
      sockets: [],
      cgroups: [],
    });
  });
});

describe("gVisor's preconditions and leftovers", () => {
  it("refuses to start without runsc, naming the fix", async () => {
    const err = await findRunsc("/nonexistent").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toContain("apt-get install runsc");
    expect((err as Error).message).toContain("LANGOPEN_SANDBOX=node");
  });

  it("removes the leftovers of a dead launcher and keeps a live one's", async () => {
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    const deadPid = Number(dead.stdout);
    const cache = await mkdtemp(path.join(os.tmpdir(), "langopen-cache-test-"));
    const deadScratch = path.join(os.tmpdir(), `langopen-runtime-${deadPid}-abc`);
    const deadState = path.join(os.tmpdir(), `langopen-gvisor-${deadPid}`);
    const deadBuild = path.join(cache, `langopen-runtime-${deadPid}-def`);
    // A UI bundle made without the sandbox (LANGOPEN_SANDBOX=none).
    const deadUi = path.join(os.tmpdir(), `langopen-ui-${deadPid}-ghi`);
    const liveScratch = path.join(os.tmpdir(), `langopen-runtime-${process.pid}-live`);
    try {
      for (const folder of [deadScratch, path.join(deadState, "state"), deadBuild, deadUi, liveScratch]) {
        await mkdir(folder, { recursive: true });
      }
      const removed = await removeStaleSandboxes(canRun ? runscPath : undefined, [cache]);
      expect(removed).toEqual(expect.arrayContaining([deadScratch, deadState, deadBuild, deadUi]));
      expect(removed).not.toContain(liveScratch);
      await expect(access(deadScratch)).rejects.toThrow();
      await expect(access(deadBuild)).rejects.toThrow();
      await expect(access(deadUi)).rejects.toThrow();
      await access(liveScratch);
    } finally {
      await rm(liveScratch, { recursive: true, force: true });
      await rm(cache, { recursive: true, force: true });
    }
  });
});
