import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { paginationHeaders, present, queryList, selectFields } from "../../mappers/common.js";
import {
  fromApiThreadCount,
  fromApiThreadCreate,
  fromApiThreadPatch,
  fromApiThreadPrune,
  fromApiThreadSearch,
  toApiThread,
  toApiThreadStorage,
} from "../../mappers/threads.js";
import { emptyBodyAsObject } from "../../plugins/json-body.js";
import { readOptions, writeOptions } from "../../plugins/rpc-clients.js";
import { runEvents } from "../../plugins/sse.js";
import { ThreadIdParams } from "../../schemas/common.js";
import {
  THREAD_STREAM_MODES,
  ThreadCountBody,
  ThreadCreateBody,
  ThreadGetQuery,
  ThreadPatchBody,
  ThreadPruneBody,
  ThreadSearchBody,
  ThreadStreamQuery,
} from "../../schemas/threads.js";
import { RequestValidationError } from "../../validation.js";
import { sendThreadStream } from "./thread-stream.js";

/** `Prefer: return=minimal` (RFC 7240), possibly among other preferences. */
function prefersMinimal(header: string | string[] | undefined): boolean {
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  return values.some((v) => v.split(",").some((pref) => /^\s*return\s*=\s*"?minimal"?\s*(?:;.*)?$/i.test(pref)));
}

/** The modes of a thread stream from `stream_mode` (the SDKs) and `stream_modes` (the spec), checked. */
function threadStreamModes(query: ThreadStreamQuery): string[] {
  const modes = [...queryList(query.stream_mode), ...queryList(query.stream_modes)];
  const unknown = modes.find((m) => !(THREAD_STREAM_MODES as readonly string[]).includes(m));
  if (unknown !== undefined) {
    const name = queryList(query.stream_mode).includes(unknown) ? "stream_mode" : "stream_modes";
    throw new RequestValidationError(
      `Invalid query parameter: '${name}' must be one of ${THREAD_STREAM_MODES.map((m) => JSON.stringify(m)).join(", ")}`,
      "querystring",
    );
  }
  return [...new Set(modes)];
}

/** The `Last-Event-ID` header: empty for live events only, `-` for everything kept, else strictly after. */
function lastEventId(request: FastifyRequest): string {
  const value = request.headers["last-event-id"];
  return (Array.isArray(value) ? value[0] : value)?.trim() ?? "";
}

/** Threads without their runs and state (those come with the runtime). */
export const threadRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { threads } = fastify.rpc;

  fastify.post("/threads", { schema: { body: ThreadCreateBody }, preValidation: emptyBodyAsObject }, async (request) => {
    const res = await threads.createThread(fromApiThreadCreate(request.body), writeOptions(request));
    return toApiThread(present(res.thread, "thread"));
  });

  fastify.post(
    "/threads/search",
    { schema: { body: ThreadSearchBody }, preValidation: emptyBodyAsObject },
    async (request, reply) => {
      const body = request.body;
      const res = await threads.searchThreads(fromApiThreadSearch(body), readOptions(request));
      const extracted = body.extract !== undefined && Object.keys(body.extract).length > 0;
      const select = body.select !== undefined && extracted ? [...body.select, "extracted"] : body.select;
      reply.headers(paginationHeaders(body.offset ?? 0, res.threads.length, Number(res.totalSize)));
      return res.threads.map((t) => selectFields(toApiThread(t, { extracted }), select));
    },
  );

  fastify.post("/threads/count", { schema: { body: ThreadCountBody }, preValidation: emptyBodyAsObject }, async (request) => {
    const res = await threads.countThreads(fromApiThreadCount(request.body), readOptions(request));
    return Number(res.count);
  });

  fastify.post("/threads/prune", { schema: { body: ThreadPruneBody } }, async (request) => {
    const res = await threads.pruneThreads(fromApiThreadPrune(request.body), writeOptions(request));
    return { pruned_count: Number(res.prunedCount) };
  });

  fastify.get("/threads/:thread_id", { schema: { params: ThreadIdParams, querystring: ThreadGetQuery } }, async (request) => {
    const includeTtl = queryList(request.query.include).includes("ttl");
    const res = await threads.getThread({ threadId: request.params.thread_id, includeTtl }, readOptions(request));
    return toApiThread(present(res.thread, "thread"));
  });

  fastify.patch(
    "/threads/:thread_id",
    { schema: { params: ThreadIdParams, body: ThreadPatchBody }, preValidation: emptyBodyAsObject },
    async (request, reply) => {
      const res = await threads.updateThread(fromApiThreadPatch(request.params.thread_id, request.body), writeOptions(request));
      if (prefersMinimal(request.headers.prefer)) return reply.code(204).send();
      return toApiThread(present(res.thread, "thread"));
    },
  );

  fastify.delete("/threads/:thread_id", { schema: { params: ThreadIdParams } }, async (request, reply) => {
    await threads.deleteThread({ threadId: request.params.thread_id }, writeOptions(request));
    return reply.code(204).send();
  });

  fastify.post("/threads/:thread_id/copy", { schema: { params: ThreadIdParams } }, async (request) => {
    const res = await threads.copyThread({ threadId: request.params.thread_id }, writeOptions(request));
    return toApiThread(present(res.thread, "thread"));
  });

  /* Every run on the thread, one after another, until the client leaves. `Location` is where the SDKs reconnect. */
  fastify.get(
    "/threads/:thread_id/stream",
    { schema: { params: ThreadIdParams, querystring: ThreadStreamQuery } },
    async (request, reply) => {
      await sendThreadStream(
        threads,
        request,
        reply,
        { threadId: request.params.thread_id, lastEventId: lastEventId(request), streamModes: threadStreamModes(request.query) },
        runEvents,
        { location: request.url },
      );
    },
  );

  fastify.get("/threads/:thread_id/storage", { schema: { params: ThreadIdParams } }, async (request) => {
    const res = await threads.getThreadStorage({ threadId: request.params.thread_id }, readOptions(request));
    return toApiThreadStorage(present(res.storage, "storage"));
  });
};
