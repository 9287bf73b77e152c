#!/usr/bin/env node
// First: traces (when OTEL_* ask for them) start before the modules they instrument load.
import "@langopen/common/telemetry-start";
import { hostname } from "node:os";
import { KubeConfig } from "@kubernetes/client-node";
import { createLogger, loadConfig, runMain, stopOnSignals } from "@langopen/common";
import { loadOperatorSettings, startOperator } from "./compose.js";
import { OperatorConfigSchema } from "./config.js";

const USAGE = `Usage: node services/operator/dist/main.js
  The LangOpen operator: keeps a data plane running for every AgentDeployment
  (platform.langopen.dev/v1alpha1) and writes its status. In a pod it uses the pod's service
  account; elsewhere the current context of the kubeconfig (KUBECONFIG or ~/.kube/config).
Environment: LANGOPEN_OPERATOR_SETTINGS_FILE (required), POD_NAME, POD_NAMESPACE, OPERATOR_HOST,
  OPERATOR_PORT, LANGOPEN_LEADER_ELECTION, LOG_LEVEL, SHUTDOWN_GRACE_MS`;

async function main(): Promise<void> {
  const config = loadConfig(OperatorConfigSchema, process.env);
  const logger = createLogger({ service: "operator", level: config.LOG_LEVEL });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  const operator = await startOperator({
    kubeConfig,
    settings: await loadOperatorSettings(config.LANGOPEN_OPERATOR_SETTINGS_FILE),
    identity: config.POD_NAME ?? hostname(),
    leaseNamespace: config.POD_NAMESPACE,
    leaderElection: config.LANGOPEN_LEADER_ELECTION,
    host: config.OPERATOR_HOST,
    port: config.OPERATOR_PORT,
    logger,
  });
  stopOnSignals(logger, "operator", () => operator.stop());
}

runMain(main, USAGE);
