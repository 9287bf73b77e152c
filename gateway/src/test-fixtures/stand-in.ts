import { type ConnectRouter, createRouterTransport, type Transport } from "@connectrpc/connect";
import { createLogger } from "@langopen/common";
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
