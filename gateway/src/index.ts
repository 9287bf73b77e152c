export { buildApp, DEFAULT_BODY_LIMIT_BYTES, EXPOSED_HEADERS, type GatewayDeps, type GatewayInfo } from "./app.js";
export { type AuthSources, authConfigured, type CustomAuth, loadAuth, type OidcSettings } from "./auth/index.js";
export { GATEWAY_DEFAULTS, type GatewayConfig, GatewayConfigSchema, oidcSettingsOf } from "./config.js";
export type { AuthOptions } from "./plugins/auth.js";
export { assertSafeBinding, type BindingChoice, isLoopbackAddress, parseHostList } from "./plugins/host-check.js";
export { DEFAULT_JSON_LIMITS, type JsonLimits } from "./plugins/json-body.js";
export { createRpcClients, type RpcClients } from "./plugins/rpc-clients.js";
export { DEFAULT_HEARTBEAT_MS } from "./plugins/sse.js";
export { defaultPortalDir, PORTAL_PATH, PORTAL_RPC_PREFIX, portalAppPlugin } from "./routes/portal/index.js";
