import { randomUUID } from "node:crypto";
import { type Message, type Part, Role, type StreamResponse, TaskState } from "@a2a-js/sdk";
import {
  type Client as A2aClient,
  ClientFactory,
  ClientFactoryOptions,
  DefaultAgentCardResolver,
  JsonRpcTransportFactory,
} from "@a2a-js/sdk/client";
import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, TEST_GRAPHS, type TestStack } from "./test-fixtures/stack.js";

let stack: TestStack;
let langgraph: Client;
/** The default assistants of the test graphs, by graph id. */
const assistantIds = new Map<string, string>();

beforeAll(async () => {
  stack = await startTestStack(TEST_GRAPHS);
  langgraph = new Client({ apiUrl: stack.url });
  for (const assistant of await langgraph.assistants.search({ limit: 100 }))
    assistantIds.set(assistant.graph_id, assistant.assistant_id);
}, 90_000);
afterAll(() => stack?.stop());

const idOf = (graph: string) => {
  const id = assistantIds.get(graph);
  if (!id) throw new Error(`no assistant for ${graph}`);
  return id;
};

/** The SDK's client, speaking the v0.3 JSON-RPC binding the agent cards announce. */
async function a2aClient(graph: string): Promise<A2aClient> {
  const legacy = { legacyCompat: { enabled: true } };
  const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory(legacy)],
      cardResolver: new DefaultAgentCardResolver(legacy),
    }),
  );
  return factory.createFromUrl(stack.url, `/a2a/${idOf(graph)}/.well-known/agent-card.json`);
}

const textPart = (text: string): Part => ({
  content: { $case: "text", value: text },
  metadata: undefined,
  filename: "",
  mediaType: "",
});
const dataPart = (value: object): Part => ({
  content: { $case: "data", value },
  metadata: undefined,
  filename: "",
  mediaType: "",
});

function userMessage(parts: Part[], ids: { contextId?: string; taskId?: string } = {}): Message {
  return {
    messageId: randomUUID(),
    contextId: ids.contextId ?? "",
    taskId: ids.taskId ?? "",
    role: Role.ROLE_USER,
    parts,
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
}

const request = (message: Message, options: { returnImmediately?: boolean; historyLength?: number } = {}) => ({
  tenant: "",
  message,
  configuration: {
    acceptedOutputModes: [],
    taskPushNotificationConfig: undefined,
    returnImmediately: options.returnImmediately ?? false,
    historyLength: options.historyLength,
  },
  metadata: undefined,
});

/** A task out of a send result (the agents answer tasks, never bare messages). */
function asTask(result: Awaited<ReturnType<A2aClient["sendMessage"]>>) {
  if (!("status" in result)) throw new Error(`expected a task, got ${JSON.stringify(result)}`);
  return result;
}

const partText = (part: Part | undefined) => (part?.content?.$case === "text" ? part.content.value : undefined);
const partData = (part: Part | undefined) => (part?.content?.$case === "data" ? part.content.value : undefined);

/** A raw JSON-RPC call, for what the SDK does not send. */
async function rpc(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as { id?: unknown; result?: unknown; error?: { code: number; message: string } },
  };
}

describe("agent cards", () => {
  it("describes the assistant at both addresses, by assistant id or graph id", async () => {
    const id = idOf("echo");
    const byQuery = (await (await fetch(`${stack.url}/.well-known/agent-card.json?assistant_id=${id}`)).json()) as {
      description: unknown;
      skills: unknown[];
    };
    const byPath = await (await fetch(`${stack.url}/a2a/${id}/.well-known/agent-card.json`)).json();
    const byGraph = await (await fetch(`${stack.url}/a2a/echo/.well-known/agent-card.json`)).json();
    expect(byPath).toEqual(byQuery);
    expect(byGraph).toEqual(byQuery);
    expect(byQuery).toMatchObject({
      protocolVersion: "0.3.0",
      name: "echo",
      url: `${stack.url}/a2a/${id}`,
      preferredTransport: "JSONRPC",
      capabilities: { streaming: true },
      defaultInputModes: expect.arrayContaining(["text/plain", "application/json"]),
      defaultOutputModes: expect.arrayContaining(["text/plain", "application/json"]),
    });
    expect(byQuery.description).toEqual(expect.any(String));
    expect(byQuery.skills).toHaveLength(1);
    expect(byQuery.skills[0]).toMatchObject({ name: "echo", tags: expect.arrayContaining(["echo"]) });
  });

  it("answers 404 for an unknown assistant and 422 without assistant_id", async () => {
    expect((await fetch(`${stack.url}/.well-known/agent-card.json?assistant_id=${randomUUID()}`)).status).toBe(404);
    expect((await fetch(`${stack.url}/a2a/nope/.well-known/agent-card.json`)).status).toBe(404);
    const missing = await fetch(`${stack.url}/.well-known/agent-card.json`);
    expect(missing.status).toBe(422);
    expect(((await missing.json()) as { detail: string }).detail).toContain("assistant_id");
  });
});

describe("the SDK's client", () => {
  it("sends messages on a new context, then on the same one, and gets the task back", async () => {
    const client = await a2aClient("echo");
    const first = asTask(await client.sendMessage(request(userMessage([textPart("hello")]))));
    expect(first.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(first.contextId).toMatch(/^[0-9a-f-]{36}$/);
    expect(partText(first.artifacts[0]?.parts[0])).toBe("You said: hello");

    const second = asTask(await client.sendMessage(request(userMessage([textPart("again")], { contextId: first.contextId }))));
    expect(second.contextId).toBe(first.contextId);
    expect(second.id).not.toBe(first.id);
    expect(partText(second.artifacts[0]?.parts[0])).toBe("You said: again");
    expect(second.history.map((m) => [m.role, partText(m.parts[0])])).toEqual([
      [Role.ROLE_USER, "hello"],
      [Role.ROLE_AGENT, "You said: hello"],
      [Role.ROLE_USER, "again"],
      [Role.ROLE_AGENT, "You said: again"],
    ]);

    // The context is the thread.
    const state = await langgraph.threads.getState<{ messages: { content: string }[] }>(first.contextId);
    expect(state.values.messages.map((m) => m.content)).toEqual(["hello", "You said: hello", "again", "You said: again"]);

    const fetched = await client.getTask({ tenant: "", id: second.id, historyLength: 2 });
    expect(fetched.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(fetched.contextId).toBe(first.contextId);
    expect(partText(fetched.artifacts[0]?.parts[0])).toBe("You said: again");
    expect(fetched.history.map((m) => partText(m.parts[0]))).toEqual(["again", "You said: again"]);
  });

  it("streams a message: the task, working, the artifact, and a final completed status", async () => {
    const client = await a2aClient("echo");
    const events: StreamResponse[] = [];
    for await (const event of client.sendMessageStream(request(userMessage([textPart("stream me")])))) events.push(event);
    const kinds = events.map((e) => e.payload?.$case);
    expect(kinds[0]).toBe("task");
    expect(kinds).toContain("artifactUpdate");
    expect(kinds.at(-1)).toBe("statusUpdate");
    const statuses = events.flatMap((e) => (e.payload?.$case === "statusUpdate" ? [e.payload.value.status?.state] : []));
    expect(statuses).toContain(TaskState.TASK_STATE_WORKING);
    expect(statuses.at(-1)).toBe(TaskState.TASK_STATE_COMPLETED);
    const artifact = events.find((e) => e.payload?.$case === "artifactUpdate");
    expect(artifact?.payload?.$case === "artifactUpdate" && partText(artifact.payload.value.artifact?.parts[0])).toBe(
      "You said: stream me",
    );
    const task = events[0]?.payload?.$case === "task" ? events[0].payload.value : undefined;
    expect(task?.id).toMatch(/^[0-9a-f-]{36}$/);
    const fetched = await client.getTask({ tenant: "", id: task?.id ?? "" });
    expect(fetched.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it("asks for input when the graph interrupts, and resumes with the answer", async () => {
    const client = await a2aClient("interrupt");
    const asked = asTask(await client.sendMessage(request(userMessage([dataPart({ question: "Who are you?" })]))));
    expect(asked.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    expect(partData(asked.status?.message?.parts[0])).toEqual({ question: "Who are you?" });
    expect((await langgraph.threads.get(asked.contextId)).status).toBe("interrupted");

    const answered = asTask(
      await client.sendMessage(request(userMessage([textPart("Ada")], { contextId: asked.contextId, taskId: asked.id }))),
    );
    expect(answered.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(partData(answered.artifacts[0]?.parts[0])).toMatchObject({ question: "Who are you?", answer: "Hello, Ada" });
  });

  it("cancels a running task, and refuses to cancel it again", async () => {
    const client = await a2aClient("slow");
    const started = asTask(await client.sendMessage(request(userMessage([dataPart({})]), { returnImmediately: true })));
    expect([TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING]).toContain(started.status?.state);
    const canceled = await client.cancelTask({ tenant: "", id: started.id, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    expect((await client.getTask({ tenant: "", id: started.id })).status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    await expect(client.cancelTask({ tenant: "", id: started.id, metadata: undefined })).rejects.toThrow(/cannot be canceled/);
  });
});

describe("the wire format", () => {
  it("streams JSON-RPC responses in data lines, only the last with final: true", async () => {
    const res = await fetch(`${stack.url}/a2a/${idOf("echo")}`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: "s1",
        method: "message/stream",
        params: { message: { role: "user", messageId: "m1", parts: [{ kind: "text", text: "raw" }] } },
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const frames = (await res.text())
      .split("\n")
      .filter((line) => line.startsWith("data: "))
      .map((line) => JSON.parse(line.slice(6)) as { jsonrpc: string; id: string; result: Record<string, unknown> });
    expect(frames.every((f) => f.jsonrpc === "2.0" && f.id === "s1")).toBe(true);
    expect(frames.map((f) => f.result.kind)).toEqual(["task", "status-update", "artifact-update", "status-update"]);
    expect(frames.map((f) => f.result.final)).toEqual([undefined, false, undefined, true]);
    expect(frames.at(-1)?.result.status).toMatchObject({ state: "completed" });
    expect(frames[2]?.result.artifact).toMatchObject({ parts: [{ kind: "text", text: "You said: raw" }] });
  });
});

describe("JSON-RPC errors", () => {
  const send = (parts: unknown[], extra: object = {}) => ({
    jsonrpc: "2.0",
    id: "r1",
    method: "message/send",
    params: { message: { role: "user", messageId: "m1", parts, ...extra } },
  });

  it("answers each bad request with its JSON-RPC error and runs nothing", async () => {
    const path = `/a2a/${idOf("echo")}`;
    const before = await langgraph.threads.count({});
    const cases: Array<[unknown, number, number, string]> = [
      ["{not json", 400, -32700, "Parse error"],
      [[send([{ kind: "text", text: "x" }])], 400, -32600, "batches"],
      [{ id: 1, method: "message/send" }, 400, -32600, "jsonrpc"],
      [{ jsonrpc: "2.0", method: "message/send" }, 400, -32600, "'id'"],
      [{ jsonrpc: "2.0", id: 2, method: "tasks/resubscribe", params: {} }, 400, -32601, "tasks/resubscribe"],
      [{ jsonrpc: "2.0", id: 3, method: "message/send", params: {} }, 400, -32602, "'message' is required"],
      [send([]), 400, -32602, "at least one"],
      [send([{ kind: "text", text: "x" }], { contextId: "thread-1" }), 400, -32602, "UUID"],
      [send([{ kind: "image" }]), 400, -32602, "kind"],
      [send([{ kind: "file", file: { uri: "https://example.com/a.pdf" } }]), 200, -32005, "file part"],
      [{ jsonrpc: "2.0", id: 4, method: "tasks/get", params: { id: randomUUID() } }, 200, -32001, "Task not found"],
      [{ jsonrpc: "2.0", id: 5, method: "tasks/get", params: { id: randomUUID(), historyLength: 11 } }, 400, -32602, "exceed 10"],
      [{ jsonrpc: "2.0", id: 6, method: "tasks/cancel", params: {} }, 400, -32602, "'id' is required"],
    ];
    for (const [body, status, code, text] of cases) {
      const res = await rpc(path, body);
      expect({ body, status: res.status, code: res.body.error?.code }).toEqual({ body, status, code });
      expect(res.body.error?.message).toContain(text);
    }
    // The request id is echoed, numbers included; a body without a usable one gets null.
    expect((await rpc(path, { jsonrpc: "2.0", id: 7, method: "nope" })).body.id).toBe(7);
    expect((await rpc(path, "{not json")).body.id).toBeNull();
    expect(await langgraph.threads.count({})).toBe(before);
  });

  it("refuses text for an assistant without messages, a stream without SSE, and an unknown assistant", async () => {
    const before = await langgraph.threads.count({});
    const text = await rpc(`/a2a/${idOf("interrupt")}`, send([{ kind: "text", text: "hi" }]));
    expect(text.status).toBe(400);
    expect(text.body.error).toMatchObject({ code: -32602, message: expect.stringContaining("'messages'") });

    const stream = await rpc(`/a2a/${idOf("echo")}`, { ...send([{ kind: "text", text: "hi" }]), method: "message/stream" });
    expect(stream.status).toBe(400);
    expect(stream.body.error).toMatchObject({ code: -32600, message: expect.stringContaining("text/event-stream") });

    const unknown = await rpc(`/a2a/${randomUUID()}`, send([{ kind: "text", text: "hi" }]));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error?.message).toContain("Assistant not found");
    expect(await langgraph.threads.count({})).toBe(before);
  });

  it("does not show a task through another assistant", async () => {
    const client = await a2aClient("echo");
    const task = asTask(await client.sendMessage(request(userMessage([textPart("mine")]))));
    const res = await rpc(`/a2a/${idOf("chat")}`, { jsonrpc: "2.0", id: 1, method: "tasks/get", params: { id: task.id } });
    expect(res.body.error?.code).toBe(-32001);
    const composite = await rpc(`/a2a/${idOf("echo")}`, {
      jsonrpc: "2.0",
      id: 2,
      method: "tasks/get",
      params: { id: `${task.contextId}:${task.id}`, contextId: task.contextId },
    });
    expect(composite.body.result).toMatchObject({
      kind: "task",
      id: task.id,
      contextId: task.contextId,
      status: { state: "completed" },
    });
  });
});
