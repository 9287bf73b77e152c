export { RuntimeConfigSchema, type RuntimeConfig } from "./config.js";
