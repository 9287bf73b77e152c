#!/usr/bin/env node
// Builds the portal (portal/ -> portal/dist, served by the gateway at /portal/): type-checks it,
// bundles it with vite, and prints the size of each asset. Fails when the JavaScript is over
// the budget gzipped. Skips everything when portal/dist is newer than every input, so that
// `npm run build` (and so `npm start`) stays quick when only the servers changed; `--force`
// builds all the same.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PORTAL = path.join(ROOT, "portal");
const DIST = path.join(PORTAL, "dist");
/** What a user downloads before the app shows anything, gzipped. */
const JS_BUDGET_BYTES = 500 * 1024;
const INPUTS = [
  "portal/src",
  "portal/public",
  "portal/index.html",
  "portal/vite.config.ts",
  "portal/tsconfig.json",
  "portal/package.json",
  "gen/es",
];

/** Newest modification time among the files under `target` (0 when it does not exist). */
function newestMtime(target) {
  let stat;
  try {
    stat = statSync(target);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(target, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** When the last build finished: index.html is written last of all. */
function builtAt() {
  try {
    return statSync(path.join(DIST, "index.html")).mtimeMs;
  } catch {
    return 0;
  }
}

function kB(bytes) {
  return `${(bytes / 1024).toFixed(1)} kB`;
}

const inputsChanged = Math.max(...INPUTS.map((input) => newestMtime(path.join(ROOT, input))));
if (!process.argv.includes("--force") && builtAt() > inputsChanged) {
  console.log("portal: up to date (portal/dist is newer than its sources)");
  process.exit(0);
}

const require = createRequire(import.meta.url);
const tsc = spawnSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", path.join(PORTAL, "tsconfig.json")], {
  cwd: ROOT,
  stdio: "inherit",
});
if (tsc.status !== 0) {
  console.error("portal: type check failed");
  process.exit(1);
}

const { build } = await import("vite");
await build({ configFile: path.join(PORTAL, "vite.config.ts"), logLevel: "warn" });

const assets = readdirSync(path.join(DIST, "assets"))
  .filter((name) => name.endsWith(".js") || name.endsWith(".css"))
  .sort();
let jsGzip = 0;
for (const name of assets) {
  const bytes = readFileSync(path.join(DIST, "assets", name));
  const gzip = gzipSync(bytes, { level: 9 }).length;
  if (name.endsWith(".js")) jsGzip += gzip;
  console.log(`portal: ${`assets/${name}`.padEnd(40)} ${kB(bytes.length).padStart(10)}  gzip ${kB(gzip).padStart(9)}`);
}
console.log(`portal: JavaScript ${kB(jsGzip)} gzipped (budget ${kB(JS_BUDGET_BYTES)})`);
if (jsGzip > JS_BUDGET_BYTES) {
  console.error("portal: the JavaScript is over its budget");
  process.exit(1);
}
