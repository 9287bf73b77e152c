import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { Run } from "@langopen/gen/langopen/data/v1/run_pb";
import type { FastifyReply, FastifyRequest } from "fastify";
import { authorizedMetadata, createRunValue } from "../../auth/events.js";
import { present, queryBool, queryList, selectFields } from "../../mappers/common.js";
import {
  fromApiRunCreate,
  fromApiRunStatus,
  fromApiRunsCancel,
  joinResultBody,
  runLocationHeaders,
  snakeCaseRunKeys,
  toApiRun,
  toCancelAction,
} from "../../mappers/runs.js";
import { readOptions, streamOptions, writeOptions } from "../../plugins/rpc-clients.js";
import { runEvents } from "../../plugins/sse.js";
import { ThreadIdParams } from "../../schemas/common.js";
import {
  RUN_FIELDS,
  RunBatchBody,
  RunCancelQuery,
  RunCreateBody,
  RunIdParams,
  RunJoinQuery,
  RunListQuery,
  RunStreamQuery,
  RunsCancelBody,
  RunsCancelQuery,
  StatelessRunIdParams,
} from "../../schemas/runs.js";
import { RequestValidationError } from "../../validation.js";

/** `select` of GET /threads/{thread_id}/runs, checked against the Run fields. */
function runSelect(value: string | string[] | undefined): string[] | undefined {
  const fields = queryList(value);
  if (fields.length === 0) return undefined;
  const unknown = fields.filter((f) => !(RUN_FIELDS as readonly string[]).includes(f));
  if (unknown.length > 0) {
    throw new RequestValidationError(
      `Invalid query parameter: 'select' must list fields among ${RUN_FIELDS.map((f) => JSON.stringify(f)).join(", ")}`,
      "querystring",
    );
  }
  return fields;
}

/** The `Last-Event-ID` header: empty for live events only, `-1` for all of them, else strictly after. */
function lastEventId(request: FastifyRequest): string {
  const value = request.headers["last-event-id"];
  return (Array.isArray(value) ? value[0] : value)?.trim() ?? "";
}

/**
 * Runs on threads, stateless runs, and their streams. Every create answers with
 * `Content-Location` (the run's URL; the thread form for stateless runs too, whose temporary
 * thread the SDKs' reconnect needs), and /stream and /wait with `Location`, where the SDKs
 * reconnect.
 */
export const runRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { runs } = fastify.rpc;

  const createRun = async (request: FastifyRequest, threadId: string, body: RunCreateBody): Promise<Run> => {
    const res = await runs.createRun(fromApiRunCreate(threadId, body), writeOptions(request));
    return present(res.run, "run");
  };

  interface StreamTarget {
    /** Empty for a stateless run looked up by id alone. */
    threadId: string;
    runId: string;
    lastEventId: string;
    streamModes: string[];
    cancelOnDisconnect: boolean;
  }

  const streamRun = (request: FastifyRequest, reply: FastifyReply, target: StreamTarget, headers: Record<string, string>) =>
    reply.sendEventStream({
      headers,
      open: (signal) => runEvents(runs.streamRun(target, streamOptions(request, signal))),
    });

  /**
   * POST .../runs/stream: one call creates the run and streams it from its first event. The
   * call's first message is the created run (errors so far are plain JSON answers); the event
   * stream opens with its Location headers.
   */
  const createAndStream = async (request: FastifyRequest, reply: FastifyReply, threadId: string, body: RunCreateBody) => {
    const call = new AbortController();
    const messages = runs
      .createAndStreamRun(
        { run: fromApiRunCreate(threadId, body), cancelOnDisconnect: body.on_disconnect === "cancel" },
        streamOptions(request, call.signal),
      )
      [Symbol.asyncIterator]();
    try {
      const first = await messages.next();
      const run = present(!first.done && first.value.kind.case === "run" ? first.value.kind.value : undefined, "run");
      const events = async function* () {
        for (let next = await messages.next(); !next.done; next = await messages.next()) {
          if (next.value.kind.case === "event") yield { event: next.value.kind.value };
        }
      };
      await reply.sendEventStream({
        headers: runLocationHeaders(run, "stream"),
        open: (signal) => {
          if (signal.aborted) call.abort(signal.reason);
          else signal.addEventListener("abort", () => call.abort(signal.reason), { once: true });
          return runEvents(events());
        },
      });
      return reply;
    } finally {
      // Whatever ended the answer (its end, the client, a failure before the stream), the call goes too.
      call.abort();
    }
  };

  /** POST .../runs/wait: create, then answer the run's final values (or its `__error__`). */
  const createAndWait = async (request: FastifyRequest, reply: FastifyReply, threadId: string, body: RunCreateBody) => {
    // One call: the api-server creates the run and answers at its end.
    const res = await runs.createAndJoinRun(
      { run: fromApiRunCreate(threadId, body), cancelOnDisconnect: body.on_disconnect === "cancel" },
      readOptions(request),
    );
    reply.headers(runLocationHeaders(present(res.run, "run"), "join"));
    return reply.type("application/json").send(joinResultBody(res.resultJson));
  };

  // Runs on a thread.

  fastify.post(
    "/threads/:thread_id/runs",
    { schema: { params: ThreadIdParams, body: RunCreateBody } },
    async (request, reply) => {
      const run = await createRun(request, request.params.thread_id, request.body);
      reply.headers(runLocationHeaders(run));
      return toApiRun(run);
    },
  );

  fastify.post(
    "/threads/:thread_id/runs/stream",
    { schema: { params: ThreadIdParams, body: RunCreateBody } },
    async (request, reply) => createAndStream(request, reply, request.params.thread_id, request.body),
  );

  fastify.post(
    "/threads/:thread_id/runs/wait",
    { schema: { params: ThreadIdParams, body: RunCreateBody } },
    async (request, reply) => createAndWait(request, reply, request.params.thread_id, request.body),
  );

  fastify.get("/threads/:thread_id/runs", { schema: { params: ThreadIdParams, querystring: RunListQuery } }, async (request) => {
    const { query } = request;
    const select = runSelect(query.select);
    const res = await runs.listRuns(
      {
        threadId: request.params.thread_id,
        limit: query.limit ?? 10,
        offset: query.offset ?? 0,
        status: fromApiRunStatus(query.status),
      },
      readOptions(request),
    );
    return res.runs.map((r) => selectFields(toApiRun(r), select));
  });

  fastify.get("/threads/:thread_id/runs/:run_id", { schema: { params: RunIdParams } }, async (request) => {
    const res = await runs.getRun({ threadId: request.params.thread_id, runId: request.params.run_id }, readOptions(request));
    return toApiRun(present(res.run, "run"));
  });

  fastify.delete("/threads/:thread_id/runs/:run_id", { schema: { params: RunIdParams } }, async (request, reply) => {
    await runs.deleteRun({ threadId: request.params.thread_id, runId: request.params.run_id }, writeOptions(request));
    return reply.code(204).send();
  });

  fastify.get(
    "/threads/:thread_id/runs/:run_id/join",
    { schema: { params: RunIdParams, querystring: RunJoinQuery } },
    async (request, reply) => {
      const res = await runs.joinRun(
        {
          threadId: request.params.thread_id,
          runId: request.params.run_id,
          cancelOnDisconnect: queryBool(request.query.cancel_on_disconnect) ?? false,
        },
        readOptions(request),
      );
      return reply.type("application/json").send(joinResultBody(res.resultJson));
    },
  );

  fastify.get(
    "/threads/:thread_id/runs/:run_id/stream",
    { schema: { params: RunIdParams, querystring: RunStreamQuery } },
    async (request, reply) =>
      streamRun(
        request,
        reply,
        {
          threadId: request.params.thread_id,
          runId: request.params.run_id,
          lastEventId: lastEventId(request),
          streamModes: queryList(request.query.stream_mode),
          cancelOnDisconnect: queryBool(request.query.cancel_on_disconnect) ?? false,
        },
        { location: request.url },
      ),
  );

  fastify.post(
    "/threads/:thread_id/runs/:run_id/cancel",
    { schema: { params: RunIdParams, querystring: RunCancelQuery } },
    async (request, reply) => {
      const wait = queryBool(request.query.wait) ?? false;
      const res = await runs.cancelRun(
        {
          threadId: request.params.thread_id,
          runId: request.params.run_id,
          wait,
          action: toCancelAction(request.query.action),
          reason: request.query.reason ?? "",
        },
        writeOptions(request),
      );
      if (!wait) return reply.code(202).send();
      // A rolled-back run is gone once it has stopped.
      if (res.run === undefined) return reply.code(204).send();
      return toApiRun(res.run);
    },
  );

  fastify.post("/runs/cancel", { schema: { body: RunsCancelBody, querystring: RunsCancelQuery } }, async (request, reply) => {
    await runs.cancelRuns(fromApiRunsCancel(request.body, request.query.action), writeOptions(request));
    return reply.code(204).send();
  });

  // Stateless runs, on a temporary thread (deleted when they end unless on_completion=keep).

  fastify.post("/runs", { schema: { body: RunCreateBody } }, async (request, reply) => {
    const run = await createRun(request, "", request.body);
    reply.headers(runLocationHeaders(run));
    return toApiRun(run);
  });

  fastify.post("/runs/stream", { schema: { body: RunCreateBody } }, async (request, reply) =>
    createAndStream(request, reply, "", request.body),
  );

  fastify.post("/runs/wait", { schema: { body: RunCreateBody } }, async (request, reply) =>
    createAndWait(request, reply, "", request.body),
  );

  fastify.post(
    "/runs/batch",
    {
      schema: { body: RunBatchBody },
      preValidation: async (request) => {
        const body = request.body;
        if (!Array.isArray(body)) throw new RequestValidationError("Request body must be a JSON array of runs", "body");
        if (body.length === 0) throw new RequestValidationError("Invalid body: give at least one run", "body");
        // Checked against the schema right after this hook.
        request.body = body.map(snakeCaseRunKeys) as RunBatchBody;
      },
    },
    async (request) => {
      // Each run is its own event; a filter the handler returns does not apply to stateless runs (no thread).
      for (const item of request.body) {
        const value = await request.authorize("threads", "create_run", createRunValue(null, item));
        item.metadata = authorizedMetadata(value, item.metadata ?? {});
      }
      const res = await runs.createRuns({ runs: request.body.map((b) => fromApiRunCreate("", b)) }, writeOptions(request));
      return res.runs.map(toApiRun);
    },
  );

  fastify.get(
    "/runs/:run_id/stream",
    { schema: { params: StatelessRunIdParams, querystring: RunStreamQuery } },
    async (request, reply) =>
      streamRun(
        request,
        reply,
        {
          threadId: "",
          runId: request.params.run_id,
          lastEventId: lastEventId(request),
          streamModes: queryList(request.query.stream_mode),
          cancelOnDisconnect: queryBool(request.query.cancel_on_disconnect) ?? false,
        },
        { location: request.url },
      ),
  );
};
