import { invalidArgument, isUuid, normalizeUuid } from "@langopen/common";
import { v4 as uuidv4, v5 as uuidv5 } from "uuid";

/** Any 8-4-4-4-12 hex string, in any case (common's one definition, no version or variant check). */
export { isUuid };

/** The namespace of the default assistants' ids, as the LangGraph Platform uses it. */
export const DEFAULT_ASSISTANT_NAMESPACE = "6ba7b821-9dad-11d1-80b4-00c04fd430c8";

/** The id of a graph's default assistant: UUIDv5 of the graph id. */
export function defaultAssistantId(graphId: string): string {
  return uuidv5(graphId, DEFAULT_ASSISTANT_NAMESPACE);
}

export function newId(): string {
  return uuidv4();
}

/** Checks a required UUID field (Postgres would otherwise reject it with a less clear error); answers it in lower case. */
export function requireUuid(field: string, value: string): string {
  if (!isUuid(value))
    throw invalidArgument(`${field} must be a UUID, got ${JSON.stringify(value)}`, [{ field, description: "must be a UUID" }]);
  return normalizeUuid(value);
}

/** An id given by the caller, or a new one. */
export function idOrNew(field: string, value: string): string {
  return value === "" ? newId() : requireUuid(field, value);
}
