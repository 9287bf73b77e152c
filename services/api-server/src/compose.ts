import { fileURLToPath } from "node:url";
import {
  createPool,
  type Logger,
  migrate,
  readLanggraphConfig,
  type RpcServer,
  startRpcServer,
} from "@langopen/common";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { CheckpointService } from "@langopen/gen/langopen/data/v1/checkpoint_service_pb";
import { CronService } from "@langopen/gen/langopen/data/v1/cron_service_pb";
import { RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { defaultAssistantId } from "./domain/ids.js";
import { createAssistantServiceImpl } from "./rpc/assistant-service.js";
import { createStoreServiceImpl } from "./rpc/store-service.js";
import { createThreadServiceImpl } from "./rpc/thread-service.js";
import { createAssistantStore } from "./store/assistant-store.js";
import { createItemStore } from "./store/item-store.js";
import { createThreadStore } from "./store/thread-store.js";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../migrations", import.meta.url));

export interface ApiServerOptions {
  databaseUrl: string;
  host: string;
  port: number;
  poolSize?: number;
  /** The graphs served: their ids get default assistants. */
  graphIds: string[];
  refreshTtlOnRead?: boolean;
}

export interface ApiServer {
  readonly rpc: RpcServer;
  stop(graceMs?: number): Promise<void>;
}

/** The composition root of the api-server: migrations, pool, stores, RPC services, server. */
export async function startApiServer(options: ApiServerOptions, logger: Logger): Promise<ApiServer> {
  await migrate(options.databaseUrl, MIGRATIONS_DIR, logger);
  const pool = createPool({ connectionString: options.databaseUrl, max: options.poolSize, applicationName: "langopen-api-server" }, logger);
  const assistants = createAssistantStore(pool);
  const threads = createThreadStore(pool);
  const items = createItemStore(pool);
  const graphIds = new Set(options.graphIds);

  for (const graphId of graphIds) {
    await assistants.create(defaultAssistantId(graphId), {
      graph_id: graphId,
      config: {},
      context: {},
      metadata: { created_by: "system" },
      name: graphId,
      description: null,
    });
  }

  const services = [AssistantService, ThreadService, StoreService, RunService, CronService, CheckpointService];
  const rpc = await startRpcServer({
    host: options.host,
    port: options.port,
    logger,
    services,
    routes: (router) => {
      router.service(AssistantService, createAssistantServiceImpl({ assistants, graphIds: () => graphIds }));
      router.service(ThreadService, createThreadServiceImpl({ threads }));
      router.service(StoreService, createStoreServiceImpl({ items, refreshTtlOnRead: options.refreshTtlOnRead ?? true }));
      // Runs, crons and checkpoints arrive with the run engine; until then they answer UNIMPLEMENTED.
      router.service(RunService, {});
      router.service(CronService, {});
      router.service(CheckpointService, {});
    },
  });

  return {
    rpc,
    async stop(graceMs) {
      await rpc.close(graceMs);
      await pool.end();
    },
  };
}

/** Graph ids of a langgraph.json, or none. */
export async function graphIdsOf(configPath: string | undefined): Promise<string[]> {
  return configPath ? Object.keys((await readLanggraphConfig(configPath)).graphs) : [];
}
