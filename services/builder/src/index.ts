export { type BuildOptions, type BuildOutcome, type BuildResult, type BuildSource, type BuildSpec, runBuild } from "./build.js";
export type { BuildRecord, BuildState } from "./build-store.js";
export type { BuildUser } from "./child.js";
export { type BuilderServer, type BuilderServerOptions, startBuilderServer } from "./compose.js";
export { type BuilderConfig, BuilderConfigSchema, BuildSettingsSchema, buildUserOf } from "./config.js";
export { BuildFailure, type Defect, formatDefect } from "./failure.js";
export { SBOM_PATH } from "./sbom.js";
export {
  type BuilderServiceHandle,
  type BuilderServiceOptions,
  createBuilderService,
  DEFAULT_BUILD_CONCURRENCY,
  DEFAULT_BUILD_TIMEOUT_MS,
  toBuildMessage,
} from "./service.js";
export { type GitSourceSpec, gitUrlProblem, MAX_TARBALL_BYTES, redactUrl } from "./source.js";
export { checkProject, DEFAULT_CONFIG_PATH } from "./validate.js";
