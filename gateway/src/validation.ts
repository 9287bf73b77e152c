import type { FastifySchemaCompiler } from "fastify";
import type { TSchema } from "typebox";
import { Compile } from "typebox/compile";
import { Value } from "typebox/value";

/**
 * A request that does not satisfy the public schema. The error handler answers 422 with the
 * message as the detail; the route handler (and so every RPC) never runs.
 */
export class RequestValidationError extends Error {
  readonly statusCode = 422;
  constructor(
    message: string,
    readonly validationContext: string,
  ) {
    super(message);
    this.name = "RequestValidationError";
  }
}

/** One validation failure as TypeBox reports it (the Ajv error shape). */
export interface SchemaError {
  keyword: string;
  schemaPath: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

type HttpPart = "body" | "querystring" | "params" | "headers";

/**
 * Compiles the TypeBox schemas of the public contract. Bodies are checked as sent (a JSON "5"
 * is not an integer); query strings and path parameters are strings on the wire, so they are
 * converted to the declared types first. Unknown properties are kept: the upstream schemas do
 * not forbid them and the SDKs send extra keys.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const compiled = Compile(schema);
  const part = (httpPart ?? "body") as HttpPart;
  return (value: unknown) => {
    const candidate = part === "body" ? value : Value.Convert(schema, value);
    if (compiled.Check(candidate)) return { value: candidate };
    const errors = [...compiled.Errors(candidate)] as SchemaError[];
    return { error: new RequestValidationError(describeErrors(schema, part, errors, candidate), part) };
  };
};

const MAX_REPORTED = 5;

/**
 * A short English sentence naming every offending field, e.g.
 * `Invalid body: 'limit' must be an integer from 1 to 1000; 'sort_by' must be one of ...`.
 */
export function describeErrors(root: unknown, part: HttpPart, errors: SchemaError[], value: unknown): string {
  const fragments: string[] = [];
  for (const error of collapseUnions(errors)) {
    if (part === "body" && error.instancePath === "" && error.keyword !== "required") {
      // The body as a whole is wrong: nothing else is worth saying.
      return value === null || value === undefined
        ? "Request body is required: send a JSON object"
        : "Request body must be a JSON object";
    }
    const fragment = describeOne(root, error);
    if (!fragments.includes(fragment)) fragments.push(fragment);
  }
  if (fragments.length === 0) return `Invalid ${partLabel(part)}`;
  const shown = fragments.slice(0, MAX_REPORTED);
  const more = fragments.length - shown.length;
  return `Invalid ${partLabel(part)}: ${shown.join("; ")}${more > 0 ? ` (and ${more} more)` : ""}`;
}

const ROOT_MISMATCH = new Set(["type", "const", "enum"]);

/**
 * A failed union reports one error per branch plus its own. When exactly one branch has the
 * value's shape (it failed deeper, not on the type), that branch's errors are the useful ones;
 * otherwise the union's own error is.
 */
export function collapseUnions(errors: SchemaError[]): SchemaError[] {
  const dropped = new Set<SchemaError>();
  const unions = errors
    .filter((e) => e.keyword === "anyOf" || e.keyword === "oneOf")
    .sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  for (const union of unions) {
    if (dropped.has(union)) continue;
    const prefix = `${union.schemaPath}/${union.keyword}/`;
    const branches = new Map<string, SchemaError[]>();
    for (const e of errors) {
      if (dropped.has(e) || !e.schemaPath.startsWith(prefix)) continue;
      const branch = e.schemaPath.slice(prefix.length).split("/")[0] ?? "";
      branches.set(branch, [...(branches.get(branch) ?? []), e]);
    }
    const shaped = [...branches.values()].filter(
      (branchErrors) => !branchErrors.some((e) => e.instancePath === union.instancePath && ROOT_MISMATCH.has(e.keyword)),
    );
    const keep = shaped.length === 1 ? new Set(shaped[0]) : new Set<SchemaError>();
    if (shaped.length === 1) dropped.add(union);
    for (const branchErrors of branches.values()) for (const e of branchErrors) if (!keep.has(e)) dropped.add(e);
  }
  return errors.filter((e) => !dropped.has(e));
}

function describeOne(root: unknown, error: SchemaError): string {
  if (error.keyword === "required") {
    const names = Array.isArray(error.params.requiredProperties) ? (error.params.requiredProperties as unknown[]) : [];
    const fields = names.map((name) => `'${fieldName(error.instancePath, String(name))}'`);
    return `${fields.join(", ")} ${fields.length > 1 ? "are" : "is"} required`;
  }
  const field = fieldName(error.instancePath);
  const message = schemaMessage(root, error) ?? keywordMessage(error);
  return field === "" ? message : `'${field}' ${message}`;
}

function partLabel(part: HttpPart): string {
  switch (part) {
    case "body":
      return "body";
    case "querystring":
      return "query parameter";
    case "params":
      return "path parameter";
    case "headers":
      return "header";
  }
}

/** `/ttl/strategy` -> `ttl.strategy`, `/ids/2` -> `ids[2]`. */
export function fieldName(instancePath: string, child?: string): string {
  const segments = instancePath.split("/").slice(1);
  if (child !== undefined) segments.push(child);
  let out = "";
  for (const raw of segments) {
    const segment = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (/^\d+$/.test(segment)) out += `[${segment}]`;
    else out += out === "" ? segment : `.${segment}`;
  }
  return out;
}

/** The `errorMessage` a schema of ours carries for the failing node, if any. */
function schemaMessage(root: unknown, error: SchemaError): string | undefined {
  let node: unknown = root;
  for (const segment of error.schemaPath.replace(/^#\/?/, "").split("/")) {
    if (segment === "") continue;
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  if (node !== null && typeof node === "object") {
    const message = (node as Record<string, unknown>).errorMessage;
    if (typeof message === "string") return message;
  }
  return undefined;
}

const ARTICLE_TYPES: Record<string, string> = {
  object: "an object",
  array: "an array",
  string: "a string",
  integer: "an integer",
  number: "a number",
  boolean: "a boolean",
  null: "null",
};

function keywordMessage(error: SchemaError): string {
  const p = error.params;
  switch (error.keyword) {
    case "type":
      return `must be ${ARTICLE_TYPES[String(p.type)] ?? String(p.type)}`;
    case "enum":
      return `must be one of ${(Array.isArray(p.allowedValues) ? p.allowedValues : []).map((v) => JSON.stringify(v)).join(", ")}`;
    case "const":
      return `must be ${JSON.stringify(p.allowedValue)}`;
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return `must be ${String(p.comparison)} ${String(p.limit)}`;
    case "minLength":
      return p.limit === 1 ? "must not be empty" : `must have at least ${String(p.limit)} characters`;
    case "maxLength":
      return `must have at most ${String(p.limit)} characters`;
    case "minItems":
      return `must have at least ${String(p.limit)} items`;
    case "maxItems":
      return `must have at most ${String(p.limit)} items`;
    case "maxProperties":
      return `must have at most ${String(p.limit)} entries`;
    case "format":
      return p.format === "uuid" ? "must be a UUID" : `must be a valid ${String(p.format)}`;
    case "pattern":
      return "has an invalid format";
    case "anyOf":
    case "oneOf":
      return "has an invalid value";
    default:
      return error.message;
  }
}
