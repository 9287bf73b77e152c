import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** Runs git in `dir` with a fixed identity (no global config needed). */
export async function git(dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec("git", ["-c", "user.email=dev@example.com", "-c", "user.name=Dev", ...args], { cwd: dir });
  return stdout.trim();
}

/**
 * A project's graph: answers `hello <text>` through a dependency installed from the project's
 * lockfile, says which version of the code ran and what its secret is, and waits `sleep_ms`.
 */
export const graphSource = (version: string, name: string) => `
import { Annotation, StateGraph } from "@langchain/langgraph";
import { greet } from "greeting";
const State = Annotation.Root({
  text: Annotation(),
  sleep_ms: Annotation(),
  reply: Annotation(),
  version: Annotation(),
  secret: Annotation(),
});
export const graph = new StateGraph(State)
  .addNode("answer", async (s) => {
    if (s.sleep_ms) await new Promise((r) => setTimeout(r, s.sleep_ms));
    return { reply: greet(s.text ?? "") + " from ${name}", version: ${JSON.stringify(version)}, secret: process.env.SECRET_TOKEN ?? "" };
  })
  .addEdge("__start__", "answer")
  .compile();
`;

/**
 * A git repository with a langgraph.json of two graphs (`echo`, `shout`) and a dependency
 * (`greeting`, a package tarball inside the repository) locked in package-lock.json.
 */
export async function makeProjectRepo(dir: string): Promise<string> {
  await mkdir(path.join(dir, "src"), { recursive: true });
  await mkdir(path.join(dir, "vendor", "greeting"), { recursive: true });
  await writeFile(
    path.join(dir, "vendor", "greeting", "package.json"),
    JSON.stringify({ name: "greeting", version: "1.0.0", type: "module", main: "index.js" }),
  );
  await writeFile(path.join(dir, "vendor", "greeting", "index.js"), 'export const greet = (t) => "hello " + t;\n');
  await exec("npm", ["pack", "--silent", "--pack-destination", path.join(dir, "vendor")], {
    cwd: path.join(dir, "vendor", "greeting"),
  });
  await writeFile(
    path.join(dir, "package.json"),
    JSON.stringify(
      { name: "support-bot", version: "1.0.0", type: "module", dependencies: { greeting: "file:vendor/greeting-1.0.0.tgz" } },
      null,
      2,
    ),
  );
  await writeFile(
    path.join(dir, "langgraph.json"),
    JSON.stringify({ graphs: { echo: "./src/echo.mjs:graph", shout: "./src/shout.mjs:graph" } }, null, 2),
  );
  await writeFile(path.join(dir, "src", "echo.mjs"), graphSource("v1", "echo"));
  await writeFile(path.join(dir, "src", "shout.mjs"), graphSource("v1", "shout"));
  await writeFile(path.join(dir, ".gitignore"), "node_modules\n");
  await exec("npm", ["install", "--ignore-scripts", "--offline", "--no-audit", "--no-fund", "--silent"], { cwd: dir });
  await git(dir, "init", "-q", "-b", "main");
  await git(dir, "add", "-A");
  await git(dir, "commit", "-q", "-m", "first");
  return `file://${dir}`;
}

/** A new commit on main changing what the graphs say their version is. */
export async function pushVersion(dir: string, version: string): Promise<void> {
  await writeFile(path.join(dir, "src", "echo.mjs"), graphSource(version, "echo"));
  await writeFile(path.join(dir, "src", "shout.mjs"), graphSource(version, "shout"));
  await git(dir, "commit", "-q", "-am", version);
}
