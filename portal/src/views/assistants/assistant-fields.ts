// The assistant forms' fields checked and turned into requests: creating one, editing its details,
// and the question asked before deleting it.
import type { JsonObject, JsonValue, MessageInitShape } from "@bufbuild/protobuf";
import type { Assistant } from "@langopen/gen/langopen/data/v1/assistant_pb";
import type {
  CreateAssistantRequestSchema,
  UpdateAssistantRequestSchema,
} from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { isJsonObject, parseJsonText, prettyJson } from "../../lib/json";

export interface NewAssistantFields {
  graphId: string;
  name: string;
  /** Empty: none. */
  description: string;
  /** JSON object text, sent as the config's `configurable`; empty: none. */
  configurable: string;
  /** JSON object text; empty: none. */
  context: string;
  /** JSON object text; empty: none. */
  metadata: string;
}

export type NewAssistantProblems = Partial<Record<keyof NewAssistantFields, string>>;

export type CreateAssistantRequest = MessageInitShape<typeof CreateAssistantRequestSchema>;

type Checked<R, P> = { ok: true; request: R } | { ok: false; problems: P };

/** Optional JSON object text: undefined when empty, else the object or why it is refused. */
function optionalObject(text: string, what: string): { value?: JsonObject; problem?: string } {
  if (text.trim() === "") return {};
  const parsed = parseJsonText(text);
  if (!parsed.ok) return { problem: `Not valid JSON: ${parsed.error}` };
  if (!isJsonObject(parsed.value)) return { problem: `The ${what} must be a JSON object, e.g. {"key": "value"}.` };
  return { value: parsed.value as JsonObject };
}

/** The CreateAssistant request the fields make, or what is wrong with them (the server checks the graph). */
export function createAssistantRequest(fields: NewAssistantFields): Checked<CreateAssistantRequest, NewAssistantProblems> {
  const problems: NewAssistantProblems = {};
  if (fields.graphId.trim() === "") problems.graphId = "Choose the graph the assistant runs.";
  const name = fields.name.trim();
  if (name === "") problems.name = "Enter a name.";
  const configurable = optionalObject(fields.configurable, "configurable");
  const context = optionalObject(fields.context, "context");
  const metadata = optionalObject(fields.metadata, "metadata");
  if (configurable.problem) problems.configurable = configurable.problem;
  if (context.problem) problems.context = context.problem;
  if (metadata.problem) problems.metadata = metadata.problem;
  if (Object.keys(problems).length > 0) return { ok: false, problems };
  const description = fields.description.trim();
  return {
    ok: true,
    request: {
      graphId: fields.graphId.trim(),
      name,
      ...(description !== "" && { description }),
      ...(configurable.value && { config: { configurable: configurable.value } }),
      ...(context.value && { context: context.value }),
      ...(metadata.value && { metadata: metadata.value }),
    },
  };
}

export interface DetailFields {
  name: string;
  description: string;
  /** JSON object text. */
  metadata: string;
}

export type DetailProblems = Partial<Record<keyof DetailFields, string>>;

export type UpdateAssistantRequest = MessageInitShape<typeof UpdateAssistantRequestSchema>;

/** The edit form's starting point: the assistant's details as they are. */
export function detailFieldsOf(assistant: Assistant): DetailFields {
  return { name: assistant.name, description: assistant.description ?? "", metadata: prettyJson(assistant.metadata ?? {}) };
}

/** Whether two JSON values are the same value (object keys in any order). */
export function sameJson(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameJson(item, b[i]));
  }
  if (isJsonObject(a) && isJsonObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length && keys.every((key) => key in b && sameJson(a[key] as JsonValue, b[key] as JsonValue))
    );
  }
  return a === b;
}

/**
 * The UpdateAssistant request for what was changed (undefined: nothing was), or what is wrong.
 * The server merges the metadata sent into what it holds, so a key left out would stay: the form
 * refuses that rather than pretend it was removed.
 */
export function updateAssistantRequest(
  assistant: Assistant,
  fields: DetailFields,
): Checked<UpdateAssistantRequest | undefined, DetailProblems> {
  const problems: DetailProblems = {};
  const name = fields.name.trim();
  if (name === "") problems.name = "Enter a name.";
  const current = assistant.metadata ?? {};
  let metadata: JsonObject | undefined;
  const parsed = parseJsonText(fields.metadata.trim() === "" ? "{}" : fields.metadata);
  if (!parsed.ok) problems.metadata = `Not valid JSON: ${parsed.error}`;
  else if (!isJsonObject(parsed.value)) problems.metadata = 'The metadata must be a JSON object, e.g. {"key": "value"}.';
  else {
    metadata = parsed.value as JsonObject;
    const dropped = Object.keys(current).filter((key) => !(key in (metadata as JsonObject)));
    if (dropped.length > 0) {
      problems.metadata = `A key cannot be removed (the server merges the metadata into what it holds): put back ${dropped
        .map((key) => `“${key}”`)
        .join(", ")}, or set it to null.`;
    }
  }
  if (Object.keys(problems).length > 0 || metadata === undefined) return { ok: false, problems };
  const description = fields.description.trim();
  const change: UpdateAssistantRequest = {
    assistantId: assistant.assistantId,
    ...(name !== assistant.name && { name }),
    ...(description !== (assistant.description ?? "") && { description }),
    ...(!sameJson(metadata, current) && { metadata }),
  };
  return { ok: true, request: Object.keys(change).length > 1 ? change : undefined };
}

/** What is asked before deleting: a graph's default assistant says so, the server deciding whether it may go. */
export function deleteQuestion(assistant: Assistant): string {
  const label = assistant.name || assistant.assistantId;
  if (assistant.metadata?.created_by === "system") {
    return `Delete “${label}”? It is the default assistant of the graph ${assistant.graphId}, made by the server (which makes it again when it next loads its graphs).`;
  }
  return `Delete “${label}”? Its versions go with it; its threads stay.`;
}
