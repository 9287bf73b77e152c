import { isObject, type Json, str } from "./types.js";

/*
 * The passthrough channels' v2 shapes: `custom`, `tools` and `checkpoints` events as the
 * protocol carries them, from the run events' data; and the message of a run's `error`.
 */

/** A `custom` event's data: named (`{name, payload}`) as it came, else `{payload}`. */
export function customData(data: unknown): unknown {
  const named = isObject(data) && typeof data.name === "string" && "payload" in data;
  return named ? data : { payload: data };
}

/** The lightweight checkpoint envelope of the `checkpoints` channel, from a full checkpoint record. */
export function checkpointEnvelope(data: unknown): unknown {
  if (!isObject(data)) return undefined;
  if (typeof data.id === "string" && ("source" in data || typeof data.step === "number")) return data;
  const checkpoint = isObject(data.checkpoint) ? data.checkpoint : undefined;
  const id = str(checkpoint?.checkpoint_id);
  if (id === undefined) return undefined;
  const metadata: Json = isObject(data.metadata) ? data.metadata : {};
  const parentId = str(isObject(data.parent_checkpoint) ? data.parent_checkpoint.checkpoint_id : undefined);
  return {
    id,
    ...(parentId === undefined ? {} : { parent_id: parentId }),
    step: typeof metadata.step === "number" ? metadata.step : -1,
    source: str(metadata.source) ?? "loop",
  };
}

/** A `tools` stream-mode record (on_tool_start, ...) in the v2 tools shape. */
export function toolsData(data: unknown): unknown {
  if (!isObject(data)) return { event: "tool-error", tool_call_id: "", message: "Unexpected tools payload" };
  if (typeof data.event === "string" && data.event.startsWith("tool-")) return data;
  const toolCallId = str(data.toolCallId) ?? str(data.tool_call_id) ?? str(data.id) ?? "";
  switch (data.event) {
    case "on_tool_start":
      return { event: "tool-started", tool_call_id: toolCallId, tool_name: str(data.name) ?? "tool", input: data.input };
    case "on_tool_event":
      return {
        event: "tool-output-delta",
        tool_call_id: toolCallId,
        delta: typeof data.data === "string" ? data.data : JSON.stringify(data.data ?? null),
      };
    case "on_tool_end":
      return { event: "tool-finished", tool_call_id: toolCallId, output: data.output };
    case "on_tool_error": {
      const error = data.error;
      const message = isObject(error) && typeof error.message === "string" ? error.message : String(error ?? "Tool error");
      return { event: "tool-error", tool_call_id: toolCallId, message };
    }
    default:
      return { event: "tool-error", tool_call_id: toolCallId, message: `Unknown tool event: ${String(data.event)}` };
  }
}

/** The error message of a run's `error` event ({error, message}). */
export function errorMessageOf(data: unknown): string {
  if (isObject(data) && typeof data.message === "string") return data.message;
  return typeof data === "string" ? data : "Run failed";
}
