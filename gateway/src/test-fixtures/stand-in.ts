import { create } from "@bufbuild/protobuf";
import { type ConnectRouter, createRouterTransport, type Transport } from "@connectrpc/connect";
import { createLogger, jsonBytes } from "@langopen/common";
import { type Run, RunSchema, RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";
import type { FastifyInstance } from "fastify";
import { afterEach } from "vitest";
import { buildApp } from "../app.js";

export interface RecordedCall {
  method: string;
  /** The request of a unary call; undefined for streams. */
  input: unknown;
}

/**
 * Route tests' gateway: the real app in front of a stand-in api-server whose services are the
 * given routes, served in memory by Connect's router transport. Every call the gateway makes is
 * recorded (`calls` with their requests, `methods` by name). The app is closed after each test.
 */
export function standInGateway(service: string) {
  const logger = createLogger({ service, level: "silent" });
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  return async function start(routes: (router: ConnectRouter) => void = () => {}) {
    const calls: RecordedCall[] = [];
    const methods: string[] = [];
    const inner = createRouterTransport(routes);
    const transport: Transport = {
      unary(method, signal, timeoutMs, header, input, contextValues) {
        calls.push({ method: method.name, input });
        methods.push(method.name);
        return inner.unary(method, signal, timeoutMs, header, input, contextValues);
      },
      stream(method, signal, timeoutMs, header, input, contextValues) {
        calls.push({ method: method.name, input: undefined });
        methods.push(method.name);
        return inner.stream(method, signal, timeoutMs, header, input, contextValues);
      },
    };
    app = await buildApp({ logger, transport });
    return { app, calls, methods };
  };
}

/**
 * A run as the stand-in api-server answers it from RunService (CreateRun, CreateOrResumeRun,
 * CancelRun, ...): pending on `threadId`, its stored create body empty unless given.
 */
export function standInRun(threadId: string, fields: Partial<Pick<Run, "runId" | "assistantId" | "status">> = {}): Run {
  return create(RunSchema, {
    runId: "0190b3c2-8c4f-7000-8000-0000000000f1",
    threadId,
    assistantId: "0190b3c2-8c4f-7000-8000-0000000000a1",
    createTime: { seconds: 1719335433n, nanos: 0 },
    updateTime: { seconds: 1719335433n, nanos: 0 },
    status: RunStatus.PENDING,
    kwargsJson: jsonBytes({ input: null }),
    ...fields,
  });
}
