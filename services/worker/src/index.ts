export { WorkerConfigSchema, type WorkerConfig } from "./config.js";
