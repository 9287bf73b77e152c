import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { isUuid } from "@langopen/common";
import type { Assistant } from "@langopen/gen/langopen/data/v1/assistant_pb";
import type { Run, RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";
import { JsonRpcCode, JsonRpcFailure } from "../plugins/json-rpc.js";
import { isoTimestamp } from "./common.js";
import { runStatusName } from "./run-status.js";

/*
 * The A2A protocol (v0.3 JSON-RPC binding) over LangGraph threads and runs: a context is a
 * thread, a task is a run. Text and data parts become the run's input; the final state becomes
 * the task's status, artifacts and history.
 */

export const A2A_PROTOCOL_VERSION = "0.3.0";

export type TaskState =
  | "submitted"
  | "working"
  | "input-required"
  | "completed"
  | "canceled"
  | "failed"
  | "rejected"
  | "auth-required"
  | "unknown";

export type A2aPart = { kind: "text"; text: string } | { kind: "data"; data: JsonObject };

export interface A2aMessage {
  kind: "message";
  messageId: string;
  role: "user" | "agent";
  parts: A2aPart[];
  contextId?: string;
  taskId?: string;
  metadata?: JsonObject;
}

export interface A2aTaskStatus {
  state: TaskState;
  message?: A2aMessage;
  timestamp?: string;
}

export interface A2aArtifact {
  artifactId: string;
  name: string;
  parts: A2aPart[];
}

export interface A2aTask {
  kind: "task";
  id: string;
  contextId: string;
  status: A2aTaskStatus;
  artifacts?: A2aArtifact[];
  history?: A2aMessage[];
}

export interface A2aStatusUpdate {
  kind: "status-update";
  taskId: string;
  contextId: string;
  status: A2aTaskStatus;
  final: boolean;
}

export interface A2aArtifactUpdate {
  kind: "artifact-update";
  taskId: string;
  contextId: string;
  artifact: A2aArtifact;
  lastChunk: boolean;
}

/** The most messages of history tasks/get returns. */
export const MAX_HISTORY_LENGTH = 10;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const invalidParams = (message: string) => new JsonRpcFailure(JsonRpcCode.InvalidParams, `Invalid params: ${message}`, 400);

/** The checked params of message/send and message/stream. */
export interface SendParams {
  message: {
    messageId: string;
    role: "user" | "agent";
    parts: A2aPart[];
    /** The thread; absent to start a new one. */
    contextId?: string;
    taskId?: string;
  };
  /** Wait for the end of the run (message/send); default true. */
  blocking: boolean;
  historyLength?: number;
}

function historyLength(value: unknown, where: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0)
    throw invalidParams(`'${where}' must be an integer >= 0`);
  if (value > MAX_HISTORY_LENGTH) throw invalidParams(`'${where}' cannot exceed ${MAX_HISTORY_LENGTH}`);
  return value;
}

function optionalString(value: unknown, where: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw invalidParams(`'${where}' must be a string`);
  return value === "" ? undefined : value;
}

/** A context id names a thread, whose ids are UUIDs. */
function contextIdOf(value: unknown, where: string): string | undefined {
  const id = optionalString(value, where);
  if (id !== undefined && !isUuid(id)) throw invalidParams(`'${where}' must be a UUID (it is the thread id)`);
  return id;
}

function toPart(value: unknown, index: number): A2aPart {
  const where = `message.parts[${index}]`;
  if (!isObject(value)) throw invalidParams(`'${where}' must be an object`);
  switch (value.kind) {
    case "text":
      if (typeof value.text !== "string") throw invalidParams(`'${where}.text' must be a string`);
      return { kind: "text", text: value.text };
    case "data":
      if (!isObject(value.data)) throw invalidParams(`'${where}.data' must be a JSON object`);
      return { kind: "data", data: value.data as JsonObject };
    case "file":
      throw new JsonRpcFailure(-32005, `Content type not supported: '${where}' is a file part; send text and data parts`, 200);
    default:
      throw invalidParams(`'${where}.kind' must be "text" or "data"`);
  }
}

/** Checks the params of message/send and message/stream. */
export function sendParams(params: unknown): SendParams {
  if (!isObject(params)) throw invalidParams("params must be an object with a 'message'");
  const message = params.message;
  if (!isObject(message)) throw invalidParams("'message' is required");
  if (message.role !== "user" && message.role !== "agent") throw invalidParams(`'message.role' must be "user" or "agent"`);
  if (typeof message.messageId !== "string" || message.messageId === "") throw invalidParams("'message.messageId' is required");
  if (!Array.isArray(message.parts)) throw invalidParams("'message.parts' must be an array");
  const parts = message.parts.map(toPart);
  if (parts.length === 0) throw invalidParams("'message.parts' must have at least one text or data part");
  const configuration = params.configuration;
  if (configuration !== undefined && configuration !== null && !isObject(configuration)) {
    throw invalidParams("'configuration' must be an object");
  }
  const blocking = configuration?.blocking;
  if (blocking !== undefined && blocking !== null && typeof blocking !== "boolean") {
    throw invalidParams("'configuration.blocking' must be a boolean");
  }
  return {
    message: {
      messageId: message.messageId,
      role: message.role,
      parts,
      contextId: contextIdOf(message.contextId, "message.contextId"),
      taskId: optionalString(message.taskId, "message.taskId"),
    },
    blocking: blocking ?? true,
    historyLength: historyLength(configuration?.historyLength, "configuration.historyLength"),
  };
}

/** The checked params of tasks/get and tasks/cancel. */
export interface TaskParams {
  runId: string;
  /** Empty when not given: the run is found by its id alone. */
  threadId: string;
  historyLength?: number;
}

/** Checks the params of tasks/get and tasks/cancel; `<thread id>:<run id>` task ids are accepted. */
export function taskParams(params: unknown): TaskParams {
  if (!isObject(params)) throw invalidParams("params must be an object with the task 'id'");
  if (typeof params.id !== "string" || params.id === "") throw invalidParams("'id' is required");
  let runId = params.id;
  let threadId = contextIdOf(params.contextId, "contextId") ?? "";
  const colon = runId.indexOf(":");
  if (colon >= 0) {
    const [fromId, rest] = [runId.slice(0, colon), runId.slice(colon + 1)];
    if (threadId === "" && isUuid(fromId)) threadId = fromId;
    runId = rest;
  }
  if (!isUuid(runId)) throw taskNotFound(params.id);
  return { runId, threadId, historyLength: historyLength(params.historyLength, "historyLength") };
}

export const taskNotFound = (id: string) => new JsonRpcFailure(-32001, `Task not found: ${id}`);

export const taskNotCancelable = (id: string, state: TaskState) =>
  new JsonRpcFailure(-32002, `Task cannot be canceled: task ${id} is already ${state}`);

/** The text of the text parts, joined; undefined without any. */
export function textOf(parts: A2aPart[]): string | undefined {
  const texts = parts.flatMap((p) => (p.kind === "text" ? [p.text] : []));
  return texts.length === 0 ? undefined : texts.join("\n");
}

/** The data parts merged into one object; undefined without any. */
export function dataOf(parts: A2aPart[]): JsonObject | undefined {
  const data = parts.flatMap((p) => (p.kind === "data" ? [p.data] : []));
  return data.length === 0 ? undefined : Object.assign({}, ...data);
}

/** A run input from a message: the text as a user message in `messages`, the data merged in. */
export function runInput(parts: A2aPart[]): JsonObject {
  const input: JsonObject = { ...dataOf(parts) };
  const text = textOf(parts);
  if (text !== undefined) input.messages = [{ role: "user", content: text }];
  return input;
}

/**
 * The value a message resumes an interrupted thread with: a data part's `resume` (a list of
 * `{id, value}` becomes the map of interrupt id to value that LangGraph takes), else the text,
 * else the data.
 */
export function resumeValue(parts: A2aPart[]): JsonValue {
  const data = dataOf(parts);
  if (data !== undefined && "resume" in data) {
    const resume = data.resume as JsonValue;
    const byId =
      Array.isArray(resume) && resume.length > 0 && resume.every((r) => isObject(r) && typeof r.id === "string" && "value" in r);
    if (!byId) return resume;
    return Object.fromEntries((resume as JsonObject[]).map((r) => [r.id as string, r.value as JsonValue]));
  }
  return textOf(parts) ?? data ?? null;
}

/** The refusal of text parts for an assistant whose input has no `messages` field (where they would go). */
export const textNeedsMessagesInput = (assistantId: string) =>
  new JsonRpcFailure(
    JsonRpcCode.InvalidParams,
    `Invalid params: text parts need a 'messages' field in the input of assistant ${assistantId}; send data parts`,
    400,
  );

/** Whether an assistant's input schema has a `messages` field; undefined when it cannot be told. */
export function inputTakesMessages(schemas: unknown): boolean | undefined {
  if (!isObject(schemas)) return undefined;
  const input = schemas.input_schema;
  if (!isObject(input)) return undefined;
  const properties = input.properties;
  if (!isObject(properties)) return undefined;
  return Object.hasOwn(properties, "messages");
}

/** A LangChain message's type: "ai", "human", "tool", "system"...; undefined when not a message. */
function messageType(message: unknown): string | undefined {
  if (!isObject(message)) return undefined;
  if (typeof message.type === "string") return message.type;
  if (typeof message.role === "string") {
    const role = message.role;
    if (role === "assistant") return "ai";
    if (role === "user") return "human";
    return role;
  }
  // A serialized message: {lc: 1, type: "constructor", id: [..., "AIMessage"], kwargs}.
  if (Array.isArray(message.id)) {
    const name = String(message.id.at(-1) ?? "");
    if (name.startsWith("AIMessage")) return "ai";
    if (name.startsWith("HumanMessage")) return "human";
  }
  return undefined;
}

/** The text of a message's content: a string, or the text blocks of a list. */
export function messageText(message: unknown): string {
  if (!isObject(message)) return "";
  const content = isObject(message.kwargs) ? message.kwargs.content : message.content;
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((block) => (typeof block === "string" ? block : isObject(block) && typeof block.text === "string" ? block.text : ""))
    .join("");
}

function messagesOf(values: JsonValue | undefined): unknown[] {
  return isObject(values) && Array.isArray(values.messages) ? values.messages : [];
}

/** The text of the last message when it is the agent's; undefined otherwise. */
export function lastAgentText(values: JsonValue | undefined): string | undefined {
  const last = messagesOf(values).at(-1);
  return messageType(last) === "ai" ? messageText(last) : undefined;
}

/** A part for any JSON value: text for a string, data for an object, data `{value}` otherwise. */
function partFor(value: unknown): A2aPart {
  if (typeof value === "string") return { kind: "text", text: value };
  if (isObject(value)) return { kind: "data", data: value as JsonObject };
  return { kind: "data", data: { value: (value ?? null) as JsonValue } };
}

function agentMessage(parts: A2aPart[], contextId: string, taskId: string, messageId: string): A2aMessage {
  return { kind: "message", messageId, role: "agent", parts, contextId, taskId };
}

/** The thread's messages as A2A messages (user and agent only), the last `limit` of them. */
export function historyOf(values: JsonValue | undefined, contextId: string, taskId: string, limit?: number): A2aMessage[] {
  const out: A2aMessage[] = [];
  messagesOf(values).forEach((message, index) => {
    const type = messageType(message);
    if (type !== "ai" && type !== "human") return;
    const id = isObject(message) && typeof message.id === "string" && message.id !== "" ? message.id : `${contextId}:${index}`;
    out.push({
      kind: "message",
      messageId: id,
      role: type === "ai" ? "agent" : "user",
      parts: [{ kind: "text", text: messageText(message) }],
      contextId,
      taskId,
    });
  });
  return limit === undefined ? out : limit === 0 ? [] : out.slice(-limit);
}

/** What a run ended with: its values, the interrupts it stopped at, or its error. */
export interface RunOutcome {
  values?: JsonValue;
  interrupts: unknown[];
  error?: { error: string; message: string };
}

/** Reads the result of a join: `{__error__}`, or the values with `__interrupt__` when interrupted. */
export function runOutcome(result: JsonValue | undefined): RunOutcome {
  if (!isObject(result)) return { values: result, interrupts: [] };
  if (isObject(result.__error__)) {
    const e = result.__error__;
    return {
      interrupts: [],
      error: { error: typeof e.error === "string" ? e.error : "Error", message: typeof e.message === "string" ? e.message : "" },
    };
  }
  const { __interrupt__: interrupts, ...values } = result;
  return { values, interrupts: Array.isArray(interrupts) ? interrupts : [] };
}

/**
 * The state of the task of a run, given how it ended (for a run that has). Read from the run's
 * public status name, so a status the gateway cannot name is "submitted" (run-status.ts).
 */
export function taskState(status: RunStatus, outcome?: RunOutcome): TaskState {
  switch (runStatusName(status)) {
    case "pending":
      return "submitted";
    case "running":
      return "working";
    case "success":
      return outcome !== undefined && outcome.interrupts.length > 0 ? "input-required" : "completed";
    case "error":
    case "timeout":
      return "failed";
    case "interrupted":
      return "canceled";
  }
}

export const isFinalState = (state: TaskState) => state !== "submitted" && state !== "working";

/** The answer of a completed run: the agent's last message as text, else the values as data. */
export function resultArtifact(runId: string, values: JsonValue | undefined): A2aArtifact | undefined {
  if (values === undefined || values === null) return undefined;
  const text = lastAgentText(values);
  const parts: A2aPart[] = text !== undefined ? [{ kind: "text", text }] : [partFor(values)];
  return { artifactId: `${runId}-response`, name: "Assistant Response", parts };
}

export interface TaskOptions {
  /** The run's thread, when the run no longer says (a cancelled stateless run). */
  contextId: string;
  /** How the run ended; undefined while it has not. */
  outcome?: RunOutcome;
  historyLength?: number;
  /** The history when the run has no final values (the message just sent). */
  history?: A2aMessage[];
}

/** The task of a run: its state, and for an ended run its status message, artifacts and history. */
export function toTask(run: Run, options: TaskOptions): A2aTask {
  const contextId = run.threadId === "" ? options.contextId : run.threadId;
  const id = run.runId;
  const { outcome } = options;
  const state = taskState(run.status, outcome);
  const status: A2aTaskStatus = { state };
  const timestamp = isoTimestamp(run.updateTime);
  if (timestamp !== null) status.timestamp = timestamp;
  const task: A2aTask = { kind: "task", id, contextId, status };
  if (state === "input-required" && outcome) {
    const values = outcome.interrupts.map((i) => (isObject(i) && "value" in i ? i.value : i));
    status.message = agentMessage(values.map(partFor), contextId, id, `${id}-input-required`);
  }
  if (state === "failed" && outcome?.error) {
    const { error, message } = outcome.error;
    status.message = agentMessage(
      [{ kind: "text", text: message ? `${error}: ${message}` : error }],
      contextId,
      id,
      `${id}-error`,
    );
  }
  if (state === "completed" && outcome) {
    const artifact = resultArtifact(id, outcome.values);
    if (artifact) task.artifacts = [artifact];
  }
  const history =
    outcome?.values !== undefined ? historyOf(outcome.values, contextId, id, options.historyLength) : options.history;
  if (history !== undefined) task.history = history;
  return task;
}

/** The metadata.a2a overrides of an assistant: `input_modes` and `output_modes`. */
function modes(assistant: Assistant, key: "input_modes" | "output_modes"): string[] {
  const a2a = assistant.metadata?.a2a;
  const value = isObject(a2a) ? a2a[key] : undefined;
  const valid = Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "string" && v !== "");
  return valid ? (value as string[]) : ["application/json", "text/plain"];
}

/** The A2A agent card of an assistant, whose endpoint is under `baseUrl`. */
export function agentCard(assistant: Assistant, baseUrl: string): JsonObject {
  const name = assistant.name || assistant.graphId;
  const description = assistant.description || `The ${name} assistant (graph ${assistant.graphId}).`;
  const inputModes = modes(assistant, "input_modes");
  const outputModes = modes(assistant, "output_modes");
  return {
    protocolVersion: A2A_PROTOCOL_VERSION,
    name,
    description,
    url: `${baseUrl}/a2a/${encodeURIComponent(assistant.assistantId)}`,
    preferredTransport: "JSONRPC",
    version: String(assistant.version),
    capabilities: { streaming: true, pushNotifications: false, stateTransitionHistory: false },
    defaultInputModes: inputModes,
    defaultOutputModes: outputModes,
    skills: [
      {
        id: `${assistant.graphId}-main`,
        name,
        description,
        tags: ["assistant", "langgraph", assistant.graphId],
        examples: [],
        inputModes,
        outputModes,
      },
    ],
  };
}
