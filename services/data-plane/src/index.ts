// The data plane's state, shared by the api-server (its RPC layer) and the worker: the schema, the
// stores (SQL lives only here), the run queue and its leases, the event logs and signals.

export * from "./checkpoints/checkpoint-service.js";
export * from "./domain/ids.js";
export * from "./domain/multitask.js";
export * from "./domain/run-spec.js";
export * from "./domain/schedule.js";
export * from "./migrations.js";
export * from "./signals/event-logs.js";
export * from "./signals/notices.js";
export * from "./signals/signals.js";
export * from "./signals/wake-ups.js";
export * from "./store/assistant-store.js";
export { type AuthCondition, type AuthFilter, type AuthOperator, restricts } from "./store/auth-filter.js";
export * from "./store/checkpoint-store.js";
export * from "./store/cron-store.js";
export * from "./store/item-store.js";
export { isPgUnavailable, sqlState, translatePgError } from "./store/pg-errors.js";
export * from "./store/run-lease-store.js";
export * from "./store/run-rows.js";
export * from "./store/run-store.js";
export { createPool, inTransaction, type PoolOptions } from "./store/sql.js";
export * from "./store/thread-store.js";
export * from "./store/webhook-store.js";
