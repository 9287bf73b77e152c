// The one Connect transport of the app (the gateway serves the RPCs at /portal/rpc, same origin)
// and typed clients for the calls that are not plain queries (streams, imperative actions).
// Queries and mutations go through connect-query's hooks, which take this transport from
// <TransportProvider> in app.tsx.
import { Code, ConnectError, createClient, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { CronService } from "@langopen/gen/langopen/data/v1/cron_service_pb";
import { RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { WebhookService } from "@langopen/gen/langopen/data/v1/webhook_service_pb";
import { credentialHeaders, getSession, requireLogin, waitForLogin } from "./auth/session";
import { noteFailedMethod } from "./lib/errors";

export const RPC_BASE_URL = "/portal/rpc";

/** Notes which RPC failed on the error (for messages), and asks for a sign-in when it was refused for want of one. */
function sawError(error: unknown, method: string, sentKey: string | null): ConnectError {
  const connectError = ConnectError.from(error);
  noteFailedMethod(connectError, method);
  if (connectError.code === Code.Unauthenticated) requireLogin(sentKey);
  return connectError;
}

async function* watchStream<T>(messages: AsyncIterable<T>, method: string, sentKey: string | null): AsyncGenerator<T> {
  try {
    yield* messages;
  } catch (error) {
    throw sawError(error, method, sentKey);
  }
}

/**
 * Adds the caller's credentials to every call. A unary call refused as Unauthenticated waits
 * for the login form and is sent again with the new key, so a page behind a sign-in loads by
 * itself once the user has signed in. A stream is not retried (its request may not be
 * replayable, and a run must not start twice); it fails and the user starts it again.
 */
const credentials: Interceptor = (next) => async (req) => {
  const method = `${req.service.name}.${req.method.name}`;
  for (;;) {
    const sentKey = getSession().apiKey;
    // While the login form is open, a call would only be refused too: it waits for the sign-in.
    if (!req.stream && getSession().prompt !== null) {
      try {
        await waitForLogin(sentKey, req.signal);
      } catch (reason) {
        throw req.signal.aborted
          ? ConnectError.from(reason, Code.Canceled)
          : new ConnectError("sign-in needed", Code.Unauthenticated);
      }
      continue;
    }
    req.header.delete("x-api-key");
    req.header.delete("authorization");
    for (const [name, value] of Object.entries(credentialHeaders())) req.header.set(name, value);
    try {
      const res = await next(req);
      if (!res.stream) return res;
      return { ...res, message: watchStream(res.message, method, sentKey) } satisfies StreamResponse;
    } catch (error) {
      const connectError = sawError(error, method, sentKey);
      if (req.stream || connectError.code !== Code.Unauthenticated) throw connectError;
      try {
        await waitForLogin(sentKey, req.signal);
      } catch (reason) {
        throw req.signal.aborted ? ConnectError.from(reason, Code.Canceled) : connectError;
      }
    }
  }
};

export const transport = createConnectTransport({
  baseUrl: RPC_BASE_URL,
  useBinaryFormat: true,
  interceptors: [credentials],
});

export const assistantClient = createClient(AssistantService, transport);
export const threadClient = createClient(ThreadService, transport);
export const runClient = createClient(RunService, transport);
export const storeClient = createClient(StoreService, transport);
export const cronClient = createClient(CronService, transport);
export const webhookClient = createClient(WebhookService, transport);
