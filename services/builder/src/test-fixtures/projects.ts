import { execFile } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** A fresh temp folder. */
export const tempDir = (prefix: string) => mkdtemp(path.join(os.tmpdir(), `langopen-builder-${prefix}-`));

/** Runs git in `dir` with a fixed identity and no user config. */
export async function git(dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec(
    "git",
    ["-c", "user.email=dev@example.com", "-c", "user.name=Dev", "-c", "init.defaultBranch=main", ...args],
    {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, GIT_CONFIG_NOSYSTEM: "1" },
    },
  );
  return stdout.trim();
}

/** Writes files (relative path to content; objects as JSON) under `dir`. */
export async function writeFiles(dir: string, files: Record<string, string | object>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, typeof content === "string" ? content : `${JSON.stringify(content, null, 2)}\n`);
  }
}

/** Commits everything in `dir` (a repository made by makeRepo). */
export async function commitAll(dir: string, message: string): Promise<string> {
  await git(dir, "add", "-A");
  await git(dir, "commit", "-q", "-m", message);
  return git(dir, "rev-parse", "HEAD");
}

/** A git repository on branch main with `files` committed; returns its file:// URL. */
export async function makeRepo(dir: string, files: Record<string, string | object>): Promise<string> {
  await writeFiles(dir, files);
  await git(dir, "init", "-q", "-b", "main");
  await commitAll(dir, "first");
  return `file://${dir}`;
}

export const graphFile = (name: string) => `export const graph = { name: ${JSON.stringify(name)} };\n`;

/** A project of two graphs and no dependencies: installs offline in a moment. */
export const simpleProject = (version = "v1"): Record<string, string | object> => ({
  "package.json": { name: "simple-agent", version: "1.0.0", type: "module" },
  "langgraph.json": { graphs: { agent: "./src/agent.mjs:graph", helper: "./src/helper.mjs:graph" } },
  "src/agent.mjs": graphFile(`agent ${version}`),
  "src/helper.mjs": graphFile(`helper ${version}`),
});

/**
 * A project with one dependency, `tiny` (a package folder inside the project, `file:` in
 * package.json), locked in a package-lock.json made by npm itself, offline.
 */
export async function makeLockedProject(dir: string): Promise<string> {
  await writeFiles(dir, {
    "vendor/tiny/package.json": { name: "tiny", version: "2.3.4", type: "module", main: "index.js" },
    "vendor/tiny/index.js": "export const tiny = 1;\n",
    "package.json": { name: "locked-agent", version: "0.2.0", type: "module", dependencies: { tiny: "file:vendor/tiny" } },
    "langgraph.json": { graphs: { agent: "./agent.mjs:graph" } },
    "agent.mjs": graphFile("locked"),
    ".gitignore": "node_modules\n",
  });
  await exec("npm", ["install", "--ignore-scripts", "--offline", "--no-audit", "--no-fund", "--silent"], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: dir, npm_config_cache: path.join(dir, ".npm-cache") },
  });
  await writeFiles(dir, { ".gitignore": "node_modules\n.npm-cache\n" });
  await git(dir, "init", "-q", "-b", "main");
  await commitAll(dir, "first");
  return `file://${dir}`;
}
