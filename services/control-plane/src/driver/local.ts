import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { type BundleDigest, bundleFileName, freePortPreferring, type Logger, sleep } from "@langopen/common";
import type { DeploymentDatabases } from "../database-store.js";
import type { DataPlaneCondition, DataPlanePhase, DesiredDataPlane, Driver, ObservedDataPlane } from "./contract.js";

export interface LocalDriverOptions {
  /** Where each deployment keeps its data folder and log (`<dir>/<deployment id>/`). */
  deploymentsDir: string;
  /** Where the builder writes bundles. */
  bundleDir: string;
  /** The platform's public key (PEM file): the data plane verifies bundles with it. */
  publicKeyFile: string;
  /** Each deployment's role and database of its own on the platform's Postgres. */
  databases: DeploymentDatabases;
  /** Where data planes ask about API keys. */
  controlUrl: string;
  /** The data plane's entry point (the launcher's dist/main.js). */
  launcherMain: string;
  logger: Logger;
  /** How long a data plane may take to answer /ok. */
  startTimeoutMs?: number;
  /** How long a data plane may drain its runs when stopped (its SHUTDOWN_GRACE_MS). */
  drainMs?: number;
  /** Variables every data plane gets (e.g. PATH, model API keys of the platform). */
  baseEnv?: Record<string, string | undefined>;
}

interface Unit {
  desired?: DesiredDataPlane;
  /** The revision starting, serving or failed. */
  revisionId: string;
  phase: DataPlanePhase | "stopped";
  message: string;
  url: string;
  port?: number;
  proc?: ChildProcess;
  log?: WriteStream;
  /** A start or stop under way: no other begins until it ends. */
  busy?: Promise<void>;
  restarts: number;
  /** What was last reported (a condition keeps its transition time while its status stays). */
  conditions: DataPlaneCondition[];
}

/** The sandbox each profile gets on this machine; Kata needs Kubernetes. */
const SANDBOX_MODES = { NODE: "node", GVISOR: "gvisor", NONE: "none", KATA: undefined } as const;
/** The lines of a data plane's output kept to say why it did not start. */
const TAIL_LINES = 20;

/**
 * Runs each deployment's data plane as a process on this machine: the launcher, with its own
 * database (a role and database of its own on the platform's Postgres), its own port (kept across
 * restarts when free), in-process signals, the bundle it verifies before loading anything, and
 * the deployment's variables and secrets. A switch of revision drains the old process (SIGTERM:
 * it finishes the runs in flight, queued runs wait in the database) and then starts the new one
 * on the same port and database. A process that dies is started again, with backoff. A revision's
 * `egress` (its langgraph.json's) is applied under the gVisor profile only, by the launcher's
 * egress proxy; under the node profile nothing restricts the network.
 */
export class LocalDriver implements Driver {
  private readonly units = new Map<string, Unit>();
  private stopping = false;

  constructor(private readonly options: LocalDriverOptions) {}

  reconcile(desired: DesiredDataPlane[]): ObservedDataPlane[] {
    const wanted = new Set<string>();
    for (const d of desired) {
      wanted.add(d.deploymentId);
      let unit = this.units.get(d.deploymentId);
      if (!unit) {
        unit = { revisionId: "", phase: "stopped", message: "", url: "", restarts: 0, conditions: [] };
        this.units.set(d.deploymentId, unit);
      }
      unit.desired = d;
      if (unit.busy || this.stopping) continue;
      const failedThis = unit.phase === "failed" && unit.revisionId === d.revisionId;
      if (!failedThis && (unit.revisionId !== d.revisionId || unit.phase === "stopped")) this.run(unit, this.switchTo(unit, d));
    }
    for (const [id, unit] of this.units) {
      if (wanted.has(id)) continue;
      unit.desired = undefined;
      if (!unit.busy && unit.proc) this.run(unit, this.stopProcess(unit, "the deployment was deleted"));
    }
    return [...this.units.entries()]
      .filter(([, u]) => u.desired !== undefined && u.phase !== "stopped")
      .map(([deploymentId, u]) => {
        const phase = u.phase as DataPlanePhase;
        u.conditions = mergeConditions(u.conditions, conditionsOf(phase, u.message), new Date());
        return { deploymentId, revisionId: u.revisionId, phase, message: u.message, url: u.url, conditions: u.conditions };
      });
  }

  isStopped(deploymentId: string): boolean {
    const unit = this.units.get(deploymentId);
    return !unit || (!unit.busy && !unit.proc);
  }

  async remove(deploymentId: string): Promise<void> {
    this.units.delete(deploymentId);
    await this.options.databases.drop(deploymentId);
    await rm(path.join(this.options.deploymentsDir, deploymentId), { recursive: true, force: true });
    this.options.logger.info({ deployment_id: deploymentId }, "Removed deployment's database and files");
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.units.values()].map(async (unit) => {
        await unit.busy?.catch(() => {});
        await this.stopProcess(unit, "the platform stops");
      }),
    );
  }

  private run(unit: Unit, work: Promise<void>): void {
    unit.busy = work
      .catch((err: unknown) => {
        unit.phase = "failed";
        unit.message = (err as Error).message;
        this.options.logger.warn({ err, revision_id: unit.revisionId }, "Data plane failed");
      })
      .finally(() => {
        unit.busy = undefined;
      });
  }

  private async switchTo(unit: Unit, d: DesiredDataPlane): Promise<void> {
    const previous = unit.revisionId;
    unit.revisionId = d.revisionId;
    unit.phase = "starting";
    unit.restarts = 0;
    if (unit.proc) {
      unit.message = `draining revision ${previous} before starting ${d.revisionId}`;
      await this.stopProcess(unit, "a new revision takes over");
      unit.phase = "starting";
    }
    await this.start(unit, d);
  }

  private async start(unit: Unit, d: DesiredDataPlane): Promise<void> {
    unit.message = "starting";
    const dir = path.join(this.options.deploymentsDir, d.deploymentId);
    const sandbox = SANDBOX_MODES[d.sandbox];
    if (sandbox === undefined)
      throw new Error(`the ${d.sandbox.toLowerCase()} sandbox runs only on Kubernetes (LANGOPEN_DRIVER=kubernetes)`);
    await mkdir(dir, { recursive: true });
    const databaseUrl = await this.options.databases.ensure(d.deploymentId);
    const previousPort = unit.port ?? (d.previousUrl ? Number(new URL(d.previousUrl).port) || undefined : undefined);
    const port = await freePortPreferring(previousPort);
    unit.port = port;
    const url = `http://127.0.0.1:${port}`;
    const drainMs = this.options.drainMs ?? 10_000;
    const env: Record<string, string> = {
      ...definedOnly(this.options.baseEnv ?? { PATH: process.env.PATH, HOME: process.env.HOME }),
      ...d.env,
      ...d.secrets,
      PORT: String(port),
      HOST: "127.0.0.1",
      DATABASE_URL: databaseUrl,
      LANGOPEN_DATA_DIR: path.join(dir, "data"),
      LANGOPEN_BUNDLE: path.join(this.options.bundleDir, bundleFileName(d.bundleDigest as BundleDigest)),
      LANGOPEN_BUNDLE_DIGEST: d.bundleDigest,
      LANGOPEN_BUNDLE_PUBLIC_KEY_FILE: this.options.publicKeyFile,
      LANGOPEN_CONFIG: d.configPath,
      LANGOPEN_CONTROL_URL: this.options.controlUrl,
      LANGOPEN_DEPLOYMENT_ID: d.deploymentId,
      LANGOPEN_SANDBOX: sandbox,
      SHUTDOWN_GRACE_MS: String(drainMs),
      ...(d.resources.runtime_processes ? { LANGOPEN_RUNTIME_PROCESSES: String(d.resources.runtime_processes) } : {}),
      ...(d.resources.worker_concurrency ? { WORKER_CONCURRENCY: String(d.resources.worker_concurrency) } : {}),
      ...(d.resources.runtime_memory_mb ? { LANGOPEN_RUNTIME_MAX_MEMORY_MB: String(d.resources.runtime_memory_mb) } : {}),
    };
    const log = createWriteStream(path.join(dir, "runtime.log"), { flags: "a" });
    log.on("error", (err) => this.options.logger.warn({ err, deployment: d.name }, "Could not write the data plane's log"));
    const tail: string[] = [];
    const proc = spawn(process.execPath, [this.options.launcherMain], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
    unit.proc = proc;
    unit.log = log;
    for (const stream of [proc.stdout, proc.stderr]) {
      stream?.on("data", (chunk: Buffer) => {
        // The log ends when the process exits; its children (its runtimes) may still write a last
        // line through the inherited pipe after it was killed.
        if (!log.writableEnded) log.write(chunk);
        for (const line of chunk.toString("utf8").split("\n")) {
          if (line.trim() === "") continue;
          tail.push(line);
          if (tail.length > TAIL_LINES) tail.shift();
        }
      });
    }
    const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
    const ready = await Promise.race([
      this.waitReady(url, proc),
      exited.then((code) => new Error(`the data plane exited (code ${code}) before it served: ${whyFrom(tail)}`)),
    ]);
    if (ready instanceof Error) {
      proc.kill("SIGKILL");
      await exited;
      log.end();
      unit.proc = undefined;
      throw ready;
    }
    unit.phase = "ready";
    unit.message = "";
    unit.url = url;
    this.options.logger.info({ deployment: d.name, revision_id: d.revisionId, url }, "Data plane serves");
    void exited.then((code) => this.onExit(unit, proc, code, tail));
  }

  private async waitReady(url: string, proc: ChildProcess): Promise<Error | undefined> {
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 180_000);
    while (Date.now() < deadline && proc.exitCode === null) {
      try {
        const res = await fetch(`${url}/ok`, { signal: AbortSignal.timeout(2_000) });
        if (res.ok) return undefined;
      } catch {
        // Not listening yet.
      }
      await sleep(250);
    }
    return proc.exitCode === null ? new Error(`the data plane did not answer ${url}/ok within the start timeout`) : undefined;
  }

  /** An exit nobody asked for: the data plane is started again, sooner the first times. */
  private onExit(unit: Unit, proc: ChildProcess, code: number | null, tail: string[]): void {
    if (unit.proc !== proc) return; // stopped on purpose
    unit.proc = undefined;
    unit.log?.end();
    if (this.stopping || !unit.desired) return;
    unit.phase = "restarting";
    unit.message = `the data plane exited (code ${code}): ${whyFrom(tail)}; restarting`;
    this.options.logger.warn({ revision_id: unit.revisionId, code }, "Data plane exited; restarting it");
    const backoff = Math.min(30_000, 500 * 2 ** unit.restarts);
    unit.restarts += 1;
    const desired = unit.desired;
    this.run(
      unit,
      sleep(backoff).then(async () => {
        if (this.stopping || unit.desired?.revisionId !== desired.revisionId) return;
        const restarts = unit.restarts;
        await this.start(unit, unit.desired);
        unit.restarts = restarts;
      }),
    );
  }

  private async stopProcess(unit: Unit, why: string): Promise<void> {
    const proc = unit.proc;
    if (!proc) {
      unit.phase = "stopped";
      return;
    }
    unit.proc = undefined;
    this.options.logger.info({ revision_id: unit.revisionId, why }, "Stopping data plane");
    const exited = new Promise<void>((resolve) => (proc.exitCode !== null ? resolve() : proc.once("exit", () => resolve())));
    proc.kill("SIGTERM");
    const killAfter = (this.options.drainMs ?? 10_000) + 10_000;
    const timer = setTimeout(() => proc.kill("SIGKILL"), killAfter);
    await exited;
    clearTimeout(timer);
    unit.log?.end();
    unit.phase = "stopped";
  }
}

/** Conditions as the Kubernetes operator reports them, from a phase: so users see the same view on one machine. */
function conditionsOf(phase: DataPlanePhase, message: string): Omit<DataPlaneCondition, "lastTransitionTime">[] {
  const asExpected = { type: "Degraded", status: "False", reason: "AsExpected", message: "" } as const;
  switch (phase) {
    case "ready":
      return [
        { type: "Ready", status: "True", reason: "Available", message: "the data plane serves" },
        { type: "Progressing", status: "False", reason: "Complete", message: "" },
        asExpected,
      ];
    case "starting":
      return [
        { type: "Ready", status: "False", reason: "RollingOut", message },
        { type: "Progressing", status: "True", reason: "RollingOut", message },
        asExpected,
      ];
    case "restarting":
      return [
        { type: "Ready", status: "False", reason: "Unavailable", message },
        { type: "Progressing", status: "True", reason: "RollingOut", message: "restarting the data plane" },
        { type: "Degraded", status: "True", reason: "Unavailable", message },
      ];
    case "failed":
      return [
        { type: "Ready", status: "False", reason: "RevisionFailed", message },
        { type: "Progressing", status: "False", reason: "RevisionFailed", message },
        { type: "Degraded", status: "True", reason: "RevisionFailed", message },
      ];
  }
}

/** The new conditions, each keeping its previous transition time while its status stays the same. */
function mergeConditions(
  previous: DataPlaneCondition[],
  next: Omit<DataPlaneCondition, "lastTransitionTime">[],
  now: Date,
): DataPlaneCondition[] {
  return next.map((c) => {
    const before = previous.find((p) => p.type === c.type);
    const lastTransitionTime = before && before.status === c.status ? before.lastTransitionTime : now.toISOString();
    return { ...c, lastTransitionTime };
  });
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

/** The most telling of a data plane's last lines: the last error or fatal log line's message, else the last line. */
function whyFrom(tail: string[]): string {
  for (let i = tail.length - 1; i >= 0; i--) {
    const line = tail[i] as string;
    try {
      const parsed = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
      if ((parsed.level ?? 0) >= 50) return [parsed.msg, parsed.err?.message].filter(Boolean).join(": ");
    } catch {
      if (/error|refused|cannot|failed/i.test(line)) return line.trim();
    }
  }
  return tail.at(-1)?.trim() ?? "no output";
}
