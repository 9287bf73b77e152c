export { startApiServer, graphIdsOf, MIGRATIONS_DIR, type ApiServer, type ApiServerOptions } from "./compose.js";
export { ApiServerConfigSchema, type ApiServerConfig } from "./config.js";
export { defaultAssistantId, DEFAULT_ASSISTANT_NAMESPACE } from "./domain/ids.js";
export { createRunStore, type ClaimedRun, type RunRow, type RunStore } from "./store/run-store.js";
export { decodeSpec } from "./domain/run-spec.js";
export { createThreadStore, type ThreadStore, type ThreadSweep } from "./store/thread-store.js";
export { createItemStore, type ItemStore } from "./store/item-store.js";
export { createCronStore, type CronRow, type CronStore, type FireStep, type FiringOutcome } from "./store/cron-store.js";
export { createWebhookStore, type WebhookDeliveryRow, type WebhookStore } from "./store/webhook-store.js";
