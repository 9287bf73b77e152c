import { access, lstat, readFile } from "node:fs/promises";
import path from "node:path";
import { type BuildUser, runChild } from "./child.js";
import { BuildFailure, type Defect } from "./failure.js";

export interface InstallContext {
  /** The folder of the project's package.json. */
  projectDir: string;
  /** Where the project's files are shown from in messages (the source's root). */
  sourceDir: string;
  /** A scratch folder: npm's HOME, and its cache when no shared one is given. */
  home: string;
  /** A shared npm cache (a warm one makes installs fast and mostly offline). */
  npmCache?: string | undefined;
  signal: AbortSignal;
  log: (line: string) => void;
  /** The user npm runs as; absent: this process's. */
  user?: BuildUser | undefined;
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

/** One package of npm's lockfile `packages` map. */
export interface LockedPackage {
  name?: string;
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  optional?: boolean;
}

/** The `packages` of the installed tree: npm's hidden lockfile, else the project's lockfile. */
export async function installedPackages(projectDir: string): Promise<Record<string, LockedPackage>> {
  for (const file of [path.join(projectDir, "node_modules", ".package-lock.json"), path.join(projectDir, "package-lock.json")]) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      continue;
    }
    const parsed = JSON.parse(text) as { packages?: Record<string, LockedPackage> };
    if (parsed.packages && typeof parsed.packages === "object") return parsed.packages;
  }
  return {};
}

/**
 * What npm reads or writes besides the sources, and the builder's own output: none may be a link,
 * or the install (and the SBOM) could read or write outside the work folder.
 */
const NOT_LINKS = ["package.json", "package-lock.json", "npm-shrinkwrap.json", "node_modules", ".npmrc", ".langopen"];

async function refuseLinks(ctx: InstallContext): Promise<void> {
  const defects = [];
  for (const name of NOT_LINKS) {
    const file = path.join(ctx.projectDir, name);
    const isLink = await lstat(file).then(
      (s) => s.isSymbolicLink(),
      () => false,
    );
    if (isLink)
      defects.push({
        file: path.relative(ctx.sourceDir, file),
        line: 0,
        message: "is a symbolic link, which the builder does not follow",
      });
  }
  if (defects.length > 0) throw new BuildFailure(`${defects.map((d) => d.file).join(", ")} may not be a symbolic link`, defects);
}

const DEPENDENCY_FIELDS = ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies"] as const;

/** The path a local dependency spec names (`file:x`, `link:x`, `./x`, `../x`, `/x`, `~/x`); undefined for a registry, git or URL spec. */
function localPathOf(spec: string): string | undefined {
  const bare = spec.replace(/^(file|link):/i, "");
  if (bare !== spec || /^(\.{1,2}\/|\/|~\/)/.test(spec)) return bare.replace(/^\/\/(?=\/)/, "");
  return undefined;
}

/**
 * Refuses what would make npm read this machine's files beyond the source: a dependency on a local
 * path outside it (another deployment's bundle, the platform's keys), in package.json or in the
 * lockfile's `resolved`, and a git dependency cloned from this machine (`git+file:`).
 */
async function refuseLocalSpecsOutside(ctx: InstallContext, packageJson: string): Promise<void> {
  const defects: Defect[] = [];
  const shown = path.relative(ctx.sourceDir, packageJson) || "package.json";
  const text = await readFile(packageJson, "utf8");
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return; // npm reports an unreadable package.json itself, with its reason.
  }
  const lineOf = (needle: string) => {
    const at = text.indexOf(needle);
    return at === -1 ? 0 : text.slice(0, at).split("\n").length;
  };
  const check = (where: string, line: number, name: string, spec: string) => {
    if (/^git\+file:/i.test(spec)) {
      defects.push({
        file: where,
        line,
        message: `dependency "${name}" (${spec}) is a git repository of this machine, which the builder does not clone`,
      });
      return;
    }
    const local = localPathOf(spec);
    if (local === undefined) return;
    const target = path.resolve(ctx.projectDir, local.replace(/^~(?=\/)/, ctx.home));
    const rel = path.relative(ctx.sourceDir, target);
    if (rel.startsWith("..") || path.isAbsolute(rel) || local.startsWith("~/"))
      defects.push({ file: where, line, message: `dependency "${name}" (${spec}) is outside the source` });
  };
  for (const field of DEPENDENCY_FIELDS) {
    const deps = manifest[field];
    if (deps === null || typeof deps !== "object") continue;
    for (const [name, spec] of Object.entries(deps as Record<string, unknown>))
      if (typeof spec === "string") check(shown, lineOf(`"${name}"`), name, spec);
  }
  for (const lockName of ["package-lock.json", "npm-shrinkwrap.json"]) {
    const lockFile = path.join(ctx.projectDir, lockName);
    let lockText: string;
    try {
      lockText = await readFile(lockFile, "utf8");
    } catch {
      continue;
    }
    let packages: Record<string, LockedPackage> | undefined;
    try {
      packages = (JSON.parse(lockText) as { packages?: Record<string, LockedPackage> }).packages;
    } catch {
      continue; // npm ci reports a broken lockfile itself.
    }
    const where = path.relative(ctx.sourceDir, lockFile);
    for (const [key, entry] of Object.entries(packages ?? {})) {
      if (entry === null || typeof entry !== "object" || typeof entry.resolved !== "string") continue;
      const name = key.slice(key.lastIndexOf("node_modules/") + (key.includes("node_modules/") ? "node_modules/".length : 0));
      const spec = entry.link && localPathOf(entry.resolved) === undefined ? `file:${entry.resolved}` : entry.resolved;
      const line = lockText.indexOf(`"${key}"`) === -1 ? 0 : lockText.slice(0, lockText.indexOf(`"${key}"`)).split("\n").length;
      check(where, line, name || key, spec);
    }
  }
  if (defects.length > 0)
    throw new BuildFailure(
      `${defects.length === 1 ? "a dependency lies" : `${defects.length} dependencies lie`} outside the source`,
      defects,
    );
}

/** The npm error line worth showing: the first that says something, else the last line. */
function npmReason(lines: string[]): string {
  const said = lines
    .filter((l) => /^npm (error|ERR!) /.test(l))
    .map((l) => l.replace(/^npm (error|ERR!) /, ""))
    .filter((l) => !/^(code|syscall|path|errno|A complete log of this run)\b/.test(l) && l.trim().split(/\s+/).length > 1);
  return said[0] ?? lines.at(-1) ?? "npm gave no reason";
}

/**
 * Installs the project's dependencies: `npm ci` from its package-lock.json, else `npm install`.
 * Install scripts (preinstall, install, postinstall, prepare) are the project's code and are not
 * run: the builder runs no user code. npm gets a scrubbed environment (PATH, a scratch HOME, its
 * cache) so nothing of the platform's reaches a registry or a script. Does nothing without a
 * package.json.
 */
export async function installDependencies(ctx: InstallContext): Promise<void> {
  const shown = (p: string) => path.relative(ctx.sourceDir, p) || ".";
  await refuseLinks(ctx);
  const packageJson = path.join(ctx.projectDir, "package.json");
  if (!(await exists(packageJson))) {
    ctx.log(`no ${shown(packageJson)}: no dependencies to install`);
    return;
  }
  await refuseLocalSpecsOutside(ctx, packageJson);
  const locked =
    (await exists(path.join(ctx.projectDir, "package-lock.json"))) ||
    (await exists(path.join(ctx.projectDir, "npm-shrinkwrap.json")));
  const command = locked ? "ci" : "install";
  const cache = ctx.npmCache ?? path.join(ctx.home, ".npm");
  const args = [
    command,
    "--ignore-scripts",
    "--no-audit",
    "--no-fund",
    "--no-update-notifier",
    "--no-color",
    // A project's .npmrc could name another program as git; the command line wins over it.
    "--git=git",
    ...(ctx.npmCache !== undefined ? ["--prefer-offline", "--cache", ctx.npmCache] : []),
  ];
  ctx.log(`installing dependencies (npm ${command}${locked ? ", from the lockfile" : ""}; install scripts are not run)`);
  const res = await runChild("npm", args, {
    cwd: ctx.projectDir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: ctx.home, npm_config_cache: cache },
    signal: ctx.signal,
    onLine: (line) => ctx.log(line),
    user: ctx.user,
  });
  const defect = { file: shown(packageJson), line: 0 };
  if (res.code !== 0) {
    const reason = npmReason(res.stderrLines).split(`${ctx.sourceDir}${path.sep}`).join("");
    throw new BuildFailure(`dependencies did not install: ${reason}`, [
      { ...defect, message: `npm ${command} failed: ${reason}` },
    ]);
  }
  // npm links a `file:` dependency to its folder even when the folder does not exist.
  const broken: string[] = [];
  for (const [key, entry] of Object.entries(await installedPackages(ctx.projectDir))) {
    if (!entry.link || typeof entry.resolved !== "string") continue;
    const name = key.slice(key.lastIndexOf("node_modules/") + "node_modules/".length);
    const target = path.resolve(ctx.projectDir, entry.resolved);
    const rel = path.relative(ctx.sourceDir, target);
    if (rel.startsWith("..") || path.isAbsolute(rel)) broken.push(`${name} (${entry.resolved}, outside the source)`);
    else if (!(await exists(path.join(target, "package.json")))) broken.push(`${name} (${entry.resolved})`);
  }
  if (broken.length > 0) {
    const reason = `linked ${broken.length === 1 ? "package" : "packages"} not found: ${broken.join(", ")}`;
    throw new BuildFailure(`dependencies did not install: ${reason}`, [{ ...defect, message: reason }]);
  }
  ctx.log("dependencies installed");
}
