-- Up Migration

-- The outbox of run webhooks: a row is written in the transaction that records the run's end,
-- and the workers' dispatchers send it (at least once), retrying with backoff.
CREATE TABLE webhook_deliveries (
  delivery_id uuid PRIMARY KEY,
  -- No foreign key: a delivery outlives its run (stateless runs, deletes).
  run_id uuid NOT NULL,
  url text NOT NULL,
  -- The JSON body, but for webhook_sent_at, which is added when sending.
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  -- When the next attempt is due (also the lease of an attempt in flight); null once settled.
  next_attempt_at timestamptz DEFAULT now(),
  last_error text,
  -- The HTTP status of the last answer.
  last_status integer,
  created_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_run_id ON webhook_deliveries (run_id, created_at);

-- Down Migration
DROP TABLE webhook_deliveries;
