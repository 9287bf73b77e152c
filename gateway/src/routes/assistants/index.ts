import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import {
  fromApiAssistantCount,
  fromApiAssistantCreate,
  fromApiAssistantPatch,
  fromApiAssistantSearch,
  fromApiAssistantVersions,
  toApiAssistant,
  toApiAssistantVersion,
  xrayDepth,
} from "../../mappers/assistants.js";
import { jsonPassThrough, paginationHeaders, present, queryBool, selectFields } from "../../mappers/common.js";
import { emptyBodyAsObject } from "../../plugins/json-body.js";
import { readOptions, writeOptions } from "../../plugins/rpc-clients.js";
import {
  AssistantCountBody,
  AssistantCreateBody,
  AssistantDeleteQuery,
  AssistantGraphQuery,
  AssistantLatestBody,
  AssistantLatestQuery,
  AssistantPatchBody,
  AssistantSearchBody,
  AssistantSubgraphParams,
  AssistantSubgraphsQuery,
  AssistantVersionsBody,
} from "../../schemas/assistants.js";
import { AssistantIdParams } from "../../schemas/common.js";
import { RequestValidationError } from "../../validation.js";

/**
 * Assistants and their versions. Every `{assistant_id}` also accepts a graph id, which the
 * api-server resolves to the graph's default assistant, so ids are not checked as UUIDs here.
 */
export const assistantRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { assistants } = fastify.rpc;

  fastify.post("/assistants", { schema: { body: AssistantCreateBody } }, async (request) => {
    const res = await assistants.createAssistant(fromApiAssistantCreate(request.body), writeOptions(request));
    return toApiAssistant(present(res.assistant, "assistant"));
  });

  fastify.post(
    "/assistants/search",
    { schema: { body: AssistantSearchBody }, preValidation: emptyBodyAsObject },
    async (request, reply) => {
      const body = request.body;
      const res = await assistants.searchAssistants(fromApiAssistantSearch(body), readOptions(request));
      reply.headers(paginationHeaders(body.offset ?? 0, res.assistants.length, Number(res.totalSize)));
      return res.assistants.map((a) => selectFields(toApiAssistant(a), body.select));
    },
  );

  fastify.post(
    "/assistants/count",
    { schema: { body: AssistantCountBody }, preValidation: emptyBodyAsObject },
    async (request) => {
      const res = await assistants.countAssistants(fromApiAssistantCount(request.body), readOptions(request));
      return Number(res.count);
    },
  );

  fastify.get("/assistants/:assistant_id", { schema: { params: AssistantIdParams } }, async (request) => {
    const res = await assistants.getAssistant({ assistantId: request.params.assistant_id }, readOptions(request));
    return toApiAssistant(present(res.assistant, "assistant"));
  });

  fastify.patch(
    "/assistants/:assistant_id",
    { schema: { params: AssistantIdParams, body: AssistantPatchBody }, preValidation: emptyBodyAsObject },
    async (request) => {
      const req = fromApiAssistantPatch(request.params.assistant_id, request.body);
      const res = await assistants.updateAssistant(req, writeOptions(request));
      return toApiAssistant(present(res.assistant, "assistant"));
    },
  );

  fastify.delete(
    "/assistants/:assistant_id",
    { schema: { params: AssistantIdParams, querystring: AssistantDeleteQuery } },
    async (request, reply) => {
      await assistants.deleteAssistant(
        { assistantId: request.params.assistant_id, deleteThreads: queryBool(request.query.delete_threads) ?? false },
        writeOptions(request),
      );
      return reply.code(204).send();
    },
  );

  fastify.post(
    "/assistants/:assistant_id/versions",
    { schema: { params: AssistantIdParams, body: AssistantVersionsBody }, preValidation: emptyBodyAsObject },
    async (request) => {
      const req = fromApiAssistantVersions(request.params.assistant_id, request.body);
      const res = await assistants.listAssistantVersions(req, readOptions(request));
      return res.versions.map(toApiAssistantVersion);
    },
  );

  fastify.post(
    "/assistants/:assistant_id/latest",
    {
      schema: { params: AssistantIdParams, body: AssistantLatestBody, querystring: AssistantLatestQuery },
      preValidation: emptyBodyAsObject,
    },
    async (request) => {
      // The SDKs send the version in the body; the spec puts it in the query.
      const version = request.body.version ?? request.query.version;
      if (version === undefined) {
        throw new RequestValidationError("Invalid body: 'version' is required", "body");
      }
      const res = await assistants.setLatestAssistantVersion(
        { assistantId: request.params.assistant_id, version },
        writeOptions(request),
      );
      return toApiAssistant(present(res.assistant, "assistant"));
    },
  );

  // Graph-aware answers come from the runtime through the api-server as JSON bytes, passed through.

  fastify.get(
    "/assistants/:assistant_id/graph",
    { schema: { params: AssistantIdParams, querystring: AssistantGraphQuery } },
    async (request, reply) => {
      const res = await assistants.getAssistantGraph(
        { assistantId: request.params.assistant_id, xray: xrayDepth(request.query.xray) },
        readOptions(request),
      );
      return reply.type("application/json").send(jsonPassThrough(res.graphJson));
    },
  );

  fastify.get("/assistants/:assistant_id/schemas", { schema: { params: AssistantIdParams } }, async (request, reply) => {
    const res = await assistants.getAssistantSchemas({ assistantId: request.params.assistant_id }, readOptions(request));
    return reply.type("application/json").send(jsonPassThrough(res.schemasJson));
  });

  fastify.get(
    "/assistants/:assistant_id/subgraphs",
    { schema: { params: AssistantIdParams, querystring: AssistantSubgraphsQuery } },
    async (request, reply) => {
      const res = await assistants.getAssistantSubgraphs(
        { assistantId: request.params.assistant_id, recurse: queryBool(request.query.recurse) ?? false },
        readOptions(request),
      );
      return reply.type("application/json").send(jsonPassThrough(res.subgraphsJson));
    },
  );

  fastify.get(
    "/assistants/:assistant_id/subgraphs/:namespace",
    { schema: { params: AssistantSubgraphParams, querystring: AssistantSubgraphsQuery } },
    async (request, reply) => {
      const res = await assistants.getAssistantSubgraphs(
        {
          assistantId: request.params.assistant_id,
          namespace: request.params.namespace,
          recurse: queryBool(request.query.recurse) ?? false,
        },
        readOptions(request),
      );
      return reply.type("application/json").send(jsonPassThrough(res.subgraphsJson));
    },
  );
};
