// Maps an assistant's input JSON schema to the fields of the run form, and the form's values
// back to the run's input. Only what a form can express is a field (strings, numbers, booleans,
// enums, a message list as one text box); anything else is a JSON field, and a schema that is
// not an object leaves the raw-JSON editor as the only way in.
import { isJsonObject } from "../../lib/json";

export type FieldKind = "string" | "number" | "integer" | "boolean" | "enum" | "messages" | "json";

export interface FormField {
  name: string;
  kind: FieldKind;
  label: string;
  required: boolean;
  description?: string;
  /** The allowed values of an enum field. */
  options?: unknown[];
  /** The schema's default, as the field starts. */
  defaultValue?: unknown;
  /** A JSON field whose schema allows any value: text that is not JSON is taken as a string. */
  anyValue?: boolean;
}

/** Every field's text, booleans as booleans; enums hold the JSON of the chosen option ("" for none). */
export type FormValues = Record<string, string | boolean>;

type Schema = Record<string, unknown>;

/** How many $refs and wrappers are followed before giving up (a schema can refer to itself). */
const MAX_RESOLVE_DEPTH = 16;

/** Follows local $refs (#/definitions/X, #/$defs/X) and unwraps "X or null" and single allOf. */
function resolve(schema: unknown, root: Schema, depth = 0): Schema {
  if (!isJsonObject(schema) || depth > MAX_RESOLVE_DEPTH) return {};
  const ref = schema.$ref;
  if (typeof ref === "string" && ref.startsWith("#/")) {
    let target: unknown = root;
    for (const part of ref.slice(2).split("/")) {
      const key = part.replaceAll("~1", "/").replaceAll("~0", "~");
      target = isJsonObject(target) ? target[key] : undefined;
    }
    return resolve({ ...(isJsonObject(target) ? target : {}), ...withoutKey(schema, "$ref") }, root, depth + 1);
  }
  for (const key of ["anyOf", "oneOf"] as const) {
    const options = schema[key];
    if (Array.isArray(options)) {
      const nonNull = options.filter((option) => !(isJsonObject(option) && option.type === "null"));
      if (nonNull.length === 1)
        return resolve({ ...withoutKey(schema, key), ...resolve(nonNull[0], root, depth + 1) }, root, depth + 1);
    }
  }
  const allOf = schema.allOf;
  if (Array.isArray(allOf) && allOf.length === 1) {
    return resolve({ ...withoutKey(schema, "allOf"), ...resolve(allOf[0], root, depth + 1) }, root, depth + 1);
  }
  if (Array.isArray(schema.type)) {
    const types = schema.type.filter((type) => type !== "null");
    if (types.length === 1) return { ...schema, type: types[0] };
  }
  return schema;
}

function withoutKey(schema: Schema, key: string): Schema {
  const { [key]: _removed, ...rest } = schema;
  return rest;
}

function kindOf(name: string, schema: Schema): FieldKind {
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return "enum";
  if (schema.const !== undefined) return "enum";
  // A message list: LangGraph's `messages` channel, whatever its items' schema says.
  if (name === "messages" && (schema.type === undefined || schema.type === "array")) return "messages";
  switch (schema.type) {
    case "string":
      return "string";
    case "number":
      return "number";
    case "integer":
      return "integer";
    case "boolean":
      return "boolean";
    default:
      return "json";
  }
}

/** A schema that says nothing of its values (as LangGraph gives untyped state channels). */
function isAnyValue(schema: Schema): boolean {
  return !["type", "properties", "items", "anyOf", "oneOf", "allOf", "$ref", "enum", "const"].some((key) => key in schema);
}

function humanLabel(name: string, schema: Schema): string {
  if (typeof schema.title === "string" && schema.title.trim() !== "") return schema.title;
  const words = name.replace(/[_-]+/g, " ").replace(/([a-z])([A-Z])/g, "$1 $2");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The form's fields for an input schema; undefined when the schema is not an object with properties. */
export function schemaFields(schema: unknown): FormField[] | undefined {
  if (!isJsonObject(schema)) return undefined;
  const root = resolve(schema, schema);
  if (!isJsonObject(root.properties)) return undefined;
  const required = new Set(Array.isArray(root.required) ? root.required : []);
  return Object.entries(root.properties).map(([name, raw]) => {
    const property = resolve(raw, schema);
    const kind = kindOf(name, property);
    const field: FormField = { name, kind, label: humanLabel(name, property), required: required.has(name) };
    if (typeof property.description === "string") field.description = property.description;
    if (kind === "enum") field.options = Array.isArray(property.enum) ? property.enum : [property.const];
    if (property.default !== undefined) field.defaultValue = property.default;
    if (kind === "json" && isAnyValue(property)) field.anyValue = true;
    return field;
  });
}

/** Whether the input takes a message list: the graph chats. */
export function hasMessagesInput(schema: unknown): boolean {
  return schemaFields(schema)?.some((field) => field.kind === "messages") ?? false;
}

/** The values a fresh form starts with: the schema's defaults, else empty. */
export function initialValues(fields: FormField[]): FormValues {
  const values: FormValues = {};
  for (const field of fields) {
    const fallback = field.defaultValue;
    switch (field.kind) {
      case "boolean":
        values[field.name] = fallback === true;
        break;
      case "enum":
        values[field.name] = fallback === undefined ? "" : JSON.stringify(fallback);
        break;
      case "string":
        values[field.name] = typeof fallback === "string" ? fallback : "";
        break;
      case "number":
      case "integer":
        values[field.name] = typeof fallback === "number" ? String(fallback) : "";
        break;
      case "messages":
        values[field.name] = "";
        break;
      default:
        values[field.name] = fallback === undefined ? "" : JSON.stringify(fallback, null, 2);
    }
  }
  return values;
}

export type BuiltInput = { ok: true; input: Record<string, unknown> } | { ok: false; errors: Record<string, string> };

/** The run's input from the form's values; empty optional fields are left out. */
export function buildInput(fields: FormField[], values: FormValues): BuiltInput {
  const input: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const value = values[field.name];
    if (field.kind === "boolean") {
      input[field.name] = value === true;
      continue;
    }
    const text = typeof value === "string" ? value : "";
    if (text.trim() === "" && !(field.kind === "string" && text !== "")) {
      if (field.required) errors[field.name] = "Required.";
      continue;
    }
    switch (field.kind) {
      case "string":
        input[field.name] = text;
        break;
      case "number":
      case "integer": {
        const number = Number(text);
        if (!Number.isFinite(number)) errors[field.name] = "Enter a number.";
        else if (field.kind === "integer" && !Number.isInteger(number)) errors[field.name] = "Enter a whole number.";
        else input[field.name] = number;
        break;
      }
      case "enum":
        input[field.name] = JSON.parse(text);
        break;
      case "messages":
        input[field.name] = [{ role: "user", content: text }];
        break;
      case "json":
        try {
          input[field.name] = JSON.parse(text);
        } catch (error) {
          if (field.anyValue) input[field.name] = text;
          else errors[field.name] = `Not valid JSON: ${error instanceof Error ? error.message : String(error)}`;
        }
        break;
    }
  }
  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, input };
}
