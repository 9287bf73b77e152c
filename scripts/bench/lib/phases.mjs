// Where a LangOpen run's time goes, read from its runs table: queue (created -> claimed by a worker) and
// execution (claimed -> ended, which includes the runtime's checkpoint writes and recording the end).
import pg from "pg";

/**
 * p50 and p99 of the two phases, in ms, of the runs created during each scenario's windows
 * (windows: [{ scenario, startMs, endMs }], wall-clock ms).
 */
export async function runPhases(databaseUrl, windows) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const out = {};
    for (const scenario of [...new Set(windows.map((w) => w.scenario))]) {
      const mine = windows.filter((w) => w.scenario === scenario);
      const { rows } = await client.query(
        `WITH w AS (SELECT to_timestamp(s / 1000.0) AS s, to_timestamp(e / 1000.0) AS e
                      FROM unnest($1::float8[], $2::float8[]) AS t(s, e)),
              r AS (SELECT extract(epoch FROM started_at - created_at) * 1000 AS queue_ms,
                           extract(epoch FROM ended_at - started_at) * 1000 AS exec_ms
                      FROM runs
                     WHERE started_at IS NOT NULL AND ended_at IS NOT NULL
                       AND EXISTS (SELECT 1 FROM w WHERE runs.created_at >= w.s AND runs.created_at < w.e))
         SELECT count(*)::int AS runs,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY queue_ms) AS queue_p50,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY queue_ms) AS queue_p99,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY exec_ms) AS exec_p50,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY exec_ms) AS exec_p99
           FROM r`,
        [mine.map((w) => w.startMs), mine.map((w) => w.endMs)],
      );
      if (rows[0].runs > 0) out[scenario] = rows[0];
    }
    return out;
  } finally {
    await client.end();
  }
}
