import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { present } from "../../mappers/common.js";
import { fromApiCronCount, fromApiCronCreate, fromApiCronPatch, fromApiCronSearch, toApiCron } from "../../mappers/crons.js";
import { emptyBodyAsObject } from "../../plugins/json-body.js";
import { readOptions, writeOptions } from "../../plugins/rpc-clients.js";
import { ThreadIdParams } from "../../schemas/common.js";
import { CronCountBody, CronCreateBody, CronIdParams, CronPatchBody, CronSearchBody } from "../../schemas/crons.js";

/**
 * Crons: thread crons run on their thread, stateless crons on a new thread per firing. The
 * api-server checks the schedule and the time zone (INVALID_ARGUMENT, answered 422); the
 * workers fire them.
 */
export const cronRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { crons } = fastify.rpc;

  fastify.post(
    "/threads/:thread_id/runs/crons",
    { schema: { params: ThreadIdParams, body: CronCreateBody } },
    async (request) => {
      const res = await crons.createCron(fromApiCronCreate(request.params.thread_id, request.body), writeOptions(request));
      return toApiCron(present(res.cron, "cron"));
    },
  );

  fastify.post("/runs/crons", { schema: { body: CronCreateBody } }, async (request) => {
    const res = await crons.createCron(fromApiCronCreate("", request.body), writeOptions(request));
    return toApiCron(present(res.cron, "cron"));
  });

  fastify.post("/runs/crons/search", { schema: { body: CronSearchBody }, preValidation: emptyBodyAsObject }, async (request) => {
    const res = await crons.searchCrons(fromApiCronSearch(request.body), readOptions(request));
    return res.crons.map((c) => toApiCron(c, request.body.select));
  });

  fastify.post("/runs/crons/count", { schema: { body: CronCountBody }, preValidation: emptyBodyAsObject }, async (request) => {
    const res = await crons.countCrons(fromApiCronCount(request.body), readOptions(request));
    return Number(res.count);
  });

  fastify.get("/runs/crons/:cron_id", { schema: { params: CronIdParams } }, async (request) => {
    const res = await crons.getCron({ cronId: request.params.cron_id }, readOptions(request));
    return toApiCron(present(res.cron, "cron"));
  });

  fastify.patch(
    "/runs/crons/:cron_id",
    { schema: { params: CronIdParams, body: CronPatchBody }, preValidation: emptyBodyAsObject },
    async (request) => {
      const res = await crons.updateCron(fromApiCronPatch(request.params.cron_id, request.body), writeOptions(request));
      return toApiCron(present(res.cron, "cron"));
    },
  );

  fastify.delete("/runs/crons/:cron_id", { schema: { params: CronIdParams } }, async (request, reply) => {
    await crons.deleteCron({ cronId: request.params.cron_id }, writeOptions(request));
    return reply.code(204).send();
  });
};
