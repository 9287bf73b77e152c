import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Transport } from "@connectrpc/connect";

/** A binary gRPC transport over HTTP/2 to another service; create one per target, in compose. */
export function createRpcTransport(baseUrl: string): Transport {
  return createGrpcTransport({ baseUrl, pingIntervalMs: 10_000, idleConnectionTimeoutMs: 60_000 });
}
