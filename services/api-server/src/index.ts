export { startApiServer, graphIdsOf, MIGRATIONS_DIR, type ApiServer, type ApiServerOptions } from "./compose.js";
export { ApiServerConfigSchema, type ApiServerConfig } from "./config.js";
export { defaultAssistantId, DEFAULT_ASSISTANT_NAMESPACE } from "./domain/ids.js";
export { createRunStore, type ClaimedRun, type RunRow, type RunStore } from "./store/run-store.js";
export { decodeSpec } from "./domain/run-spec.js";
