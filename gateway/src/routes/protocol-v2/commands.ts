import { Code, ConnectError } from "@connectrpc/connect";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { Run } from "@langopen/gen/langopen/data/v1/run_pb";
import type { Thread } from "@langopen/gen/langopen/data/v1/thread_pb";
import type { FastifyRequest } from "fastify";
import { authorizedMetadata, createRunValue } from "../../auth/events.js";
import { jsonFromBytes, present } from "../../mappers/common.js";
import {
  agentStatusOfRun,
  CommandError,
  commandErrorOf,
  failure,
  inputRespondError,
  inputRespondRequest,
  isInterrupted,
  type ProtocolErrorCode,
  type ProtocolSuccess,
  runStartRequest,
  success,
} from "../../mappers/protocol-v2-commands.js";
import { toApiRunStatus } from "../../mappers/run-status.js";
import { callOptionsFor, readOptions, writeOptions } from "../../plugins/rpc-clients.js";
import { ThreadIdParams } from "../../schemas/common.js";
import { CommandBody } from "../../schemas/protocol-v2.js";
import { malformedBody } from "./body.js";

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The id of a body that failed the envelope schema, when it has a usable one. */
function envelopeId(body: unknown): number | null {
  const id = isObject(body) ? body.id : undefined;
  return typeof id === "number" && Number.isSafeInteger(id) && id >= 0 ? id : null;
}

/** Methods of the protocol that this transport does not carry. */
const NOT_SUPPORTED: Readonly<Record<string, string>> = {
  "subscription.subscribe": "Subscriptions are WebSocket commands; over HTTP, open POST /threads/{thread_id}/stream/events",
  "subscription.unsubscribe": "Subscriptions are WebSocket commands; over HTTP, close the event stream",
  "subscription.reconnect": "Resume an HTTP event stream with `since` in its body",
  "input.inject": "input.inject is not supported: runs cannot take input while they run",
  "state.listCheckpoints": "state.listCheckpoints is not supported: use POST /threads/{thread_id}/history",
  "state.fork": "state.fork is not supported: use run.start with config.configurable.checkpoint_id",
};

/**
 * POST /threads/{thread_id}/commands: one protocol command per request. The answer is HTTP
 * 200 with `{type: "success", id, result}` or `{type: "error", id, error, message}`; an
 * envelope that cannot be read is 400 (with the protocol error shape, id null when unknown).
 * Refusals of the api-server (unknown assistant, busy thread, ...) are protocol errors; its
 * failures (unavailable, internal) stay HTTP errors.
 */
export const commandRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { runs, threads, assistants } = fastify.rpc;

  /** The thread, or undefined when there is none. */
  const findThread = async (request: FastifyRequest, threadId: string): Promise<Thread | undefined> => {
    try {
      return (await threads.getThread({ threadId }, readOptions(request))).thread;
    } catch (err) {
      if (err instanceof ConnectError && err.code === Code.NotFound) return undefined;
      throw err;
    }
  };

  const latestRun = async (request: FastifyRequest, threadId: string): Promise<Run | undefined> =>
    (await runs.listRuns({ threadId, limit: 1, offset: 0 }, readOptions(request))).runs[0];

  /** The assistant a command on an existing thread is about: given, of its latest run, or of its metadata. */
  const threadAssistant = (params: Record<string, unknown>, thread: Thread, run: Run | undefined): string | undefined => {
    if (typeof params.assistant_id === "string" && params.assistant_id !== "") return params.assistant_id;
    if (run !== undefined && run.assistantId !== "") return run.assistantId;
    const metadata = thread.metadata ?? {};
    for (const key of ["assistant_id", "graph_id"]) {
      const value = metadata[key];
      if (typeof value === "string" && value !== "") return value;
    }
    return undefined;
  };

  /** run.start: one call, which resumes the thread when it waits on an interrupt (decided under its lock). */
  const runStart = async (request: FastifyRequest, threadId: string, id: number, params: Record<string, unknown>) => {
    const authorized = await request.authorize("threads", "create_run", createRunValue(threadId, params));
    const edited = { ...params, metadata: authorizedMetadata(authorized, params.metadata ?? {}) };
    const res = await runs.createOrResumeRun(runStartRequest(threadId, edited), writeOptions(request));
    const run = present(res.run, "run");
    return success(id, { run_id: run.runId, thread_id: run.threadId || threadId });
  };

  /** input.respond: one call that resumes the thread's interrupt or refuses (no thread, no interrupt, unknown ids). */
  const inputRespond = async (request: FastifyRequest, threadId: string, id: number, params: Record<string, unknown>) => {
    const authorized = await request.authorize("threads", "create_run", createRunValue(threadId, params));
    const req = inputRespondRequest(threadId, { ...params, metadata: authorizedMetadata(authorized, params.metadata ?? {}) });
    try {
      const res = await runs.createOrResumeRun(req, writeOptions(request));
      return success(id, { run_id: present(res.run, "run").runId });
    } catch (err) {
      throw inputRespondError(err, threadId) ?? err;
    }
  };

  const agentTree = async (request: FastifyRequest, threadId: string, id: number, params: Record<string, unknown>) => {
    await request.authorize("threads", "read", { thread_id: threadId, run_id: params.run_id ?? null });
    const thread = await findThread(request, threadId);
    if (thread === undefined) throw new CommandError("no_such_run", `Thread ${threadId} not found`);
    let run: Run | undefined;
    if (typeof params.run_id === "string" && params.run_id !== "") {
      try {
        run = present((await runs.getRun({ threadId, runId: params.run_id }, readOptions(request))).run, "run");
      } catch (err) {
        throw commandErrorOf(err, "no_such_run") ?? err;
      }
    } else run = await latestRun(request, threadId);
    const assistantId = threadAssistant(params, thread, run);
    if (assistantId === undefined) {
      throw new CommandError("no_such_run", `Thread ${threadId} has no run yet: give the assistant_id whose graph to describe`);
    }
    const xray = params.xray === true ? -1 : typeof params.xray === "number" && Number.isInteger(params.xray) ? params.xray : 0;
    // The assistant is its own event: its calls carry what the project lets this caller read of assistants.
    const { callerHeader } = await request.authorizeCall("assistants", "read", { assistant_id: assistantId });
    const options = callOptionsFor(request, callerHeader, request.clientGone);
    const [assistant, graph] = await Promise.all([
      assistants.getAssistant({ assistantId }, options),
      assistants.getAssistantGraph({ assistantId, xray }, options),
    ]);
    const status = isInterrupted(thread)
      ? "interrupted"
      : agentStatusOfRun(run === undefined ? undefined : toApiRunStatus(run.status));
    const resolved = assistant.assistant;
    return success(id, {
      tree: {
        namespace: [],
        status,
        graph_name: resolved?.graphId || assistantId,
        metadata: {
          assistant_id: resolved?.assistantId || assistantId,
          ...(run === undefined ? {} : { run_id: run.runId }),
          graph: jsonFromBytes(graph.graphJson, {}),
        },
      },
    });
  };

  const stateGet = async (request: FastifyRequest, threadId: string, id: number, params: Record<string, unknown>) => {
    await request.authorize("threads", "read", { thread_id: threadId });
    if (Array.isArray(params.namespace) && params.namespace.length > 0) {
      throw new CommandError("not_supported", "state.get reads the root graph's state only (namespace [])");
    }
    let state: unknown;
    try {
      state = jsonFromBytes((await threads.getThreadState({ threadId, subgraphs: false }, readOptions(request))).stateJson, {});
    } catch (err) {
      throw commandErrorOf(err, "no_such_run") ?? err;
    }
    const record = isObject(state) ? state : {};
    const values = isObject(record.values) ? record.values : {};
    const keys =
      Array.isArray(params.keys) && params.keys.every((k) => typeof k === "string") ? (params.keys as string[]) : undefined;
    const checkpoint = isObject(record.checkpoint) ? record.checkpoint : undefined;
    const checkpointId = typeof checkpoint?.checkpoint_id === "string" ? checkpoint.checkpoint_id : undefined;
    return success(id, {
      values: keys === undefined ? values : Object.fromEntries(Object.entries(values).filter(([key]) => keys.includes(key))),
      ...(checkpointId === undefined
        ? {}
        : {
            checkpoint: {
              id: checkpointId,
              ...(typeof checkpoint?.checkpoint_ns === "string" ? { ns: checkpoint.checkpoint_ns } : {}),
            },
          }),
    });
  };

  const HANDLERS: Readonly<
    Record<
      string,
      (request: FastifyRequest, threadId: string, id: number, params: Record<string, unknown>) => Promise<ProtocolSuccess>
    >
  > = {
    "run.start": runStart,
    "input.respond": inputRespond,
    "agent.getTree": agentTree,
    "state.get": stateGet,
  };

  fastify.post(
    "/threads/:thread_id/commands",
    {
      schema: { params: ThreadIdParams, body: CommandBody },
      attachValidation: true,
    },
    async (request, reply) => {
      const malformed = malformedBody(request);
      if (malformed !== undefined) {
        const message = request.body === undefined ? "Request body is required: send a command {id, method, params}" : malformed;
        return reply.code(400).send({ ...failure(envelopeId(request.body), "invalid_argument", message), detail: message });
      }
      const { id, method, params = {} } = request.body;
      const threadId = request.params.thread_id;
      const handler = Object.hasOwn(HANDLERS, method) ? HANDLERS[method] : undefined;
      let code: ProtocolErrorCode = "unknown_command";
      let message = `Unknown protocol command: ${method}`;
      if (handler === undefined) {
        if (Object.hasOwn(NOT_SUPPORTED, method)) {
          code = "not_supported";
          message = NOT_SUPPORTED[method] as string;
        }
        return failure(id, code, message);
      }
      try {
        return await handler(request, threadId, id, params);
      } catch (err) {
        const refusal = commandErrorOf(err);
        if (refusal === undefined) throw err;
        request.log.debug({ err, method }, "Refused protocol command");
        return failure(id, refusal.code, refusal.message);
      }
    },
  );
};
