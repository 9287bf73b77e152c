// Typed clients of the platform's services for what is not a plain query: the logs stream, and
// the calls whose answers or requests must not stay in the query cache (a new API key, a secret's
// value).
import { createClient } from "@connectrpc/connect";
import { ApiKeyService } from "@langopen/gen/langopen/control/v1/api_key_service_pb";
import { DeploymentService } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { SecretService } from "@langopen/gen/langopen/control/v1/secret_service_pb";
import { transport } from "../../rpc";

export const deploymentClient = createClient(DeploymentService, transport);
export const apiKeyClient = createClient(ApiKeyService, transport);
export const secretClient = createClient(SecretService, transport);
