export { DEFAULT_CONTROL_URL, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, runCli } from "./cli.js";
export type { CliIo } from "./context.js";
