-- What the driver last reported about each deployment's data plane (on Kubernetes: its
-- AgentDeployment's conditions): [{"type", "status", "reason", "message", "last_transition_time"}].
ALTER TABLE deployments ADD COLUMN conditions jsonb NOT NULL DEFAULT '[]';
