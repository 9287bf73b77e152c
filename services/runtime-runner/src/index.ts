export { type Runtime, type RuntimeOptions, type RuntimeStartedMessage, startRuntime } from "./compose.js";
export { type RuntimeConfig, RuntimeConfigSchema } from "./config.js";
export type { GraphRegistry, GraphStatus } from "./graphs/registry.js";
export {
  type BuiltModules,
  DEFAULT_SANDBOX_ID,
  isLangOpenVariable,
  type PreparedProject,
  prepareProject,
  readSandboxAllowances,
  SANDBOX_MODES,
  type SandboxAllowance,
  type SandboxMode,
  type SandboxSettings,
  type SandboxSpawn,
  sandboxEnv,
} from "./sandbox/index.js";
