import type { KeyObject } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type BundleSignature, signatureFileOf, writeBundle } from "@langopen/common";
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
    const ctx = { dest: sourceDir, home, signal, log };
    if ("git" in spec.source) result.commitSha = await cloneGit(spec.source.git, options.allowFileUrls ?? false, ctx);
    else await extractTarball(spec.source.tarball, ctx);
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

    await installDependencies({ projectDir: check.projectDir, sourceDir, home, npmCache: options.npmCache, signal, log });
    checkpoint();

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
