import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { parseJsonBytes } from "@langopen/common";
import type { StreamThreadResponse } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import type { SseEvent } from "../../plugins/sse.js";
import { type EventFilter, matchesFilter, ProtocolEventTranslator } from "../../protocol-v2/index.js";
import { ThreadIdParams } from "../../schemas/common.js";
import { EventStreamBody } from "../../schemas/protocol-v2.js";
import { sendThreadStream } from "../threads/thread-stream.js";
import { malformedBody } from "./body.js";

/** A log entry's data; a malformed one (never written by the workers) counts as null. */
function parseData(bytes: Uint8Array): unknown {
  try {
    return parseJsonBytes<unknown>(bytes, null);
  } catch {
    return null;
  }
}

/**
 * The v2 frames of a thread stream: every log entry translated (so that the numbering is the
 * same on every connection), then only what the connection asked for, after its `since`.
 */
export async function* protocolFrames(
  messages: AsyncIterable<StreamThreadResponse>,
  filter: EventFilter,
): AsyncIterable<SseEvent> {
  const translator = new ProtocolEventTranslator();
  for await (const message of messages) {
    const entry = message.event;
    if (entry === undefined) continue;
    for (const event of translator.translate({ id: entry.id, event: entry.event, data: parseData(entry.dataJson) })) {
      if (filter.since !== undefined && event.seq <= filter.since) continue;
      if (!matchesFilter(filter, event)) continue;
      yield { id: String(event.seq), event: event.method, dataJson: Buffer.from(JSON.stringify(event)) };
    }
  }
}

/**
 * POST /threads/{thread_id}/stream/events: a protocol v2 event stream scoped to this
 * connection. It reads the thread's log from its start (ThreadService.StreamThread with
 * Last-Event-ID "-"), numbers the v2 events made from it, and sends the ones matching the
 * body's channels, namespaces and depth, after `since` when given, then live ones until the
 * client leaves (or the thread is deleted). Frames are `event: <method>`, `id: <seq>` and the
 * event as data. A missing thread is a plain 404 before the stream starts; a body that cannot
 * be read is 400.
 */
export const eventStreamRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { threads } = fastify.rpc;

  fastify.post(
    "/threads/:thread_id/stream/events",
    { schema: { params: ThreadIdParams, body: EventStreamBody }, attachValidation: true },
    async (request, reply) => {
      const malformed = malformedBody(request);
      if (malformed !== undefined) {
        const detail =
          request.body === undefined ? "Request body is required: send {channels, namespaces?, depth?, since?}" : malformed;
        return reply.code(400).send({ detail });
      }
      const body = request.body;
      const filter: EventFilter = {
        channels: new Set(body.channels),
        namespaces: body.namespaces,
        depth: body.depth,
        since: body.since,
      };
      await sendThreadStream(
        threads,
        request,
        reply,
        { threadId: request.params.thread_id, lastEventId: "-", streamModes: ["run_modes"] },
        (messages) => protocolFrames(messages, filter),
      );
    },
  );
};
