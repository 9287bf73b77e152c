-- Up Migration

-- Auth filters match metadata by containment (`metadata @> ...`) in every query of a caller the
-- project's auth restricts. Threads, assistants and crons have their GIN index already; versions
-- listed for such a caller are filtered too.
CREATE INDEX assistant_versions_metadata ON assistant_versions USING gin (metadata jsonb_path_ops);

-- Who created a cron, when auth knew: {identity, permissions, user} (the user object as the auth
-- handler returned it). The runs the cron starts act for this user; null when there was no caller.
ALTER TABLE crons ADD COLUMN creator jsonb;

-- Down Migration
ALTER TABLE crons DROP COLUMN creator;
DROP INDEX assistant_versions_metadata;
