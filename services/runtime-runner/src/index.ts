export { type Runtime, type RuntimeOptions, type RuntimeStartedMessage, startRuntime } from "./compose.js";
export { type RuntimeConfig, RuntimeConfigSchema } from "./config.js";
export type { GraphRegistry, GraphStatus } from "./graphs/registry.js";
