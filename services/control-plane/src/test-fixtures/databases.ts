import pg from "pg";
import { databaseNameOf } from "../database-store.js";

/**
 * Drops what a failed test may have left: the databases of the deployments recorded in one
 * platform's control database, and no others (another test file's platform may be running on the
 * same Postgres server).
 */
export async function dropDeploymentDatabases(controlDatabaseUrl: string, serverUrl: string): Promise<void> {
  const ids: string[] = [];
  const control = new pg.Client({ connectionString: controlDatabaseUrl });
  await control.connect();
  try {
    const { rows } = await control.query<{ deployment_id: string }>("SELECT deployment_id::text FROM deployments");
    ids.push(...rows.map((row) => row.deployment_id));
  } catch {
    // No deployments table: the platform never migrated, so it made no databases.
  } finally {
    await control.end();
  }
  const server = new pg.Client({ connectionString: serverUrl });
  await server.connect();
  try {
    for (const id of ids) await server.query(`DROP DATABASE IF EXISTS "${databaseNameOf(id)}" WITH (FORCE)`);
  } finally {
    await server.end();
  }
}
