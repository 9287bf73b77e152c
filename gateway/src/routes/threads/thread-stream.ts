import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StreamThreadRequestSchema, StreamThreadResponse } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import type { FastifyReply, FastifyRequest } from "fastify";
import { type RpcClients, streamOptions } from "../../plugins/rpc-clients.js";
import type { SseEvent } from "../../plugins/sse.js";

/**
 * Answers with a thread's stream. The stream is opened before the answer starts: its first
 * message (which carries no event) comes once the api-server has found the thread and checked
 * the request, so those failures are still plain JSON errors (404, 422) rather than events. The
 * call ends however the answer ends (also for HEAD, which never reads it).
 */
export async function sendThreadStream(
  threads: RpcClients["threads"],
  request: FastifyRequest,
  reply: FastifyReply,
  input: MessageInitShape<typeof StreamThreadRequestSchema>,
  frames: (messages: AsyncIterable<StreamThreadResponse>) => AsyncIterable<SseEvent>,
  headers?: Record<string, string>,
): Promise<void> {
  const call = new AbortController();
  const onGone = () => call.abort();
  request.clientGone.addEventListener("abort", onGone, { once: true });
  const iterator = threads.streamThread(input, streamOptions(request, call.signal))[Symbol.asyncIterator]();
  try {
    await iterator.next();
  } catch (err) {
    call.abort();
    throw err;
  } finally {
    request.clientGone.removeEventListener("abort", onGone);
  }
  try {
    await reply.sendEventStream({
      headers,
      closesAtEnd: false,
      open: (signal) => {
        if (signal.aborted) call.abort();
        else signal.addEventListener("abort", () => call.abort(), { once: true });
        return frames({ [Symbol.asyncIterator]: () => iterator });
      },
    });
  } finally {
    call.abort();
  }
}
