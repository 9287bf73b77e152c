export { chooseConfig, EXAMPLE_CONFIG, type LangOpen, type LangOpenOptions, startLangOpen } from "./compose.js";
export { type LauncherConfig, LauncherConfigSchema } from "./config.js";
export { startEmbeddedPostgres } from "./embedded-postgres.js";
