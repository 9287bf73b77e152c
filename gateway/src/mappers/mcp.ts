import type { JsonValue } from "@bufbuild/protobuf";
import type { Assistant } from "@langopen/gen/langopen/data/v1/assistant_pb";
import { lastAgentText, runOutcome } from "./a2a.js";

/*
 * The assistants as MCP tools: one tool per assistant, named after it, taking the assistant's
 * input as its arguments and answering the run's final values (or the agent's last message).
 */

/** The longest tool name MCP clients accept. */
export const MAX_TOOL_NAME = 64;

/** A tool name from an assistant name: letters, digits, `_` and `-` only, at most 64 characters. */
export function sanitiseToolName(name: string): string {
  const cleaned = name
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "") // accents go, their letters stay
    .trim()
    .replace(/[^A-Za-z0-9_-]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, MAX_TOOL_NAME);
  return cleaned === "" ? "assistant" : cleaned;
}

/**
 * The tool name of each assistant, in the order given (the caller passes them oldest first, so
 * names stay stable as assistants are added): assistants whose names clash get `_2`, `_3`, ...
 */
export function toolNames(assistants: readonly Assistant[]): Map<string, Assistant> {
  const named = new Map<string, Assistant>();
  for (const assistant of assistants) {
    const base = sanitiseToolName(assistant.name || assistant.graphId);
    let name = base;
    for (let n = 2; named.has(name); n++) {
      const suffix = `_${n}`;
      name = base.slice(0, MAX_TOOL_NAME - suffix.length) + suffix;
    }
    named.set(name, assistant);
  }
  return named;
}

/** A tool's description: the assistant's, else one naming its graph. */
export function toolDescription(assistant: Assistant): string {
  if (assistant.description) return assistant.description;
  const name = assistant.name || assistant.graphId;
  return `Runs the assistant ${name} (graph ${assistant.graphId}) on the given input and returns its result.`;
}

/** The tool input schema of the assistant: its graph's input schema when it is an object schema, else any object. */
export function toolInputSchema(schemas: unknown): { type: "object"; [key: string]: unknown } {
  const input = typeof schemas === "object" && schemas !== null ? (schemas as Record<string, unknown>).input_schema : undefined;
  if (typeof input === "object" && input !== null && (input as Record<string, unknown>).type === "object") {
    return input as { type: "object" };
  }
  return { type: "object" };
}

export interface ToolResult {
  [key: string]: unknown;
  content: { type: "text"; text: string }[];
  isError?: boolean;
}

export const toolError = (text: string): ToolResult => ({ content: [{ type: "text", text }], isError: true });

/** The answer of a tool call from the run's join result: the agent's last message, else the values as JSON. */
export function toolResult(result: JsonValue | undefined): ToolResult {
  const outcome = runOutcome(result);
  if (outcome.error) {
    const { error, message } = outcome.error;
    return toolError(message ? `${error}: ${message}` : error);
  }
  const values = outcome.interrupts.length > 0 ? result : outcome.values;
  const text = outcome.interrupts.length > 0 ? undefined : lastAgentText(values);
  return { content: [{ type: "text", text: text ?? JSON.stringify(values ?? null) }] };
}
