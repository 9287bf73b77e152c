import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type HandlerContext } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@langopen/gen/google/rpc/error_details_pb";
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as Status,
} from "@langopen/gen/health/v1/health_pb";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { notFound } from "./errors.js";
import { createInProcessTransport, recordRoutes } from "./in-process-transport.js";
import { edgeInterceptor } from "./rpc-server.js";

const logger = pino({ level: "silent" });

/** A Health service whose behaviour each test picks by the service name asked for. */
function setup() {
  const seen: { ctx?: HandlerContext; aborted?: boolean } = {};
  const shutdown = new AbortController();
  const routes = recordRoutes((router) => {
    router.service(Health, {
      async check(req, ctx) {
        seen.ctx = ctx;
        switch (req.service) {
          case "missing":
            throw notFound("Thread", "t1");
          case "boom":
            throw new Error("secret detail");
          case "hang":
            await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
            seen.aborted = ctx.signal.aborted;
            return { status: Status.SERVING };
          default:
            return create(HealthCheckResponseSchema, { status: Status.SERVING });
        }
      },
      async *watch(_req, ctx) {
        seen.ctx = ctx;
        yield { status: Status.SERVING };
        if (!ctx.signal.aborted) {
          await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
        }
        seen.aborted = true;
        throw ctx.signal.reason;
      },
    });
  });
  const transport = createInProcessTransport({
    routes,
    interceptors: [edgeInterceptor(logger)],
    shutdownSignal: shutdown.signal,
  });
  return { client: createClient(Health, transport), seen, shutdown };
}

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ConnectError) return err;
    throw err;
  }
  throw new Error("expected a failure");
}

describe("createInProcessTransport", () => {
  it("answers with the handler's message and passes request headers", async () => {
    const { client, seen } = setup();
    const res = await client.check({ service: "" }, { headers: { "x-request-id": "r1" } });
    expect(res.status).toBe(Status.SERVING);
    expect(seen.ctx?.requestHeader.get("x-request-id")).toBe("r1");
  });

  it("ends a call at once when the caller aborts, and aborts the handler's signal", async () => {
    const { client, seen } = setup();
    const controller = new AbortController();
    const pending = client.check({ service: "hang" }, { signal: controller.signal });
    controller.abort();
    expect((await failure(pending)).code).toBe(Code.Canceled);
    expect(seen.ctx?.signal.aborted).toBe(true);
  });

  it("keeps a ConnectError's code, message and details, in their wire form", async () => {
    const { client } = setup();
    const err = await failure(client.check({ service: "missing" }));
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toBe("Thread t1 not found");
    expect(err.details.every((d) => "type" in d)).toBe(true);
    expect(err.findDetails(ErrorInfoSchema)[0]?.reason).toBe("NOT_FOUND");
    expect(err.cause).toBeUndefined();
  });

  it("runs the server's interceptors: an unexpected error becomes INTERNAL without its text", async () => {
    const { client } = setup();
    const err = await failure(client.check({ service: "boom" }));
    expect(err.code).toBe(Code.Internal);
    expect(err.message).not.toContain("secret");
  });

  it("ends a call at its deadline and aborts the handler's signal", async () => {
    const { client, seen } = setup();
    const err = await failure(client.check({ service: "hang" }, { timeoutMs: 20 }));
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(seen.ctx?.signal.aborted).toBe(true);
    expect(seen.ctx?.timeoutMs()).toBeDefined();
  });

  it("streams, and the caller's abort reaches the handler", async () => {
    const { client, seen } = setup();
    const controller = new AbortController();
    const statuses: Status[] = [];
    const err = await failure(
      (async () => {
        for await (const res of client.watch({ service: "" }, { signal: controller.signal })) {
          statuses.push(res.status);
          controller.abort();
        }
      })(),
    );
    expect(statuses).toEqual([Status.SERVING]);
    expect(err.code).toBe(Code.Canceled);
    expect(seen.ctx?.signal.aborted).toBe(true);
  });

  it("ends open streams with the server's shutdown reason", async () => {
    const { client, shutdown } = setup();
    const err = await failure(
      (async () => {
        for await (const _ of client.watch({ service: "" })) {
          shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable));
        }
      })(),
    );
    expect(err.code).toBe(Code.Unavailable);
  });
});
