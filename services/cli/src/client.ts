import { type CallOptions, type Client, Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ApiKeyService } from "@langopen/gen/langopen/control/v1/api_key_service_pb";
import { AuditService } from "@langopen/gen/langopen/control/v1/audit_service_pb";
import { DeploymentService } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { SecretService } from "@langopen/gen/langopen/control/v1/secret_service_pb";
import { CallFailed, CliError } from "./errors.js";

/** How long one unary call may take; streams (logs) are not limited. */
const UNARY_TIMEOUT_MS = 60_000;

export interface ControlSettings {
  /** The control plane's base URL. */
  url: string;
  apiKey: string;
}

/** Typed clients of the control plane's services, over one HTTP/2 connection. */
export interface Control {
  readonly url: string;
  readonly deployments: Client<typeof DeploymentService>;
  readonly apiKeys: Client<typeof ApiKeyService>;
  readonly secrets: Client<typeof SecretService>;
  readonly audit: Client<typeof AuditService>;
  /**
   * Makes a unary call, naming what it was for ("list deployments") when it fails, so that the
   * error reads `langopen: list deployments: <message>`.
   */
  call<T>(what: string, fn: (options: CallOptions) => Promise<T>): Promise<T>;
  /** Closes the connection (and any stream still open). */
  close(): void;
}

export function createControl(settings: ControlSettings): Control {
  let baseUrl: URL;
  try {
    baseUrl = new URL(settings.url);
    if (baseUrl.protocol !== "http:" && baseUrl.protocol !== "https:") throw new Error("not http(s)");
  } catch {
    throw new CliError(`the control plane URL '${settings.url}' is not an http(s) URL`, "fix LANGOPEN_CONTROL_URL (or --url)");
  }
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${settings.apiKey}`);
    return next(req);
  };
  const sessionManager = new Http2SessionManager(baseUrl);
  const transport = createConnectTransport({
    baseUrl: baseUrl.href,
    httpVersion: "2",
    sessionManager,
    interceptors: [bearer],
  });
  return {
    url: settings.url,
    deployments: createClient(DeploymentService, transport),
    apiKeys: createClient(ApiKeyService, transport),
    secrets: createClient(SecretService, transport),
    audit: createClient(AuditService, transport),
    async call(what, fn) {
      try {
        return await fn({ timeoutMs: UNARY_TIMEOUT_MS });
      } catch (err) {
        throw asCallFailed(what, err, settings.url);
      }
    },
    close() {
      sessionManager.abort();
    },
  };
}

/** Any error of a call as a CallFailed naming what the call was for. */
export function asCallFailed(what: string, err: unknown, url: string): CallFailed {
  if (err instanceof CallFailed) return err;
  return new CallFailed(what, ConnectError.from(err, Code.Unknown), url);
}

/** Whether an error is the control plane telling that something does not exist. */
export function isNotFound(err: unknown): boolean {
  return err instanceof CallFailed ? err.error.code === Code.NotFound : ConnectError.from(err).code === Code.NotFound;
}
