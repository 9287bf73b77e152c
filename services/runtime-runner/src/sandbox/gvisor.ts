import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, constants, lstat, mkdir, readdir, rm, rmdir, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { StartupError } from "@langopen/common";

const run = promisify(execFile);

/**
 * gVisor's platform: `ptrace` works in any container that allows ptrace; `systrap` is unknown to
 * the Debian release (20221219) and KVM is rarely available.
 */
const PLATFORM = "ptrace";
/** Marks the lines a runtime in gVisor writes on its stdout for its parent (the IPC channel does not cross). */
export const PARENT_MESSAGE_PREFIX = "\u001elangopen-parent ";
/** The sandbox's own memory (the sentry and its gofer) counted on top of the runtime's own limit. */
const SENTRY_OVERHEAD_MB = 128;

/**
 * The runsc to run, or a StartupError naming the fix: gVisor needs its binary and, without
 * rootless mode (which cannot reach the host's loopback), root.
 */
export async function findRunsc(pathVariable = process.env.PATH ?? ""): Promise<string> {
  let found: string | undefined;
  for (const dir of pathVariable.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, "runsc");
    if (
      await access(candidate, constants.X_OK).then(
        () => true,
        () => false,
      )
    ) {
      found = candidate;
      break;
    }
  }
  if (found === undefined) {
    throw new StartupError(
      "LANGOPEN_SANDBOX=gvisor needs gVisor's runsc on the PATH (Debian and Ubuntu: apt-get install runsc; " +
        "elsewhere https://gvisor.dev/docs/user_guide/install/), or use LANGOPEN_SANDBOX=node",
    );
  }
  if (process.getuid?.() !== 0) {
    throw new StartupError(
      "LANGOPEN_SANDBOX=gvisor needs LangOpen to start as root (runsc creates namespaces and drops to the sandbox " +
        "user itself), or use LANGOPEN_SANDBOX=node",
    );
  }
  return found;
}

/** This process's folder of gVisor state and bundles, in the OS temp folder (named by its pid, for cleaning). */
function stateHome(pid = process.pid): string {
  return path.join(os.tmpdir(), `langopen-gvisor-${pid}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes what launchers that died without stopping (SIGKILL, a crash) left in the OS temp
 * folder and in `folders` (the project's build cache): gVisor containers and state
 * (`langopen-gvisor-<pid>`), scratch and build folders (`langopen-runtime-<pid>-*`) and UI bundles
 * made without the sandbox (`langopen-ui-<pid>-*`) whose pid no longer runs. Best effort.
 */
export async function removeStaleSandboxes(runsc?: string, folders: string[] = []): Promise<string[]> {
  const removed: string[] = [];
  for (const folder of [os.tmpdir(), ...folders]) {
    for (const name of await readdir(folder).catch(() => [] as string[])) {
      const match = /^langopen-(gvisor|runtime|ui)-(\d+)(?:-|$)/.exec(name);
      if (!match || alive(Number(match[2]))) continue;
      const full = path.join(folder, name);
      if (match[1] === "gvisor" && runsc) {
        const root = path.join(full, "state");
        for (const id of await containerIds(root)) {
          await run(runsc, ["--root", root, "delete", "--force", id]).catch(() => {});
        }
      }
      await rm(full, { recursive: true, force: true }).catch(() => {});
      removed.push(full);
    }
  }
  if (runsc) {
    await removeCgroups((id) => {
      const pid = /^langopen-(\d+)-/.exec(id)?.[1];
      return pid !== undefined && !alive(Number(pid));
    });
  }
  return removed;
}

const CGROUP_ROOT = "/sys/fs/cgroup";

/**
 * Removes the (empty) cgroups runsc made for containers whose id `matches`, under each cgroup v1
 * controller and the v2 root: runsc names them by the container and leaves them behind.
 */
async function removeCgroups(matches: (id: string) => boolean): Promise<void> {
  const controllers = (await readdir(CGROUP_ROOT).catch(() => [] as string[])).map((c) => path.join(CGROUP_ROOT, c));
  for (const dir of [CGROUP_ROOT, ...controllers]) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name.startsWith("langopen-") && matches(name)) await rmdir(path.join(dir, name)).catch(() => {});
    }
  }
}

async function containerIds(root: string): Promise<string[]> {
  const entries = await readdir(root).catch(() => [] as string[]);
  return [...new Set(entries.flatMap((e) => /_sandbox:(.+)\.state$/.exec(e)?.[1] ?? []))];
}

/**
 * A new folder for the Unix sockets a runtime in gVisor shares with this process (see
 * network.ts), in this process's gVisor folder (removed with it): short, for socket paths.
 */
export async function newSocketDir(): Promise<string> {
  const parent = path.join(stateHome(), "net");
  await mkdir(parent, { recursive: true, mode: 0o700 });
  return path.join(parent, randomBytes(4).toString("hex"));
}

/**
 * Where daemons of the host keep their Unix sockets (Postgres, D-Bus, Docker, ...): hidden
 * inside, where a socket of the host would otherwise be reachable (--host-uds=all, which the
 * runtime's own sockets need), unless the runtime needs something there.
 */
const SOCKET_HOMES = ["/run", "/var/run"];

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

export interface GvisorSpawn {
  command: string;
  args: string[];
  /** Sends a signal to the runtime inside (a signal to runsc itself does not reach it). */
  kill(signal: "TERM" | "KILL"): Promise<void>;
  /** Deletes the container (killing what is left) and its bundle. */
  dispose(): Promise<void>;
}

export interface GvisorOptions {
  runsc: string;
  /** The runtime's command line, Node first. */
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  uid?: number;
  gid?: number;
  /** Mounted read-write (the only writable host folder). */
  scratchDir: string;
  /** Host paths hidden inside (an empty read-only folder or file over each). */
  hidden: string[];
  /** Host paths under /tmp mounted read-only (the sandbox's /tmp is its own). */
  readOnly?: string[];
  /** The container's memory limit (its cgroup) in MB, the sandbox's own overhead added. */
  memoryMb?: number;
  /** The folder of the Unix sockets shared with this process (mounted read-write): the sandbox's only way out. */
  socketDir: string;
}

let counter = 0;

/**
 * An OCI bundle running the runtime in gVisor: the host's root read-only (Node, the runtime and
 * the project are found where they are), a private /tmp, the scratch folder read-write, the
 * `hidden` paths covered, gVisor's own /proc (no host process is visible), no network
 * (`--network=none`: a loopback of its own; what it serves and calls crosses as Unix sockets in
 * `socketDir`, see network.ts), the host's socket folders (/run) covered, and the sandbox user.
 */
export async function gvisorSpawn(options: GvisorOptions): Promise<GvisorSpawn> {
  const home = stateHome();
  const root = path.join(home, "state");
  const id = `langopen-${process.pid}-${++counter}-${Date.now().toString(36)}`;
  const bundle = path.join(home, "bundles", id);
  await mkdir(root, { recursive: true, mode: 0o700 });
  await mkdir(bundle, { recursive: true, mode: 0o700 });
  const emptyFile = path.join(bundle, "empty");
  await writeFile(emptyFile, "", { mode: 0o444 });
  const hiddenMounts = [];
  for (const hidden of options.hidden) {
    const st = await stat(hidden).catch(() => undefined);
    if (!st) continue;
    hiddenMounts.push(
      st.isDirectory()
        ? { destination: hidden, type: "tmpfs", source: "tmpfs", options: ["ro", "nosuid", "nodev", "noexec", "size=4k"] }
        : { destination: hidden, type: "bind", source: emptyFile, options: ["rbind", "ro"] },
    );
  }
  // Unix sockets of the host are reachable wherever the sandbox sees them (--host-uds=all): those
  // of the host's daemons are covered, unless a path the runtime needs lies there.
  const needed = [options.cwd, options.scratchDir, options.socketDir, ...(options.readOnly ?? []), options.argv[0] ?? ""];
  const socketHomes: string[] = [];
  for (const home of SOCKET_HOMES) {
    const st = await lstat(home).catch(() => undefined);
    if (st?.isDirectory() && !needed.some((p) => inside(p, home))) socketHomes.push(home);
  }
  const spec = {
    ociVersion: "1.0.0",
    process: {
      terminal: false,
      user: { uid: options.uid ?? 0, gid: options.gid ?? 0 },
      args: options.argv,
      env: Object.entries(options.env).map(([k, v]) => `${k}=${v}`),
      cwd: options.cwd,
      capabilities: { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] },
      noNewPrivileges: true,
    },
    root: { path: "/", readonly: true },
    hostname: "langopen-runtime",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
      { destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"] },
      ...socketHomes.map((home) => ({
        destination: home,
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "nodev", "noexec", "mode=755", "size=4k"],
      })),
      ...(options.readOnly ?? []).map((dir) => ({ destination: dir, type: "bind", source: dir, options: ["rbind", "ro"] })),
      { destination: options.scratchDir, type: "bind", source: options.scratchDir, options: ["rbind", "rw"] },
      { destination: options.socketDir, type: "bind", source: options.socketDir, options: ["rbind", "rw"] },
      ...hiddenMounts,
    ],
    linux: {
      namespaces: [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }],
      ...(options.memoryMb !== undefined
        ? { resources: { memory: { limit: (options.memoryMb + SENTRY_OVERHEAD_MB) * 1024 * 1024 } } }
        : {}),
    },
  };
  await writeFile(path.join(bundle, "config.json"), JSON.stringify(spec), { mode: 0o600 });
  const base = ["--root", root];
  let disposed = false;
  return {
    command: options.runsc,
    // No network; Unix sockets of the host (those in socketDir) connect and are made (a listening runtime).
    args: [...base, `--platform=${PLATFORM}`, "--network=none", "--host-uds=all", "run", "--bundle", bundle, id],
    async kill(signal) {
      await run(options.runsc, [...base, "kill", ...(signal === "KILL" ? ["--all"] : []), id, signal]).catch(() => {});
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await run(options.runsc, [...base, "delete", "--force", id]).catch(() => {});
      await rm(bundle, { recursive: true, force: true }).catch(() => {});
      await removeCgroups((name) => name === id);
    },
  };
}
