import { create } from "@bufbuild/protobuf";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { CheckpointRefSchema } from "@langopen/gen/langopen/data/v1/thread_pb";
import { jsonPassThrough, present, queryBool } from "../../mappers/common.js";
import { toCheckpointRef } from "../../mappers/runs.js";
import {
  fromApiHistoryQuery,
  fromApiHistorySearch,
  fromApiStatePatch,
  fromApiStateUpdate,
  jsonArrayOf,
  toApiCheckpoint,
} from "../../mappers/state.js";
import { emptyBodyAsObject } from "../../plugins/json-body.js";
import { readOptions, writeOptions } from "../../plugins/rpc-clients.js";
import { ThreadIdParams } from "../../schemas/common.js";
import {
  HistoryBody,
  HistoryQuery,
  StateCheckpointBody,
  StateCheckpointParams,
  StatePatchBody,
  StateQuery,
  StateUpdateBody,
} from "../../schemas/state.js";

/**
 * Thread state and history. States are JSON the runtime writes; they are passed through as bytes
 * (history joined into an array), never re-parsed. `select` is accepted and ignored.
 */
export const stateRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { threads } = fastify.rpc;

  fastify.get(
    "/threads/:thread_id/state",
    { schema: { params: ThreadIdParams, querystring: StateQuery } },
    async (request, reply) => {
      const res = await threads.getThreadState(
        { threadId: request.params.thread_id, subgraphs: queryBool(request.query.subgraphs) ?? false },
        readOptions(request),
      );
      return reply.type("application/json").send(jsonPassThrough(res.stateJson));
    },
  );

  fastify.get(
    "/threads/:thread_id/state/:checkpoint_id",
    { schema: { params: StateCheckpointParams, querystring: StateQuery } },
    async (request, reply) => {
      const res = await threads.getThreadState(
        {
          threadId: request.params.thread_id,
          checkpoint: create(CheckpointRefSchema, { checkpointId: request.params.checkpoint_id }),
          subgraphs: queryBool(request.query.subgraphs) ?? false,
        },
        readOptions(request),
      );
      return reply.type("application/json").send(jsonPassThrough(res.stateJson));
    },
  );

  fastify.post(
    "/threads/:thread_id/state/checkpoint",
    { schema: { params: ThreadIdParams, body: StateCheckpointBody } },
    async (request, reply) => {
      const res = await threads.getThreadState(
        {
          threadId: request.params.thread_id,
          checkpoint: toCheckpointRef(request.body.checkpoint),
          subgraphs: request.body.subgraphs ?? false,
        },
        readOptions(request),
      );
      return reply.type("application/json").send(jsonPassThrough(res.stateJson));
    },
  );

  fastify.post(
    "/threads/:thread_id/state",
    { schema: { params: ThreadIdParams, body: StateUpdateBody }, preValidation: emptyBodyAsObject },
    async (request) => {
      const res = await threads.updateThreadState(
        fromApiStateUpdate(request.params.thread_id, request.body),
        writeOptions(request),
      );
      return { checkpoint: toApiCheckpoint(present(res.checkpoint, "checkpoint")) };
    },
  );

  fastify.patch(
    "/threads/:thread_id/state",
    { schema: { params: ThreadIdParams, body: StatePatchBody } },
    async (request, reply) => {
      await threads.patchThreadState(fromApiStatePatch(request.params.thread_id, request.body), writeOptions(request));
      return reply.code(204).send();
    },
  );

  fastify.get(
    "/threads/:thread_id/history",
    { schema: { params: ThreadIdParams, querystring: HistoryQuery } },
    async (request, reply) => {
      const res = await threads.getThreadHistory(
        fromApiHistoryQuery(request.params.thread_id, request.query),
        readOptions(request),
      );
      return reply.type("application/json").send(jsonArrayOf(res.statesJson));
    },
  );

  fastify.post(
    "/threads/:thread_id/history",
    { schema: { params: ThreadIdParams, body: HistoryBody }, preValidation: emptyBodyAsObject },
    async (request, reply) => {
      const res = await threads.getThreadHistory(
        fromApiHistorySearch(request.params.thread_id, request.body),
        readOptions(request),
      );
      return reply.type("application/json").send(jsonArrayOf(res.statesJson));
    },
  );
};
