import { randomUUID } from "node:crypto";
import type { Pool, PoolClient } from "@langopen/common";
import { inTransaction, sqlState } from "@langopen/data-plane";
import type pg from "pg";

/**
 * Every SQL statement of the control plane. Rows come out as plain objects the service maps to
 * its messages; statuses are the proto enum names without their prefix (e.g. `DEPLOYED`).
 */

export type DeploymentStatusName = "PROVISIONING" | "READY" | "DEGRADED" | "FAILED";
export type RevisionStatusName =
  | "AWAITING_BUILD"
  | "BUILDING"
  | "AWAITING_DEPLOY"
  | "DEPLOYING"
  | "DEPLOYED"
  | "BUILD_FAILED"
  | "DEPLOY_FAILED"
  | "SKIPPED";
export type RoleName = "ADMIN" | "DEVELOPER" | "VIEWER";
export type SandboxName = "NODE" | "GVISOR" | "NONE" | "KATA";

export const TERMINAL_REVISION: ReadonlySet<RevisionStatusName> = new Set([
  "DEPLOYED",
  "BUILD_FAILED",
  "DEPLOY_FAILED",
  "SKIPPED",
]);

export interface SourceRow {
  git?: { url: string; ref: string };
  tarball?: { size: number };
  config_path: string;
}

export interface ResourcesRow {
  runtime_processes?: number;
  worker_concurrency?: number;
  runtime_memory_mb?: number;
}

/** A condition of a deployment's data plane, as the driver reported it. */
export interface ConditionRow {
  type: string;
  status: string;
  reason: string;
  message: string;
  /** RFC 3339. */
  last_transition_time: string;
}

export interface DeploymentRow {
  deployment_id: string;
  name: string;
  source: SourceRow;
  env: Record<string, string>;
  resources: ResourcesRow;
  replicas: number;
  sandbox: SandboxName;
  status: DeploymentStatusName;
  status_message: string;
  current_revision_id: string | null;
  desired_revision_id: string | null;
  latest_revision_id: string | null;
  secret_names: string[];
  url: string;
  conditions: ConditionRow[];
  delete_time: Date | null;
  create_time: Date;
  update_time: Date;
}

export interface RevisionRow {
  revision_id: string;
  deployment_id: string;
  number: number;
  status: RevisionStatusName;
  status_message: string;
  source: SourceRow;
  commit_sha: string;
  bundle_digest: string;
  redeploy_of: string | null;
  graph_ids: string[];
  /** Normalized `egress` of its langgraph.json ("api.openai.com:443"). */
  egress: string[];
  defects: string[];
  create_time: Date;
  deploy_time: Date | null;
}

export interface ApiKeyRow {
  key_id: string;
  name: string;
  role: RoleName;
  deployment_id: string | null;
  prefix: string;
  created_by: string;
  create_time: Date;
  revoke_time: Date | null;
  last_used_time: Date | null;
}

export interface SecretRow {
  deployment_id: string;
  name: string;
  sealed: Buffer;
  masked_value: string;
  update_time: Date;
}

export interface AuditRow {
  event_id: string;
  time: Date;
  actor: string;
  actor_name: string;
  action: string;
  deployment_id: string | null;
  target: string;
  source_address: string;
  details: Record<string, unknown>;
  allowed: boolean;
}

export interface AuditEntry {
  actor: string;
  actorName: string;
  action: string;
  deploymentId?: string | null;
  target?: string;
  sourceAddress?: string;
  details?: Record<string, unknown>;
  allowed: boolean;
}

export interface NewDeployment {
  name: string;
  source: SourceRow;
  env: Record<string, string>;
  resources: ResourcesRow;
  replicas: number;
  sandbox: SandboxName;
}

const UNIQUE_VIOLATION = "23505";

/** A pool for the control plane's database: a connection it cannot get means the database is down. */
const DEPLOYMENT_COLUMNS = `d.*,
  (SELECT r.revision_id FROM revisions r WHERE r.deployment_id = d.deployment_id ORDER BY r.number DESC LIMIT 1) AS latest_revision_id,
  ARRAY(SELECT s.name FROM secrets s WHERE s.deployment_id = d.deployment_id ORDER BY s.name) AS secret_names`;

export class ControlStore {
  constructor(private readonly pool: Pool) {}

  private async query<R extends pg.QueryResultRow>(sql: string, values: unknown[] = [], client?: PoolClient): Promise<R[]> {
    return (await (client ?? this.pool).query<R>(sql, values)).rows;
  }

  /** Runs `fn` in one transaction; an audit entry written through it commits or rolls back with the change. */
  async transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, fn);
  }

  // Deployments

  /** Undefined when the name is taken. */
  async createDeployment(d: NewDeployment, client: PoolClient): Promise<DeploymentRow | undefined> {
    try {
      await client.query("SAVEPOINT create_deployment");
      const [row] = await this.query<{ deployment_id: string }>(
        `INSERT INTO deployments (deployment_id, name, source, env, resources, replicas, sandbox, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'PROVISIONING') RETURNING deployment_id`,
        [randomUUID(), d.name, d.source, d.env, d.resources, d.replicas, d.sandbox],
        client,
      );
      return this.getDeployment((row as { deployment_id: string }).deployment_id, client);
    } catch (err) {
      if (sqlState(err) === UNIQUE_VIOLATION) {
        await client.query("ROLLBACK TO SAVEPOINT create_deployment");
        return undefined;
      }
      throw err;
    }
  }

  /** By id or name; deleted ones are gone for callers. */
  async getDeployment(idOrName: string, client?: PoolClient): Promise<DeploymentRow | undefined> {
    const byId = UUID.test(idOrName);
    const [row] = await this.query<DeploymentRow>(
      `SELECT ${DEPLOYMENT_COLUMNS} FROM deployments d WHERE ${byId ? "d.deployment_id = $1::uuid" : "d.name = $1"} AND d.delete_time IS NULL`,
      [idOrName],
      client,
    );
    return row;
  }

  async listDeployments(nameContains: string, limit: number, offset: number): Promise<DeploymentRow[]> {
    return this.query<DeploymentRow>(
      `SELECT ${DEPLOYMENT_COLUMNS} FROM deployments d
       WHERE d.delete_time IS NULL AND strpos(d.name, $1) > 0 ORDER BY d.create_time DESC, d.name LIMIT $2 OFFSET $3`,
      [nameContains, limit, offset],
    );
  }

  /** Every deployment the driver must act on: live ones, and deleted ones still to tear down. */
  async listForDriver(): Promise<DeploymentRow[]> {
    return this.query<DeploymentRow>(`SELECT ${DEPLOYMENT_COLUMNS} FROM deployments d ORDER BY d.create_time`);
  }

  async updateDeployment(
    id: string,
    fields: Partial<Pick<DeploymentRow, "source" | "env" | "resources" | "sandbox">>,
    client: PoolClient,
  ): Promise<void> {
    const sets: string[] = [];
    const values: unknown[] = [id];
    for (const [column, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      values.push(value);
      sets.push(`${column} = $${values.length}`);
    }
    if (sets.length === 0) return;
    await this.query(`UPDATE deployments SET ${sets.join(", ")}, update_time = now() WHERE deployment_id = $1`, values, client);
  }

  async markDeleted(id: string, client: PoolClient): Promise<void> {
    await this.query(
      "UPDATE deployments SET delete_time = now(), desired_revision_id = NULL WHERE deployment_id = $1",
      [id],
      client,
    );
  }

  async setDesired(id: string, revisionId: string | null): Promise<void> {
    await this.query("UPDATE deployments SET desired_revision_id = $2 WHERE deployment_id = $1", [id, revisionId]);
  }

  async purgeDeployment(id: string): Promise<void> {
    await this.query("DELETE FROM deployments WHERE deployment_id = $1 AND delete_time IS NOT NULL", [id]);
  }

  async setDeploymentStatus(
    id: string,
    status: DeploymentStatusName,
    message: string,
    extra: { currentRevisionId?: string | null; url?: string } = {},
  ): Promise<void> {
    await this.query(
      `UPDATE deployments SET status = $2, status_message = $3,
         current_revision_id = CASE WHEN $4::boolean THEN $5::uuid ELSE current_revision_id END,
         url = COALESCE($6, url), update_time = now()
       WHERE deployment_id = $1`,
      [id, status, message, extra.currentRevisionId !== undefined, extra.currentRevisionId ?? null, extra.url ?? null],
    );
  }

  /** What the driver reports about the data plane (written when it changed). */
  async setDeploymentConditions(id: string, conditions: ConditionRow[]): Promise<void> {
    await this.query("UPDATE deployments SET conditions = $2 WHERE deployment_id = $1", [id, JSON.stringify(conditions)]);
  }

  // Revisions

  async createRevision(
    deploymentId: string,
    fields: { status: RevisionStatusName; source: SourceRow; tarball?: Buffer; redeployOf?: RevisionRow; statusMessage?: string },
    client: PoolClient,
  ): Promise<RevisionRow> {
    // The deployment's row is locked so that numbers are handed out one at a time.
    await this.query("SELECT 1 FROM deployments WHERE deployment_id = $1 FOR UPDATE", [deploymentId], client);
    const from = fields.redeployOf;
    const [row] = await this.query<RevisionRow>(
      `INSERT INTO revisions (revision_id, deployment_id, number, status, status_message, source, tarball,
                              commit_sha, bundle_digest, redeploy_of, graph_ids, egress)
       VALUES ($1, $2, (SELECT COALESCE(max(number), 0) + 1 FROM revisions WHERE deployment_id = $2), $3, $4, $5, $6,
               $7, $8, $9, $10, $11)
       RETURNING ${REVISION_COLUMNS}`,
      [
        randomUUID(),
        deploymentId,
        fields.status,
        fields.statusMessage ?? "",
        fields.source,
        fields.tarball ?? null,
        from?.commit_sha ?? "",
        from?.bundle_digest ?? "",
        from?.revision_id ?? null,
        from?.graph_ids ?? [],
        from?.egress ?? [],
      ],
      client,
    );
    // A redeploy is ready at once: it becomes what the deployment should run.
    if (from)
      await this.query(
        "UPDATE deployments SET desired_revision_id = $2 WHERE deployment_id = $1",
        [deploymentId, row?.revision_id],
        client,
      );
    return row as RevisionRow;
  }

  async getRevision(id: string, client?: PoolClient): Promise<RevisionRow | undefined> {
    if (!UUID.test(id)) return undefined;
    const [row] = await this.query<RevisionRow>(`SELECT ${REVISION_COLUMNS} FROM revisions WHERE revision_id = $1`, [id], client);
    return row;
  }

  async listRevisions(deploymentId: string, limit: number, offset: number): Promise<RevisionRow[]> {
    return this.query<RevisionRow>(
      `SELECT ${REVISION_COLUMNS} FROM revisions WHERE deployment_id = $1 ORDER BY number DESC LIMIT $2 OFFSET $3`,
      [deploymentId, limit, offset],
    );
  }

  /** The newest revision that served before `current` (what a bare rollback brings back). */
  async previousDeployed(deploymentId: string, current: string | null): Promise<RevisionRow | undefined> {
    const [row] = await this.query<RevisionRow>(
      `SELECT ${REVISION_COLUMNS} FROM revisions
       WHERE deployment_id = $1 AND deploy_time IS NOT NULL AND bundle_digest <> ''
         AND ($2::uuid IS NULL OR (revision_id <> $2::uuid AND bundle_digest <> (SELECT bundle_digest FROM revisions WHERE revision_id = $2::uuid)))
       ORDER BY deploy_time DESC LIMIT 1`,
      [deploymentId, current],
    );
    return row;
  }

  /** Revisions waiting for a build, oldest first, with their uploads. */
  async revisionsToBuild(): Promise<Array<RevisionRow & { tarball: Buffer | null }>> {
    return this.query(
      `SELECT ${REVISION_COLUMNS}, tarball FROM revisions WHERE status IN ('AWAITING_BUILD', 'BUILDING') ORDER BY create_time`,
    );
  }

  async setRevisionStatus(id: string, status: RevisionStatusName, message: string): Promise<void> {
    await this.query(
      `UPDATE revisions SET status = $2, status_message = $3,
         deploy_time = CASE WHEN $2 = 'DEPLOYED' THEN now() ELSE deploy_time END
       WHERE revision_id = $1`,
      [id, status, message],
    );
  }

  /**
   * A finished build: the revision records its bundle and becomes what its deployment should run,
   * unless a newer revision already is (then it is SKIPPED); older revisions still waiting are skipped.
   */
  async recordBuilt(
    id: string,
    built: { commitSha: string; bundleDigest: string; graphIds: string[]; egress: string[] },
  ): Promise<RevisionStatusName> {
    return this.transaction(async (client) => {
      const [rev] = await this.query<{ deployment_id: string; number: number }>(
        `UPDATE revisions SET commit_sha = $2, bundle_digest = $3, graph_ids = $4, egress = $5, tarball = NULL
         WHERE revision_id = $1 RETURNING deployment_id, number`,
        [id, built.commitSha, built.bundleDigest, built.graphIds, built.egress],
        client,
      );
      if (!rev) return "SKIPPED";
      const [desired] = await this.query<{ number: number }>(
        `SELECT r.number FROM deployments d JOIN revisions r ON r.revision_id = d.desired_revision_id
         WHERE d.deployment_id = $1 FOR UPDATE OF d`,
        [rev.deployment_id],
        client,
      );
      const status: RevisionStatusName = desired && desired.number > rev.number ? "SKIPPED" : "AWAITING_DEPLOY";
      await this.query(
        "UPDATE revisions SET status = $2, status_message = $3 WHERE revision_id = $1",
        [id, status, status === "SKIPPED" ? "a newer revision was deployed first" : ""],
        client,
      );
      if (status === "AWAITING_DEPLOY") {
        await this.query(
          "UPDATE deployments SET desired_revision_id = $2 WHERE deployment_id = $1",
          [rev.deployment_id, id],
          client,
        );
        await this.query(
          `UPDATE revisions SET status = 'SKIPPED', status_message = 'a newer revision superseded it'
           WHERE deployment_id = $1 AND number < $2 AND status IN ('AWAITING_DEPLOY', 'DEPLOYING')`,
          [rev.deployment_id, rev.number],
          client,
        );
      }
      return status;
    });
  }

  async recordBuildFailed(
    id: string,
    status: "BUILD_FAILED" | "SKIPPED",
    message: string,
    defects: string[],
    commitSha = "",
  ): Promise<void> {
    await this.query(
      "UPDATE revisions SET status = $2, status_message = $3, defects = $4, commit_sha = $5, tarball = NULL WHERE revision_id = $1",
      [id, status, message, defects, commitSha],
    );
  }

  // API keys

  async insertApiKey(
    key: { name: string; role: RoleName; deploymentId: string | null; prefix: string; sha256: Buffer; createdBy: string },
    client?: PoolClient,
  ): Promise<ApiKeyRow> {
    const [row] = await this.query<ApiKeyRow>(
      `INSERT INTO api_keys (key_id, name, role, deployment_id, prefix, key_sha256, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${KEY_COLUMNS}`,
      [randomUUID(), key.name, key.role, key.deploymentId, key.prefix, key.sha256, key.createdBy],
      client,
    );
    return row as ApiKeyRow;
  }

  async countApiKeys(): Promise<number> {
    const [row] = await this.query<{ n: string }>("SELECT count(*) AS n FROM api_keys");
    return Number(row?.n ?? 0);
  }

  /** The live key with this hash; notes its use at most once a minute. */
  async findApiKey(sha256: Buffer): Promise<ApiKeyRow | undefined> {
    const [row] = await this.query<ApiKeyRow>(
      `UPDATE api_keys SET last_used_time = now()
       WHERE key_sha256 = $1 AND revoke_time IS NULL
         AND (last_used_time IS NULL OR last_used_time < now() - interval '1 minute')
       RETURNING ${KEY_COLUMNS}`,
      [sha256],
    );
    if (row) return row;
    const [unchanged] = await this.query<ApiKeyRow>(
      `SELECT ${KEY_COLUMNS} FROM api_keys WHERE key_sha256 = $1 AND revoke_time IS NULL`,
      [sha256],
    );
    return unchanged;
  }

  async listApiKeys(includeRevoked: boolean, deploymentId?: string): Promise<ApiKeyRow[]> {
    return this.query<ApiKeyRow>(
      `SELECT ${KEY_COLUMNS} FROM api_keys WHERE ($1 OR revoke_time IS NULL) AND ($2::uuid IS NULL OR deployment_id = $2::uuid)
       ORDER BY create_time DESC`,
      [includeRevoked, deploymentId ?? null],
    );
  }

  async getApiKey(id: string): Promise<ApiKeyRow | undefined> {
    if (!UUID.test(id)) return undefined;
    const [row] = await this.query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE key_id = $1`, [id]);
    return row;
  }

  async revokeApiKey(id: string, client: PoolClient): Promise<ApiKeyRow | undefined> {
    const [row] = await this.query<ApiKeyRow>(
      `UPDATE api_keys SET revoke_time = COALESCE(revoke_time, now()) WHERE key_id = $1 RETURNING ${KEY_COLUMNS}`,
      [id],
      client,
    );
    return row;
  }

  // Secrets

  async putSecret(deploymentId: string, name: string, sealed: Buffer, masked: string, client: PoolClient): Promise<SecretRow> {
    const [row] = await this.query<SecretRow>(
      `INSERT INTO secrets (deployment_id, name, sealed, masked_value) VALUES ($1, $2, $3, $4)
       ON CONFLICT (deployment_id, name) DO UPDATE SET sealed = EXCLUDED.sealed, masked_value = EXCLUDED.masked_value, update_time = now()
       RETURNING *`,
      [deploymentId, name, sealed, masked],
      client,
    );
    return row as SecretRow;
  }

  async listSecrets(deploymentId: string): Promise<SecretRow[]> {
    return this.query<SecretRow>("SELECT * FROM secrets WHERE deployment_id = $1 ORDER BY name", [deploymentId]);
  }

  async deleteSecret(deploymentId: string, name: string, client: PoolClient): Promise<boolean> {
    const rows = await this.query(
      "DELETE FROM secrets WHERE deployment_id = $1 AND name = $2 RETURNING name",
      [deploymentId, name],
      client,
    );
    return rows.length > 0;
  }

  // Audit

  async audit(entry: AuditEntry, client?: PoolClient): Promise<void> {
    await this.query(
      `INSERT INTO audit_events (event_id, actor, actor_name, action, deployment_id, target, source_address, details, allowed)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        randomUUID(),
        entry.actor,
        entry.actorName,
        entry.action,
        entry.deploymentId ?? null,
        entry.target ?? "",
        entry.sourceAddress ?? "",
        entry.details ?? {},
        entry.allowed,
      ],
      client,
    );
  }

  async listAudit(filter: {
    deploymentId?: string;
    actor?: string;
    action?: string;
    limit: number;
    offset: number;
  }): Promise<AuditRow[]> {
    const action = filter.action ?? "";
    return this.query<AuditRow>(
      `SELECT * FROM audit_events
       WHERE ($1::uuid IS NULL OR deployment_id = $1::uuid) AND ($2 = '' OR actor = $2)
         AND ($3 = '' OR action = $3 OR (right($3, 1) = '.' AND starts_with(action, $3)))
       ORDER BY time DESC, event_id LIMIT $4 OFFSET $5`,
      [filter.deploymentId ?? null, filter.actor ?? "", action, filter.limit, filter.offset],
    );
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REVISION_COLUMNS =
  "revision_id, deployment_id, number, status, status_message, source, commit_sha, bundle_digest, redeploy_of, graph_ids, egress, defects, create_time, deploy_time";
const KEY_COLUMNS = "key_id, name, role, deployment_id, prefix, created_by, create_time, revoke_time, last_used_time";

export const isUuid = (value: string): boolean => UUID.test(value);
