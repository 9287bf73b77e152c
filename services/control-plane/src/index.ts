export { MIGRATIONS_DIR, type Platform, type PlatformOptions, startPlatform } from "./compose.js";
export { type PlatformConfig, PlatformConfigSchema } from "./config.js";
export type { DataPlanePhase, DesiredDataPlane, Driver, ObservedDataPlane } from "./driver/contract.js";
export { LocalDriver } from "./driver/local.js";
