import { Type } from "typebox";
import { JsonObject } from "./common.js";

/*
 * The A2A endpoint's JSON-RPC envelope, as documented. The route checks the envelope and the
 * params itself (its faults are JSON-RPC errors, not 422s), so these schemas describe the contract
 * in the API description and validate nothing on the POST.
 */

export const A2A_METHODS = ["message/send", "message/stream", "tasks/get", "tasks/cancel"] as const;

const TextPart = Type.Object(
  { kind: Type.Literal("text"), text: Type.String({ description: "The text; it becomes a user message." }) },
  { title: "Text part" },
);

const DataPart = Type.Object(
  {
    kind: Type.Literal("data"),
    data: JsonObject({ description: "Merged into the assistant's input (or, with `resume`, resumes an interrupt)." }),
  },
  { title: "Data part" },
);

const A2aMessage = Type.Object({
  kind: Type.Optional(Type.Literal("message")),
  role: Type.Enum(["user", "agent"]),
  parts: Type.Array(Type.Union([TextPart, DataPart]), { description: "Text and data parts; file parts are not supported." }),
  messageId: Type.String({ description: "The client's id of the message." }),
  contextId: Type.Optional(
    Type.String({ format: "uuid", description: "The conversation: the thread id. Omit it to start one." }),
  ),
  taskId: Type.Optional(
    Type.String({ description: "The task waiting for input (input-required) that this message answers; otherwise ignored." }),
  ),
  metadata: Type.Optional(JsonObject()),
});

const MessageSendParams = Type.Object(
  {
    message: A2aMessage,
    configuration: Type.Optional(
      Type.Object({
        blocking: Type.Optional(Type.Boolean({ description: "message/send: wait for the end of the run (default true)." })),
        historyLength: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
        acceptedOutputModes: Type.Optional(Type.Array(Type.String())),
      }),
    ),
    metadata: Type.Optional(JsonObject()),
  },
  { title: "Message send/stream parameters" },
);

const TaskParams = Type.Object(
  {
    id: Type.String({ description: "The task id: the run id (`<thread id>:<run id>` is accepted too)." }),
    contextId: Type.Optional(Type.String({ format: "uuid", description: "The thread of the run." })),
    historyLength: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 10, description: "tasks/get: how many messages of history to include." }),
    ),
  },
  { title: "Task get/cancel parameters" },
);

export const A2aRequestBody = Type.Object(
  {
    jsonrpc: Type.Literal("2.0"),
    id: Type.Union([Type.String(), Type.Number()], { description: "The request id, echoed in the answer." }),
    method: Type.Enum([...A2A_METHODS]),
    params: Type.Union([MessageSendParams, TaskParams]),
  },
  {
    description:
      "A JSON-RPC 2.0 request. message/stream needs `Accept: text/event-stream` and answers server-sent events " +
      "whose data lines are JSON-RPC responses (a task, then status and artifact updates, the last with `final: true`).",
  },
);

/** GET /.well-known/agent-card.json. */
export const AgentCardQuery = Type.Object({
  assistant_id: Type.String({ minLength: 1, errorMessage: "must be an assistant id or a graph id" }),
});
