export { startLangOpen, chooseConfig, EXAMPLE_CONFIG, type LangOpen, type LangOpenOptions } from "./compose.js";
export { LauncherConfigSchema, type LauncherConfig } from "./config.js";
