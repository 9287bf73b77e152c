-- Up Migration

-- A run's result is only ever stored and answered whole (a join answers it as written), never
-- searched: json keeps the text as the worker wrote it, so the write does not parse it into jsonb's
-- binary form and a read does not print it back. For a run that answers megabytes (a 9 MB message
-- echoed), each of the two took longer than the rest of the run. Writers of jsonb still fit: jsonb
-- converts to json on assignment.
ALTER TABLE runs ALTER COLUMN result TYPE json USING result::json;

-- Down Migration
ALTER TABLE runs ALTER COLUMN result TYPE jsonb USING result::jsonb;
