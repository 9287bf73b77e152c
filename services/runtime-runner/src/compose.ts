import { createClient } from "@connectrpc/connect";
import { createReplicatedTransport, type Logger, type RpcServer, startRpcServer, urlList } from "@langopen/common";
import { CheckpointService } from "@langopen/gen/langopen/data/v1/checkpoint_service_pb";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { createGraphRegistry, type GraphRegistry } from "./graphs/registry.js";
import { createRuntimeServiceImpl } from "./rpc/runtime-service.js";

export interface RuntimeOptions {
  /** The langgraph.json whose graphs this runtime hosts. */
  configPath: string;
  host: string;
  port: number;
  /** The api-server serving CheckpointService and StoreService. */
  apiServerUrl: string;
  /** A graph whose module takes longer than this to load is reported as failed. */
  graphLoadTimeoutMs?: number;
}

export interface Runtime {
  readonly rpc: RpcServer;
  readonly graphs: GraphRegistry;
  stop(graceMs?: number): Promise<void>;
}

/** The composition root of the runtime: graphs, data-plane clients, RuntimeService, server. */
export async function startRuntime(options: RuntimeOptions, logger: Logger): Promise<Runtime> {
  const graphs = await createGraphRegistry({
    configPath: options.configPath,
    logger: logger.child({ component: "graphs" }),
    loadTimeoutMs: options.graphLoadTimeoutMs,
  });
  const dataPlane = createReplicatedTransport(urlList(options.apiServerUrl));
  const rpc = await startRpcServer({
    host: options.host,
    port: options.port,
    logger,
    services: [RuntimeService],
    routes: (router) => {
      router.service(
        RuntimeService,
        createRuntimeServiceImpl({
          graphs,
          checkpoints: createClient(CheckpointService, dataPlane),
          store: createClient(StoreService, dataPlane),
          logger: logger.child({ component: "runtime" }),
        }),
      );
    },
  });
  const loaded = graphs.list();
  logger.info(
    {
      url: rpc.url,
      graphs: loaded.filter((g) => g.loaded).map((g) => g.graphId),
      failed: loaded.filter((g) => !g.loaded).map((g) => g.graphId),
    },
    "Runtime is ready",
  );
  return {
    rpc,
    graphs,
    stop: (graceMs) => rpc.close(graceMs),
  };
}
