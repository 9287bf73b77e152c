export { MIGRATIONS_DIR, type Platform, type PlatformOptions, startPlatform } from "./compose.js";
export { type PlatformConfig, PlatformConfigSchema } from "./config.js";
export type {
  ComponentReplicas,
  DataPlaneCondition,
  DataPlanePhase,
  DesiredDataPlane,
  Driver,
  ObservedDataPlane,
} from "./driver/contract.js";
export { KubernetesDriver, type KubernetesDriverOptions, observeAgentDeployment } from "./driver/kubernetes.js";
export { LocalDriver } from "./driver/local.js";
