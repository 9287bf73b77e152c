import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tar from "tar";
import { type BuildUser, runChild } from "./child.js";
import { BuildFailure } from "./failure.js";

/** The most bytes an uploaded (gzipped) tarball may have. */
export const MAX_TARBALL_BYTES = 64 * 1024 * 1024;
/** The most bytes a tarball may unpack to: a small archive of zeros must not fill the disk. */
export const MAX_UNPACKED_BYTES = 1024 * 1024 * 1024;
/** The most entries a tarball may hold. */
const MAX_ENTRIES = 200_000;

export interface GitSourceSpec {
  /** https://, ssh:// or git@host:path; file:// and local paths only when allowed. */
  url: string;
  /** A branch, tag or commit; empty: the default branch. */
  ref?: string;
}

export interface SourceContext {
  /** Where the source goes (created by the caller, empty). */
  dest: string;
  /** A scratch folder for the tools' HOME. */
  home: string;
  signal: AbortSignal;
  log: (line: string) => void;
  /** The user git runs as; absent: this process's. */
  user?: BuildUser | undefined;
}

/** The URL with the password (or token) of its user info masked, for logs and messages. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/@\s]*)@/i, (_all, scheme: string, userinfo: string) => {
    const user = userinfo.split(":")[0] ?? "";
    return userinfo.includes(":") ? `${scheme}${user}:***@` : `${scheme}${userinfo}@`;
  });
}

/**
 * Why a git URL is refused, or undefined when it may be cloned. Accepted: https://, ssh:// and
 * scp-like `user@host:path`; file:// URLs and local paths only when `allowFileUrls`. Refused:
 * everything else, notably git's `<transport>::<address>` helpers (`ext::` runs a command) and
 * anything starting with `-`, which git would read as an option.
 */
export function gitUrlProblem(url: string, allowFileUrls: boolean): string | undefined {
  if (url === "") return "the git URL is empty";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\s\x00-\x1f\x7f]/.test(url)) return "the git URL is refused: it has spaces or control characters";
  if (url.startsWith("-")) return `the git URL ${JSON.stringify(url)} is refused: it starts with "-"`;
  const local = /^file:\/\//i.test(url) || url.startsWith("/") || url.startsWith("./") || url.startsWith("../");
  if (local) {
    if (!allowFileUrls) return `the git URL ${url} is refused: this builder does not clone file:// URLs or local paths`;
    return url.includes("::") ? `the git URL ${url} is refused` : undefined;
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === "https" || scheme === "ssh") {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return `the git URL ${redactUrl(url)} is not a valid URL`;
    }
    if (parsed.hostname === "" || parsed.hostname.startsWith("-") || parsed.username.startsWith("-"))
      return `the git URL ${redactUrl(url)} is refused: its host or user is not valid`;
    return undefined;
  }
  // scp-like syntax: user@host:path (no "::", which would name a transport helper).
  if (scheme === undefined && /^[A-Za-z0-9_][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9.-]*:(?![:/])[^\s:-][^\s]*$/.test(url))
    return undefined;
  return `the git URL ${redactUrl(url)} is refused: only https://, ssh:// and git@host:path URLs are accepted${allowFileUrls ? " (and file:// URLs)" : ""}`;
}

/** Why a ref is refused, or undefined. */
function refProblem(ref: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (ref.length > 256 || ref.startsWith("-") || /[\s\x00-\x1f\x7f]/.test(ref) || ref.includes(".."))
    return `ref ${JSON.stringify(ref)} is not a valid branch, tag or commit`;
  return undefined;
}

/**
 * The environment git runs with: none of this process's variables (credentials, proxies, git's
 * own GIT_* settings), no system or user config, never a prompt.
 */
function gitEnv(home: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    LC_ALL: "C",
    GIT_TERMINAL_PROMPT: "0",
    GIT_CONFIG_NOSYSTEM: "1",
    // Only what gitConfigFile writes: none of this machine's git settings apply.
    GIT_CONFIG_GLOBAL: path.join(home, ".gitconfig"),
    GIT_SSH_COMMAND: "ssh -o BatchMode=yes",
  };
}

/**
 * git's whole configuration besides the command line's: a local repository may belong to another
 * user than the one git runs as (a build user's clone of it), which git refuses unless told (and
 * git before 2.46 reads safe.directory only from a global file, not from -c).
 */
const GIT_CONFIG_FILE = "[safe]\n\tdirectory = *\n";

/** Options before git's subcommand: only the transports accepted above, never `ext::`. */
function gitConfig(allowFileUrls: boolean): string[] {
  return [
    "-c",
    "protocol.allow=never",
    "-c",
    "protocol.ext.allow=never",
    "-c",
    "protocol.https.allow=always",
    "-c",
    "protocol.ssh.allow=always",
    "-c",
    `protocol.file.allow=${allowFileUrls ? "always" : "never"}`,
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "advice.detachedHead=false",
  ];
}

/**
 * Clones `spec.url` into `ctx.dest` and checks out `spec.ref` (detached). Returns the commit
 * checked out. A ref that is no branch, tag or commit of the repository fails the build with
 * "ref X does not exist in URL".
 */
export async function cloneGit(spec: GitSourceSpec, allowFileUrls: boolean, ctx: SourceContext): Promise<string> {
  const problem = gitUrlProblem(spec.url, allowFileUrls);
  if (problem) throw new BuildFailure(problem);
  const ref = spec.ref ?? "";
  const refIssue = ref === "" ? undefined : refProblem(ref);
  if (refIssue) throw new BuildFailure(refIssue);
  const shown = redactUrl(spec.url);
  const secret = shown === spec.url ? undefined : spec.url;
  const mask = (line: string) => (secret ? line.split(secret).join(shown) : line);
  const git = async (args: string[], cwd: string, logOutput: boolean) =>
    runChild("git", [...gitConfig(allowFileUrls), ...args], {
      cwd,
      env: gitEnv(ctx.home),
      signal: ctx.signal,
      onLine: logOutput ? (line) => ctx.log(mask(line)) : undefined,
      user: ctx.user,
    });

  await writeFile(path.join(ctx.home, ".gitconfig"), GIT_CONFIG_FILE);
  ctx.log(`cloning ${shown} at ${ref === "" ? "its default branch" : ref}`);
  await mkdir(path.dirname(ctx.dest), { recursive: true });
  const clone = await git(["clone", "--no-checkout", "--", spec.url, ctx.dest], path.dirname(ctx.dest), true);
  if (clone.code !== 0) {
    const last = clone.stderrLines.at(-1);
    throw new BuildFailure(`git clone of ${shown} failed${last ? `: ${mask(last)}` : ""}`);
  }
  const resolve = async (candidate: string): Promise<string | undefined> => {
    const res = await git(["rev-parse", "--verify", "--quiet", `${candidate}^{commit}`], ctx.dest, false);
    const sha = res.stdout.trim();
    return res.code === 0 && /^[0-9a-f]{40,64}$/.test(sha) ? sha : undefined;
  };
  let commit: string | undefined;
  if (ref === "") {
    commit = await resolve("HEAD");
    if (!commit) throw new BuildFailure(`the repository ${shown} has no commits`);
  } else {
    // Branches exist as origin's after a clone; then tags; then anything rev-parse takes (a commit).
    const branch = ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : ref;
    for (const candidate of [`refs/remotes/origin/${branch}`, `refs/tags/${ref}`, ref]) {
      commit = await resolve(candidate);
      if (commit) break;
    }
    if (!commit) throw new BuildFailure(`ref ${ref} does not exist in ${shown}`);
  }
  const checkout = await git(["checkout", "--quiet", "--force", "--detach", commit], ctx.dest, true);
  if (checkout.code !== 0)
    throw new BuildFailure(`git checkout of ${commit} failed: ${checkout.stderrLines.at(-1) ?? "no reason given"}`);
  const head = (await git(["rev-parse", "HEAD"], ctx.dest, false)).stdout.trim();
  ctx.log(`checked out commit ${head}`);
  return head;
}

/** Where an archive entry's path points, relative to the root: undefined when it leaves it. */
function insideRoot(relative: string): string | undefined {
  if (relative === "" || path.posix.isAbsolute(relative) || /^[A-Za-z]:/.test(relative) || relative.includes("\\"))
    return undefined;
  const normal = path.posix.normalize(relative);
  return normal === ".." || normal.startsWith("../") ? undefined : normal;
}

/**
 * Unpacks a gzipped tarball into `ctx.dest`. Refuses the whole archive when an entry's path is
 * absolute or climbs out with `..`, when a link points outside, or when it is too large once
 * unpacked; devices and FIFOs are skipped. Owners in the archive are not applied.
 */
export async function extractTarball(data: Uint8Array, ctx: SourceContext): Promise<void> {
  if (data.byteLength === 0) throw new BuildFailure("the tarball is empty");
  if (data.byteLength > MAX_TARBALL_BYTES)
    throw new BuildFailure(`the tarball has ${data.byteLength} bytes, more than the ${MAX_TARBALL_BYTES} allowed`);
  ctx.log(`extracting the uploaded tarball (${data.byteLength} bytes)`);
  await mkdir(ctx.dest, { recursive: true });
  let refused: string | undefined;
  let bytes = 0;
  let entries = 0;
  const unpack = tar.x({
    cwd: ctx.dest,
    strict: true,
    preservePaths: false,
    preserveOwner: false,
    filter: (entryPath, entry) => {
      if (refused) return false;
      const stat = entry as tar.ReadEntry;
      const type = stat.type;
      const refuse = (why: string) => {
        refused = why;
        unpack.abort(new Error(why));
        return false;
      };
      if (++entries > MAX_ENTRIES) return refuse(`the tarball has more than ${MAX_ENTRIES} entries`);
      const relative = entryPath.replace(/^(\.\/)+/, "");
      if (relative === "" || relative === ".") return type === "Directory";
      const where = insideRoot(relative);
      if (where === undefined) return refuse(`the tarball's entry ${JSON.stringify(entryPath)} is outside the project`);
      bytes += stat.size ?? 0;
      if (bytes > MAX_UNPACKED_BYTES) return refuse(`the tarball unpacks to more than ${MAX_UNPACKED_BYTES} bytes`);
      if (type === "SymbolicLink" || type === "Link") {
        const target = stat.linkpath ?? "";
        const resolved =
          type === "SymbolicLink" && !path.posix.isAbsolute(target) ? path.posix.join(path.posix.dirname(where), target) : target;
        if (insideRoot(resolved.replace(/^(\.\/)+/, "")) === undefined)
          return refuse(`the tarball's link ${JSON.stringify(entryPath)} points outside the project (${JSON.stringify(target)})`);
        return true;
      }
      return type === "File" || type === "OldFile" || type === "ContiguousFile" || type === "Directory";
    },
  });
  try {
    await pipeline(Readable.from([Buffer.from(data.buffer, data.byteOffset, data.byteLength)]), unpack, { signal: ctx.signal });
  } catch (err) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    throw new BuildFailure(refused ?? `the tarball cannot be unpacked: ${(err as Error).message}`);
  }
  if (refused) throw new BuildFailure(refused);
}
