export { startApiServer, graphIdsOf, type ApiServer, type ApiServerOptions } from "./compose.js";
export { API_SERVER_DEFAULTS, ApiServerConfigSchema, type ApiServerConfig } from "./config.js";
export { DEPENDENCY_SERVICES } from "./dependency-health.js";
