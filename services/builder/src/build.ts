import type { KeyObject } from "node:crypto";
import { chown, lchown, mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type BundleSignature, signatureFileOf, unreadableBy, writeBundle } from "@langopen/common";
import type { BuildUser } from "./child.js";
import { BuildFailure, type Defect, formatDefect } from "./failure.js";
import { installDependencies } from "./install.js";
import { writeSbom } from "./sbom.js";
import { cloneGit, extractTarball, type GitSourceSpec } from "./source.js";
import { checkProject, DEFAULT_CONFIG_PATH } from "./validate.js";

/** How a build ended. */
export type BuildOutcome = "SUCCEEDED" | "FAILED" | "CANCELLED" | "TIMED_OUT";

/** What is built: a git repository at a ref, or a gzipped tarball of the project. */
export type BuildSource = { git: GitSourceSpec } | { tarball: Uint8Array };

export interface BuildSpec {
  source: BuildSource;
  /** The langgraph.json inside the source; empty or absent: "langgraph.json". */
  configPath?: string;
}

export interface BuildOptions {
  /** Where bundles are written (content-addressed: `sha256-<hex>.tgz` and its `.sig`). */
  bundleDir: string;
  /** The platform's Ed25519 key, which signs each bundle's digest. */
  signingKey: KeyObject;
  /** Every step, as a human-readable line (tools' output included). */
  log: (line: string) => void;
  /** Where the build's work folder is made (and always removed); default: the system's temp folder. */
  workRoot?: string;
  /** Whether file:// URLs and local paths may be cloned (a single machine's platform). Default: false. */
  allowFileUrls?: boolean;
  /** A shared npm cache; absent: a scratch one per build. */
  npmCache?: string | undefined;
  /** Aborting kills what runs (git, npm) and ends the build CANCELLED. */
  signal?: AbortSignal;
  /** The build's time limit; past it, it ends TIMED_OUT. Absent: none. */
  timeoutMs?: number;
  /**
   * The unprivileged user git and npm run as (this process must be root): they then cannot read
   * the platform's keys, bundles or other builds. When the source (a local repository) or the
   * npm cache is out of that user's reach, the build runs them as this process's user and its
   * log says why. Absent: this process's user.
   */
  user?: BuildUser;
}

export interface BuildResult {
  status: BuildOutcome;
  /** Why it did not succeed, in one sentence; empty when it did. */
  message: string;
  defects: Defect[];
  /** The commit built (git sources); empty otherwise. */
  commitSha: string;
  /** `sha256:<hex>` of the bundle, once written. */
  bundleDigest: string;
  /** Ed25519 signature of the digest, base64 (from the bundle's `.sig` file). */
  bundleSignature: string;
  /** The bundle's path. */
  bundleFile: string;
  /** The graph ids of the project's langgraph.json. */
  graphIds: string[];
  /** Its `egress`, normalized ("api.openai.com:443"); empty: none declared (or the build failed before it was read). */
  egress: string[];
  /** Components of the bundle's CycloneDX SBOM. */
  sbomComponents: number;
}

/** Why the build was stopped from outside (cancelled, out of time). */
class Stopped extends Error {
  constructor(
    readonly status: "CANCELLED" | "TIMED_OUT",
    message: string,
  ) {
    super(message);
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * Builds a revision bundle: fetches the source (clone + checkout, or unpack), checks its
 * langgraph.json (every defect found is reported, with its line), installs its dependencies
 * (from the lockfile; install scripts not run), writes a CycloneDX SBOM into it, then archives
 * and signs it with writeBundle. Never throws: the result says how it ended. The work folder is
 * removed whatever happens.
 */
export async function runBuild(spec: BuildSpec, options: BuildOptions): Promise<BuildResult> {
  const { log } = options;
  const controller = new AbortController();
  const onAbort = () => controller.abort(new Stopped("CANCELLED", "the build was cancelled"));
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener("abort", onAbort, { once: true });
  const { timeoutMs } = options;
  const limit = timeoutMs !== undefined && timeoutMs < 10_000 ? `${timeoutMs} ms` : `${Math.round((timeoutMs ?? 0) / 1000)} s`;
  const timer =
    timeoutMs !== undefined
      ? setTimeout(() => controller.abort(new Stopped("TIMED_OUT", `the build ran past its time limit (${limit})`)), timeoutMs)
      : undefined;
  const signal = controller.signal;
  const checkpoint = () => {
    if (signal.aborted) throw signal.reason;
  };
  const result: BuildResult = {
    status: "FAILED",
    message: "",
    defects: [],
    commitSha: "",
    bundleDigest: "",
    bundleSignature: "",
    bundleFile: "",
    graphIds: [],
    egress: [],
    sbomComponents: 0,
  };
  const workRoot = options.workRoot ?? os.tmpdir();
  let work: string | undefined;
  try {
    await mkdir(workRoot, { recursive: true });
    work = await mkdtemp(path.join(workRoot, "build-"));
    const sourceDir = path.join(work, "src");
    const home = path.join(work, "home");
    await mkdir(home);
    let user = options.user;
    if (user) {
      await chown(work, user.uid, user.gid);
      await chown(home, user.uid, user.gid);
      user = await reachableBy(user, work, spec, options);
    }
    const ctx = { dest: sourceDir, home, signal, log, user };
    if ("git" in spec.source) result.commitSha = await cloneGit(spec.source.git, options.allowFileUrls ?? false, ctx);
    else {
      await extractTarball(spec.source.tarball, ctx);
      if (user) await chownTree(sourceDir, user);
    }
    checkpoint();

    const configPath = spec.configPath || DEFAULT_CONFIG_PATH;
    log(`validating ${configPath}`);
    const check = await checkProject(sourceDir, configPath);
    result.graphIds = check.graphIds;
    if (check.defects.length > 0) {
      for (const defect of check.defects) log(formatDefect(defect));
      throw new BuildFailure(`${check.configPath} has ${plural(check.defects.length, "defect")}`, check.defects);
    }
    log(`graphs: ${check.graphIds.join(", ")}`);
    result.egress = check.egress;
    log(`egress: ${check.egress.join(", ") || "none declared"}`);

    await installDependencies({ projectDir: check.projectDir, sourceDir, home, npmCache: options.npmCache, signal, log, user });
    checkpoint();
    const installed = await stat(path.join(check.projectDir, "node_modules")).catch(() => undefined);
    if (installed) log(`node_modules written by uid ${installed.uid}`);

    const sbom = await writeSbom(check.projectDir);
    result.sbomComponents = sbom.components;
    log(`wrote the SBOM ${path.relative(sourceDir, sbom.file)} (CycloneDX, ${plural(sbom.components, "component")})`);
    checkpoint();

    log("archiving the project into a bundle");
    const bundle = await writeBundle(sourceDir, options.bundleDir, options.signingKey);
    const signature = JSON.parse(await readFile(signatureFileOf(bundle.file), "utf8")) as BundleSignature;
    checkpoint();
    Object.assign(result, {
      status: "SUCCEEDED",
      bundleDigest: bundle.digest,
      bundleSignature: signature.signature,
      bundleFile: bundle.file,
    } satisfies Partial<BuildResult>);
    log(`bundle ${bundle.digest} signed (${bundle.size} bytes, key ${signature.key_id})`);
    return result;
  } catch (err) {
    if (signal.aborted && signal.reason instanceof Stopped) {
      result.status = signal.reason.status;
      result.message = signal.reason.message;
    } else if (err instanceof BuildFailure) {
      result.status = "FAILED";
      result.message = err.message;
      result.defects = err.defects;
    } else {
      result.status = "FAILED";
      result.message = `the build failed: ${(err as Error).message ?? String(err)}`;
    }
    // A bundle written just before a stop is not this build's: the result names none.
    result.bundleDigest = "";
    result.bundleSignature = "";
    result.bundleFile = "";
    log(result.message);
    return result;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    if (work !== undefined) await rm(work, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * `user` when what the build's tools must reach is within its reach: the work folder (its
 * parents must let it through), a local repository (read)
 * and the npm cache (read and write; made for the user when it does not exist yet). Otherwise
 * undefined, and the log says why the tools run as this process's user.
 */
async function reachableBy(
  user: BuildUser,
  work: string,
  spec: BuildSpec,
  options: BuildOptions,
): Promise<BuildUser | undefined> {
  const { log } = options;
  const local = "git" in spec.source ? localRepository(spec.source.git.url) : undefined;
  let problem = await unreadableBy(user.uid, user.gid, local ? [work, local] : [work]);
  if (!problem && options.npmCache) {
    const made = await mkdir(options.npmCache, { recursive: true }).catch(() => undefined);
    if (made !== undefined) await chown(options.npmCache, user.uid, user.gid);
    problem = await unreadableBy(user.uid, user.gid, [options.npmCache], { write: true });
  }
  if (problem) {
    log(`git and npm run as this process's user: ${problem} is out of reach of uid ${user.uid} gid ${user.gid}`);
    return undefined;
  }
  log(`git and npm run as uid ${user.uid} gid ${user.gid}`);
  return user;
}

/** The folder of a file:// URL or a local path; undefined for a remote URL. */
function localRepository(url: string): string | undefined {
  if (/^file:\/\//i.test(url)) {
    try {
      return fileURLToPath(url);
    } catch {
      return undefined;
    }
  }
  return url.startsWith("/") ? url : undefined;
}

/** Gives `dir` and everything in it (links themselves, not their targets) to `user`. */
async function chownTree(dir: string, user: BuildUser): Promise<void> {
  await lchown(dir, user.uid, user.gid);
  for (const entry of await readdir(dir, { recursive: true })) await lchown(path.join(dir, entry), user.uid, user.gid);
}
