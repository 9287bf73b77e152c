import { randomUUID } from "node:crypto";
import type { Server } from "node:net";
import { create, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { errorInfo, jsonBytes, parseJsonBytes, Reason } from "@langopen/common";
import type { Assistant } from "@langopen/gen/langopen/data/v1/assistant_pb";
import { type Run, RunSpecSchema } from "@langopen/gen/langopen/data/v1/run_pb";
import {
  CancelAction,
  type CancelRunResponse,
  CreateRunRequestSchema,
  IfNotExists,
  InterruptedWhen,
} from "@langopen/gen/langopen/data/v1/run_service_pb";
import type { FastifyReply, FastifyRequest } from "fastify";
import { authorizedMetadata, createRunValue } from "../../auth/events.js";
import {
  type A2aMessage,
  agentCard,
  inputTakesMessages,
  isFinalState,
  resumeValue,
  runInput,
  runOutcome,
  type SendParams,
  sendParams,
  taskNotCancelable,
  taskNotFound,
  taskParams,
  taskState,
  textNeedsMessagesInput,
  textOf,
  toTask,
} from "../../mappers/a2a.js";
import { present } from "../../mappers/common.js";
import { fromConnectError } from "../../plugins/error-handler.js";
import {
  documentOnly,
  JsonRpcCode,
  JsonRpcFailure,
  type JsonRpcId,
  lenientJsonBodies,
  parseJsonRpcRequest,
  requestIdOf,
  rpcError,
  rpcResult,
} from "../../plugins/json-rpc.js";
import { readOptions, streamOptions, writeOptions } from "../../plugins/rpc-clients.js";
import { runEvents, type SseEvent } from "../../plugins/sse.js";
import { A2aRequestBody, AgentCardQuery } from "../../schemas/a2a.js";
import { AssistantIdParams } from "../../schemas/common.js";

/** A JSON-RPC error for a failed RPC: the public message, with a code by kind of failure. */
export function failureFromRpc(err: unknown, taskId?: string): JsonRpcFailure {
  if (err instanceof JsonRpcFailure) return err;
  if (!(err instanceof ConnectError)) return new JsonRpcFailure(JsonRpcCode.InternalError, "Internal error", 500);
  const { statusCode, detail } = fromConnectError(err);
  if (err.code === Code.NotFound && taskId !== undefined) return taskNotFound(taskId);
  if (statusCode === 422 || statusCode === 400 || statusCode === 404) {
    return new JsonRpcFailure(JsonRpcCode.InvalidParams, `Invalid params: ${detail}`, 400);
  }
  if (statusCode >= 500) return new JsonRpcFailure(JsonRpcCode.InternalError, `Internal error: ${detail}`, statusCode);
  return new JsonRpcFailure(JsonRpcCode.ServerError, detail);
}

/** A resume_only refusal: the thread is missing, or waits on no interrupt. */
function isNotWaitingRefusal(err: unknown): boolean {
  if (!(err instanceof ConnectError)) return false;
  const info = errorInfo(err);
  if (err.code === Code.NotFound) return info?.metadata.kind === "Thread";
  return info?.reason === Reason.ThreadNotInterrupted;
}

/** Whether the client accepts server-sent events. */
function acceptsEventStream(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  return (Array.isArray(accept) ? accept.join(",") : (accept ?? "")).toLowerCase().includes("text/event-stream");
}

/**
 * Where this gateway is reached, for the URLs of agent cards: the configured public URL, else the
 * address it listens on. Never the request's Host: a card is an answer other agents act on, and
 * a client could name any host it likes.
 */
export function ownBaseUrl(server: Server, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, "");
  const address = server.address();
  if (address === null || typeof address === "string") return "http://127.0.0.1";
  // Listening on every interface names none of them: the loopback one is the one sure to answer.
  const host = address.address === "0.0.0.0" ? "127.0.0.1" : address.address === "::" ? "::1" : address.address;
  return `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;
}

export interface A2aRoutesOptions {
  /** LANGOPEN_PUBLIC_URL: the base URL of agent cards; absent: the bound address. */
  publicUrl?: string;
}

/**
 * The Agent2Agent protocol (JSON-RPC 2.0, v0.3 method names) for every assistant at
 * POST /a2a/{assistant_id}, and the assistants' agent cards. A context is a thread (created on
 * first use), a task is a run: message/send runs the assistant on the thread and answers the
 * task once the run ends, message/stream answers server-sent events whose data lines are JSON-RPC
 * responses, tasks/get and tasks/cancel read and cancel the run.
 */
export const a2aRoutes: FastifyPluginAsyncTypebox<A2aRoutesOptions> = async (fastify, options) => {
  lenientJsonBodies(fastify);
  const { assistants, runs } = fastify.rpc;

  const getAssistant = async (request: FastifyRequest, assistantId: string): Promise<Assistant> => {
    try {
      return present((await assistants.getAssistant({ assistantId }, readOptions(request))).assistant, "assistant");
    } catch (err) {
      if (err instanceof ConnectError && err.code === Code.NotFound) {
        throw new JsonRpcFailure(JsonRpcCode.InvalidParams, `Assistant not found: ${assistantId}`, 404);
      }
      throw err;
    }
  };

  const card = async (request: FastifyRequest, assistantId: string) => {
    const res = await assistants.getAssistant({ assistantId }, readOptions(request));
    return agentCard(present(res.assistant, "assistant"), ownBaseUrl(fastify.server, options.publicUrl));
  };

  fastify.get("/.well-known/agent-card.json", { schema: { querystring: AgentCardQuery } }, async (request) =>
    card(request, request.query.assistant_id),
  );

  fastify.get("/a2a/:assistant_id/.well-known/agent-card.json", { schema: { params: AssistantIdParams } }, async (request) =>
    card(request, request.params.assistant_id),
  );

  /** Whether the assistant's input takes the text of text parts (`messages`); undefined when the runtime cannot tell. */
  const takesMessages = async (request: FastifyRequest, assistant: Assistant): Promise<boolean | undefined> => {
    try {
      const res = await assistants.getAssistantSchemas({ assistantId: assistant.assistantId }, readOptions(request));
      return inputTakesMessages(parseJsonBytes<unknown>(res.schemasJson, undefined));
    } catch {
      return undefined; // no schema to check against: let the run decide
    }
  };

  interface Started {
    run: Run;
    threadId: string;
    /** The message as the task history shows it until the run has values. */
    sent: A2aMessage;
  }

  /**
   * Starts the run a message asks for, on its thread (created if new). A message naming its task
   * and context resumes the thread when it waits on an interrupt: the api-server decides that
   * under the thread's lock, in the call that creates the run (CreateOrResumeRun). Text parts
   * need a `messages` input only when the run starts afresh, so an assistant without one may
   * still be answered with text: the call then resumes or refuses (resume_only).
   */
  const startRun = async (request: FastifyRequest, assistant: Assistant, params: SendParams): Promise<Started> => {
    const { message } = params;
    const threadId = message.contextId ?? randomUUID();
    const mayResume = message.taskId !== undefined && message.contextId !== undefined;
    const textRefused = textOf(message.parts) !== undefined && (await takesMessages(request, assistant)) === false;
    if (textRefused && !mayResume) throw textNeedsMessagesInput(assistant.assistantId);
    // The project's auth sees the run create as a REST create would show it, and may stamp metadata.
    const authorized = await request.authorize(
      "threads",
      "create_run",
      createRunValue(threadId, { assistant_id: assistant.assistantId, metadata: { a2a_message_id: message.messageId } }),
    );
    const run = create(CreateRunRequestSchema, {
      threadId,
      spec: create(RunSpecSchema, {
        assistantId: assistant.assistantId,
        inputJson: jsonBytes(runInput(message.parts)),
        metadata: authorizedMetadata(authorized, { a2a_message_id: message.messageId }),
      }),
      ifNotExists: IfNotExists.CREATE,
    });
    let created: Run | undefined;
    if (!mayResume) created = (await runs.createRun(run, writeOptions(request))).run;
    else {
      try {
        const res = await runs.createOrResumeRun(
          {
            run,
            resumeCommandJson: jsonBytes({ resume: resumeValue(message.parts) }),
            interruptedWhen: InterruptedWhen.STATUS,
            resumeOnly: textRefused,
          },
          writeOptions(request),
        );
        created = res.run;
      } catch (err) {
        if (textRefused && isNotWaitingRefusal(err)) throw textNeedsMessagesInput(assistant.assistantId);
        throw err;
      }
    }
    const started = present(created, "run");
    const sent: A2aMessage = { kind: "message", ...message, contextId: threadId, taskId: started.runId };
    return { run: started, threadId, sent };
  };

  /** The task of a run once it has ended, read from its join; `sent` is its history without values. */
  const endedTask = async (
    request: FastifyRequest,
    run: Run,
    threadId: string,
    options: { signal: AbortSignal | undefined; historyLength?: number; sent?: A2aMessage },
  ) => {
    const joined = await runs.joinRun({ threadId, runId: run.runId }, streamOptions(request, options.signal));
    const outcome = runOutcome(parseJsonBytes<JsonValue | undefined>(joined.resultJson, undefined));
    return toTask(joined.run ?? run, {
      contextId: threadId,
      outcome,
      historyLength: options.historyLength,
      history: options.sent && [options.sent],
    });
  };

  const sendMessage = async (request: FastifyRequest, assistantId: string, rawParams: unknown) => {
    const params = sendParams(rawParams);
    const assistant = await getAssistant(request, assistantId);
    const started = await startRun(request, assistant, params);
    if (!params.blocking) return toTask(started.run, { contextId: started.threadId, history: [started.sent] });
    return endedTask(request, started.run, started.threadId, {
      signal: request.clientGone,
      historyLength: params.historyLength,
      sent: started.sent,
    });
  };

  const streamMessage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    id: JsonRpcId,
    assistantId: string,
    rawParams: unknown,
  ) => {
    if (!acceptsEventStream(request)) {
      throw new JsonRpcFailure(
        JsonRpcCode.InvalidRequest,
        "Invalid request: message/stream needs 'Accept: text/event-stream'",
        400,
      );
    }
    const params = sendParams(rawParams);
    const assistant = await getAssistant(request, assistantId);
    const started = await startRun(request, assistant, params);
    const { run, threadId } = started;
    const frame = (payload: object): SseEvent => ({ id: "", event: "message", dataJson: jsonBytes(payload) });
    const update = (status: ReturnType<typeof toTask>["status"], final: boolean) =>
      frame(rpcResult(id, { kind: "status-update", taskId: run.runId, contextId: threadId, status, final }));

    async function* events(signal: AbortSignal): AsyncIterable<SseEvent> {
      yield frame(rpcResult(id, toTask(run, { contextId: threadId, history: [started.sent] })));
      try {
        // The run's own events say when a worker has taken it; its outcome comes from the join.
        const stream = runs.streamRun(
          { threadId, runId: run.runId, lastEventId: "-1", streamModes: [] },
          streamOptions(request, signal),
        );
        let working = false;
        for await (const event of runEvents(stream)) {
          if (!working && event.event !== "end") {
            working = true;
            yield update({ state: "working", timestamp: new Date().toISOString() }, false);
          }
          if (event.event === "end") break;
        }
        const task = await endedTask(request, run, threadId, { signal, sent: started.sent });
        for (const artifact of task.artifacts ?? []) {
          yield frame(
            rpcResult(id, { kind: "artifact-update", taskId: run.runId, contextId: threadId, artifact, lastChunk: true }),
          );
        }
        yield update(task.status, true);
      } catch (err) {
        // A client that left, or a gateway that stops, closes the stream without an answer.
        if (signal.aborted) throw err;
        request.log.debug({ err }, "A2A stream failed");
        yield frame(rpcError(id, failureFromRpc(err, run.runId)));
      }
    }

    return reply.sendEventStream({ open: events });
  };

  /** The run behind a task, if it belongs to this assistant. */
  const taskRun = async (request: FastifyRequest, assistant: Assistant, taskId: string, runId: string, threadId: string) => {
    let run: Run;
    try {
      run = present((await runs.getRun({ threadId, runId }, readOptions(request))).run, "run");
    } catch (err) {
      throw failureFromRpc(err, taskId);
    }
    if (run.assistantId !== assistant.assistantId) throw taskNotFound(taskId);
    return run;
  };

  const getTask = async (request: FastifyRequest, assistantId: string, rawParams: unknown) => {
    const params = taskParams(rawParams);
    const assistant = await getAssistant(request, assistantId);
    const taskId = (rawParams as { id: string }).id;
    await request.authorize("threads", "read", { thread_id: params.threadId ?? null, run_id: params.runId });
    const run = await taskRun(request, assistant, taskId, params.runId, params.threadId);
    const contextId = run.threadId || params.threadId;
    if (!isFinalState(taskState(run.status))) return toTask(run, { contextId });
    return endedTask(request, run, contextId, { signal: request.clientGone, historyLength: params.historyLength });
  };

  /**
   * Cancels the task's run, in one call that cancels only a run of this assistant, and only one
   * that has not ended: the api-server decides under the run's lock and says when it had ended.
   */
  const cancelTask = async (request: FastifyRequest, assistantId: string, rawParams: unknown) => {
    const params = taskParams(rawParams);
    const assistant = await getAssistant(request, assistantId);
    const taskId = (rawParams as { id: string }).id;
    await request.authorize("threads", "update", { thread_id: params.threadId ?? null, run_id: params.runId });
    let res: CancelRunResponse;
    try {
      res = await runs.cancelRun(
        {
          threadId: params.threadId,
          runId: params.runId,
          wait: true,
          action: CancelAction.INTERRUPT,
          reason: "a2a",
          assistantId: assistant.assistantId,
        },
        writeOptions(request),
      );
    } catch (err) {
      throw failureFromRpc(err, taskId);
    }
    if (res.run === undefined) throw taskNotFound(taskId);
    if (res.alreadyEnded) throw taskNotCancelable(taskId, taskState(res.run.status));
    return toTask(res.run, { contextId: res.run.threadId || params.threadId });
  };

  fastify.post(
    "/a2a/:assistant_id",
    { schema: { params: AssistantIdParams, body: A2aRequestBody }, validatorCompiler: documentOnly },
    async (request, reply) => {
      const body: unknown = request.body;
      let id: JsonRpcId = requestIdOf(body);
      const assistantId = (request.params as { assistant_id: string }).assistant_id;
      try {
        const call = parseJsonRpcRequest(body);
        id = call.id;
        // The assistant is read for every method: the project's auth decides whether this caller may.
        await request.authorize("assistants", "read", { assistant_id: assistantId });
        switch (call.method) {
          case "message/send":
            return rpcResult(id, await sendMessage(request, assistantId, call.params));
          case "message/stream":
            return await streamMessage(request, reply, id, assistantId, call.params);
          case "tasks/get":
            return rpcResult(id, await getTask(request, assistantId, call.params));
          case "tasks/cancel":
            return rpcResult(id, await cancelTask(request, assistantId, call.params));
          default:
            throw new JsonRpcFailure(JsonRpcCode.MethodNotFound, `Method not found: ${call.method}`, 400);
        }
      } catch (err) {
        const failure = failureFromRpc(err);
        if (failure.httpStatus >= 500) request.log.error({ err }, "A2A request failed");
        else request.log.debug({ err }, "A2A request answered with an error");
        return reply.code(failure.httpStatus).send(rpcError(id, failure));
      }
    },
  );
};
