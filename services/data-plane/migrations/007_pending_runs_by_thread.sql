-- Up Migration

-- A run create counts the runs already waiting on its thread (a thread may queue only so many),
-- under the thread's lock: by this index it reads only that thread's pending runs, not every run
-- the thread ever had.
CREATE INDEX runs_pending_by_thread ON runs (thread_id) WHERE status = 'pending';

-- Down Migration
DROP INDEX runs_pending_by_thread;
