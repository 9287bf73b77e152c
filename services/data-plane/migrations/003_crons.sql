-- Up Migration

-- Crons: a run body (payload) created on a schedule, on one thread or on a new thread each time.
CREATE TABLE crons (
  cron_id uuid PRIMARY KEY,
  assistant_id uuid NOT NULL REFERENCES assistants (assistant_id) ON DELETE CASCADE,
  -- Null for a stateless cron, which makes a new thread for every firing.
  thread_id uuid REFERENCES threads (thread_id) ON DELETE CASCADE,
  -- A cron expression (5 fields, 6 with seconds first, or @daily and the like).
  schedule text NOT NULL,
  -- IANA zone the schedule is read in; null means UTC.
  timezone text,
  end_time timestamptz,
  enabled boolean NOT NULL DEFAULT true,
  -- The RunSpec (protobuf binary) each firing creates its run from.
  payload bytea NOT NULL,
  -- Stateless crons only: keep or delete the thread of each firing when its run ends.
  on_run_completed text CHECK (on_run_completed IN ('delete', 'keep')),
  multitask_strategy text NOT NULL DEFAULT 'enqueue'
    CHECK (multitask_strategy IN ('reject', 'interrupt', 'rollback', 'enqueue')),
  metadata jsonb NOT NULL DEFAULT '{}',
  user_id text,
  -- The next due time; null when the cron will not fire again (past its end time).
  next_run_date timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX crons_due ON crons (next_run_date) WHERE enabled AND next_run_date IS NOT NULL;
CREATE INDEX crons_end_time ON crons (end_time) WHERE enabled AND end_time IS NOT NULL;
CREATE INDEX crons_assistant_id ON crons (assistant_id);
CREATE INDEX crons_thread_id ON crons (thread_id) WHERE thread_id IS NOT NULL;
CREATE INDEX crons_metadata ON crons USING gin (metadata jsonb_path_ops);
CREATE INDEX crons_created_at ON crons (created_at);

-- One row per due time a cron fired for. The unique key is what makes a due time fire once,
-- however many schedulers look at it.
CREATE TABLE cron_firings (
  cron_id uuid NOT NULL REFERENCES crons (cron_id) ON DELETE CASCADE,
  scheduled_for timestamptz NOT NULL,
  -- The run created (no foreign key: runs may be deleted); null when the create was refused.
  run_id uuid,
  thread_id uuid,
  -- Why no run was created: {code, message}.
  error jsonb,
  fired_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT cron_firings_once UNIQUE (cron_id, scheduled_for)
);
CREATE INDEX cron_firings_run_id ON cron_firings (run_id) WHERE run_id IS NOT NULL;

-- Down Migration
DROP TABLE cron_firings;
DROP TABLE crons;
