-- The control plane's truth: deployments, their revisions, API keys, secrets and the audit log.

CREATE TABLE deployments (
  deployment_id uuid PRIMARY KEY,
  name text NOT NULL UNIQUE,
  -- {"git": {"url", "ref"}} or {"tarball": {"size"}}, and "config_path".
  source jsonb NOT NULL,
  env jsonb NOT NULL DEFAULT '{}',
  resources jsonb NOT NULL DEFAULT '{}',
  replicas integer NOT NULL DEFAULT 1,
  sandbox text NOT NULL,
  status text NOT NULL,
  status_message text NOT NULL DEFAULT '',
  -- The revision serving now, and the one the driver is to bring up (they differ during a switch).
  current_revision_id uuid,
  desired_revision_id uuid,
  -- Where its API answers (the driver reports it; on one machine the port is kept across restarts).
  url text NOT NULL DEFAULT '',
  -- Set by a delete: the driver stops its data plane and drops its database, then the row goes.
  delete_time timestamptz,
  create_time timestamptz NOT NULL DEFAULT now(),
  update_time timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE revisions (
  revision_id uuid PRIMARY KEY,
  deployment_id uuid NOT NULL REFERENCES deployments ON DELETE CASCADE,
  number integer NOT NULL,
  status text NOT NULL,
  status_message text NOT NULL DEFAULT '',
  source jsonb NOT NULL,
  -- An uploaded project (tarball sources), kept until it is built.
  tarball bytea,
  commit_sha text NOT NULL DEFAULT '',
  bundle_digest text NOT NULL DEFAULT '',
  redeploy_of uuid REFERENCES revisions ON DELETE SET NULL,
  graph_ids text[] NOT NULL DEFAULT '{}',
  defects text[] NOT NULL DEFAULT '{}',
  create_time timestamptz NOT NULL DEFAULT now(),
  deploy_time timestamptz,
  UNIQUE (deployment_id, number)
);
CREATE INDEX revisions_pending ON revisions (create_time) WHERE status IN ('AWAITING_BUILD', 'BUILDING');

CREATE TABLE api_keys (
  key_id uuid PRIMARY KEY,
  name text NOT NULL,
  role text NOT NULL,
  -- NULL: every deployment.
  deployment_id uuid REFERENCES deployments ON DELETE CASCADE,
  prefix text NOT NULL,
  -- SHA-256 of the key (keys are 256 random bits: no salt or slow hash needed).
  key_sha256 bytea NOT NULL UNIQUE,
  created_by text NOT NULL DEFAULT '',
  create_time timestamptz NOT NULL DEFAULT now(),
  revoke_time timestamptz,
  last_used_time timestamptz
);

CREATE TABLE secrets (
  deployment_id uuid NOT NULL REFERENCES deployments ON DELETE CASCADE,
  name text NOT NULL,
  -- AES-256-GCM: nonce (12 bytes) || ciphertext || tag (16 bytes), with the deployment id and name as associated data.
  sealed bytea NOT NULL,
  masked_value text NOT NULL,
  update_time timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (deployment_id, name)
);

CREATE TABLE audit_events (
  event_id uuid PRIMARY KEY,
  time timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  actor_name text NOT NULL,
  action text NOT NULL,
  -- No reference: the trail outlives what it speaks of.
  deployment_id uuid,
  target text NOT NULL DEFAULT '',
  source_address text NOT NULL DEFAULT '',
  details jsonb NOT NULL DEFAULT '{}',
  allowed boolean NOT NULL
);
CREATE INDEX audit_events_time ON audit_events (time DESC);
CREATE INDEX audit_events_deployment ON audit_events (deployment_id, time DESC);
