export { callerKey, type RequestCaller } from "./caller.js";
export { type ApiServer, type ApiServerLimits, type ApiServerOptions, graphIdsOf, startApiServer } from "./compose.js";
export { API_SERVER_DEFAULTS, type ApiServerConfig, ApiServerConfigSchema, apiServerLimits } from "./config.js";
export { DEPENDENCY_SERVICES } from "./dependency-health.js";
