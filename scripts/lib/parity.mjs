// The comparison behind the API parity check (scripts/check-parity.mjs) and the parity smoke script
// (scripts/parity-smoke): a served OpenAPI description against the upstream contract kept in
// scripts/upstream/contract.json, operation by operation (method and path, path parameter names
// ignored, a trailing slash ignored) and, for the operations both have, the property names of the
// JSON request body (references resolved, nested objects one level down).
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** Where the upstream contract is kept. */
export const DEFAULT_CONTRACT = path.join(ROOT, "scripts/upstream/contract.json");

/** `/threads/{thread_id}/runs/` -> `/threads/{}/runs`. */
export function normalisePath(p) {
  const named = p.replace(/\{[^}]+\}/g, "{}");
  return named.length > 1 ? named.replace(/\/+$/, "") : named;
}

/** Every operation of a document, keyed `METHOD normalised-path`. */
export function operations(doc) {
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
export function bodyFields(doc, op) {
  const schema = op.requestBody && deref(doc, op.requestBody).content?.["application/json"]?.schema;
  if (!schema) return undefined;
  const fields = new Set();
  for (const [name, child] of propertiesOf(doc, schema)) {
    fields.add(name);
    for (const nested of propertiesOf(doc, child).keys()) fields.add(`${name}.${nested}`);
  }
  return fields;
}

/** The facts of an OpenAPI document that parity compares: each operation and its body fields. */
export function contractOf(doc) {
  return [...operations(doc)].map(([, { path: p, method, op }]) => ({
    method,
    path: p,
    tag: op.tags?.[0] ?? "",
    body_fields: bodyFields(doc, op) ? [...bodyFields(doc, op)].sort() : null,
  }));
}

/**
 * GET /openapi.json of a server (with `x-api-key` when a key is given: a server may guard its
 * description). Throws when it does not answer 200 with JSON.
 */
export async function fetchServed(url, { apiKey, signal } = {}) {
  const target = new URL("/openapi.json", url);
  const res = await fetch(target, { headers: apiKey ? { "x-api-key": apiKey } : {}, signal });
  if (!res.ok) throw new Error(`GET ${target} answered ${res.status}`);
  return res.json();
}

/**
 * A served document against the contract: `rows` (each upstream operation, present or not),
 * `present` of `total` operations, `missingFields` (request-body fields of present operations the
 * served description lacks) and `extras` (operations served beyond upstream).
 */
export function compare(contract, served) {
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
  return { rows, present, total: upstreamOps.size, missingFields, extras };
}
