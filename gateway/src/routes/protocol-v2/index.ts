import type { FastifyPluginAsync } from "fastify";
import { acceptMalformedJson } from "./body.js";
import { commandRoutes } from "./commands.js";
import { eventStreamRoutes } from "./events.js";

/**
 * Protocol v2 over HTTP: POST /threads/{thread_id}/commands and the connection-scoped event
 * streams of POST /threads/{thread_id}/stream/events. (The WebSocket transport of the same
 * path is not served.) Their contract answers 400 for a body that cannot be read, so in this
 * scope invalid JSON reaches the handlers instead of failing the request with 422.
 */
export const protocolV2Routes: FastifyPluginAsync = async (fastify) => {
  acceptMalformedJson(fastify);
  await fastify.register(commandRoutes);
  await fastify.register(eventStreamRoutes);
};
