import pg from "pg";
import type { SecretBox } from "./secrets.js";

export interface DeploymentDatabasesDeps {
  /** The platform's Postgres as a superuser (or a role with CREATEDB and CREATEROLE). */
  adminDatabaseUrl: string;
  /** Derives each deployment's database password (nothing to store). */
  secretBox: SecretBox;
}

/** The role and database of a deployment: `lo_<its id without dashes>`. */
export const databaseNameOf = (deploymentId: string): string => `lo_${deploymentId.replace(/-/g, "")}`;

/**
 * Each deployment's own role and database on the platform's Postgres (the SQL of it lives only
 * here): made on demand, dropped when the deployment is removed. Other roles cannot connect to
 * it. Both drivers use it: the local one hands the URL to its process, the Kubernetes one puts it
 * into a Secret.
 */
export class DeploymentDatabases {
  constructor(private readonly deps: DeploymentDatabasesDeps) {}

  /** The deployment's database URL (no round trip: the password is derived). */
  urlOf(deploymentId: string): string {
    const role = databaseNameOf(deploymentId);
    const url = new URL(this.deps.adminDatabaseUrl);
    url.username = role;
    url.password = this.passwordOf(deploymentId);
    url.pathname = `/${role}`;
    return url.toString();
  }

  /** Makes the deployment's role and database when missing; its URL. */
  async ensure(deploymentId: string): Promise<string> {
    const role = databaseNameOf(deploymentId);
    // Hex only: safe to write into the statement (CREATE ROLE takes no parameters).
    const password = this.passwordOf(deploymentId);
    await this.admin(async (client) => {
      const roles = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
      if (roles.rowCount === 0) await client.query(`CREATE ROLE "${role}" LOGIN PASSWORD '${password}'`);
      const dbs = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [role]);
      if (dbs.rowCount === 0) {
        await client.query(`CREATE DATABASE "${role}" OWNER "${role}"`);
        await client.query(`REVOKE ALL ON DATABASE "${role}" FROM PUBLIC`);
      }
    });
    return this.urlOf(deploymentId);
  }

  /** Drops the deployment's database (whoever is still connected is disconnected) and its role. */
  async drop(deploymentId: string): Promise<void> {
    const role = databaseNameOf(deploymentId);
    await this.admin(async (client) => {
      await client.query(`DROP DATABASE IF EXISTS "${role}" WITH (FORCE)`);
      await client.query(`DROP ROLE IF EXISTS "${role}"`);
    });
  }

  private passwordOf(deploymentId: string): string {
    return this.deps.secretBox.derive(`database password ${deploymentId}`);
  }

  private async admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: this.deps.adminDatabaseUrl });
    client.on("error", () => {}); // a lost connection surfaces through the query instead
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => {});
    }
  }
}
