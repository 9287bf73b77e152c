-- Up Migration

CREATE TABLE runs (
  run_id uuid PRIMARY KEY,
  -- Null once a stateless run's temporary thread has been deleted.
  thread_id uuid REFERENCES threads (thread_id) ON DELETE CASCADE,
  assistant_id uuid NOT NULL,
  graph_id text NOT NULL,
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'running', 'success', 'error', 'timeout', 'interrupted')),
  metadata jsonb NOT NULL DEFAULT '{}',
  -- The RunSpec (protobuf binary) with the assistant's config and context merged in.
  spec bytea NOT NULL,
  multitask_strategy text NOT NULL DEFAULT 'enqueue',
  -- A stateless run's thread, deleted when the run ends unless kept.
  delete_thread_on_end boolean NOT NULL DEFAULT false,
  run_after timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  ended_at timestamptz,
  attempt integer NOT NULL DEFAULT 0,
  -- Fencing: bumped on every claim; writes carrying an older epoch are refused.
  epoch bigint NOT NULL DEFAULT 0,
  lease_owner text,
  lease_expires_at timestamptz,
  -- A requested cancel: 'interrupt' or 'rollback'.
  cancel_action text CHECK (cancel_action IN ('interrupt', 'rollback')),
  -- Final values (JSON) or {error, message}.
  result jsonb,
  error jsonb,
  request_id text UNIQUE
);
-- At most one running run per thread, enforced by the database.
CREATE UNIQUE INDEX runs_one_running_per_thread ON runs (thread_id) WHERE status = 'running';
CREATE INDEX runs_runnable ON runs (run_after, created_at) WHERE status = 'pending';
CREATE INDEX runs_thread ON runs (thread_id, created_at);
CREATE INDEX runs_lease ON runs (lease_expires_at) WHERE status = 'running';

-- The lease epoch of the run attempt that wrote each checkpoint, so stale writers can be audited.
ALTER TABLE checkpoints ADD COLUMN epoch bigint;

-- Down Migration
ALTER TABLE checkpoints DROP COLUMN epoch;
DROP TABLE runs;
