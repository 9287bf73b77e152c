export { loadOperatorSettings, type Operator, type OperatorOptions, startOperator } from "./compose.js";
export type { OperatorSettingsFile } from "./config.js";
export type { AgentDeployment } from "./generated/agent-deployment.js";
export {
  AGENT_DEPLOYMENT_GROUP,
  AGENT_DEPLOYMENT_KIND,
  AGENT_DEPLOYMENT_PLURAL,
  AGENT_DEPLOYMENT_VERSION,
  agentDeploymentSchema,
} from "./generated/agent-deployment-schema.js";
export { describeError as describeKubeError, isStatus as isKubeStatus } from "./kube.js";
export { type EgressTarget, type KubeObject, type RenderSettings, renderDataPlane } from "./render.js";
export { agentDeploymentIssues, isAgentDeployment, type SchemaIssue } from "./validate.js";
