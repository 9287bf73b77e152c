-- Up Migration

-- Assistants: the row holds the fields of the currently selected version, so searches need no join.
CREATE TABLE assistants (
  assistant_id uuid PRIMARY KEY,
  graph_id text NOT NULL,
  version integer NOT NULL,
  config jsonb NOT NULL DEFAULT '{}',
  context jsonb NOT NULL DEFAULT '{}',
  metadata jsonb NOT NULL DEFAULT '{}',
  name text NOT NULL,
  description text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assistants_graph_id ON assistants (graph_id);
CREATE INDEX assistants_metadata ON assistants USING gin (metadata jsonb_path_ops);
CREATE INDEX assistants_created_at ON assistants (created_at);

CREATE TABLE assistant_versions (
  assistant_id uuid NOT NULL REFERENCES assistants (assistant_id) ON DELETE CASCADE,
  version integer NOT NULL,
  graph_id text NOT NULL,
  config jsonb NOT NULL DEFAULT '{}',
  context jsonb NOT NULL DEFAULT '{}',
  metadata jsonb NOT NULL DEFAULT '{}',
  name text NOT NULL,
  description text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (assistant_id, version)
);

CREATE TABLE threads (
  thread_id uuid PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  state_updated_at timestamptz NOT NULL DEFAULT now(),
  metadata jsonb NOT NULL DEFAULT '{}',
  config jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'busy', 'interrupted', 'error')),
  "values" jsonb,
  interrupts jsonb NOT NULL DEFAULT '{}',
  ttl_strategy text CHECK (ttl_strategy IN ('delete', 'keep_latest')),
  ttl_minutes double precision,
  expires_at timestamptz
);
CREATE INDEX threads_metadata ON threads USING gin (metadata jsonb_path_ops);
CREATE INDEX threads_created_at ON threads (created_at);
CREATE INDEX threads_status ON threads (status);
CREATE INDEX threads_expires_at ON threads (expires_at) WHERE expires_at IS NOT NULL;

-- Checkpoints as the runtime's serializer wrote them; opaque to the data plane.
CREATE TABLE checkpoints (
  thread_id uuid NOT NULL REFERENCES threads (thread_id) ON DELETE CASCADE,
  checkpoint_ns text NOT NULL DEFAULT '',
  checkpoint_id text NOT NULL,
  parent_checkpoint_id text,
  run_id uuid,
  type text NOT NULL,
  checkpoint bytea NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
);
CREATE INDEX checkpoints_run_id ON checkpoints (run_id) WHERE run_id IS NOT NULL;

CREATE TABLE checkpoint_writes (
  thread_id uuid NOT NULL REFERENCES threads (thread_id) ON DELETE CASCADE,
  checkpoint_ns text NOT NULL DEFAULT '',
  checkpoint_id text NOT NULL,
  task_id text NOT NULL,
  idx integer NOT NULL,
  channel text NOT NULL,
  type text NOT NULL,
  value bytea NOT NULL,
  task_path text NOT NULL DEFAULT '',
  PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
);

-- Store items. ns_path is the namespace joined with '.', which labels may not contain, so a
-- namespace prefix is a text prefix and can use the index.
CREATE TABLE store_items (
  ns_path text NOT NULL,
  namespace text[] NOT NULL,
  key text NOT NULL,
  value jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  ttl_minutes double precision,
  expires_at timestamptz,
  PRIMARY KEY (ns_path, key)
);
CREATE INDEX store_items_ns_path ON store_items (ns_path text_pattern_ops);
CREATE INDEX store_items_updated_at ON store_items (updated_at);
CREATE INDEX store_items_expires_at ON store_items (expires_at) WHERE expires_at IS NOT NULL;

-- Down Migration
DROP TABLE store_items;
DROP TABLE checkpoint_writes;
DROP TABLE checkpoints;
DROP TABLE threads;
DROP TABLE assistant_versions;
DROP TABLE assistants;
