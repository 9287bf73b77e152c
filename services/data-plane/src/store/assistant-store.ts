import type { JsonObject } from "@bufbuild/protobuf";
import type { Pool } from "@langopen/common";
import { type AuthFilter, authFilterSql, authMatchSql } from "./auth-filter.js";
import { Conditions, inTransaction, orderBy, type Queryable } from "./sql.js";

export interface AssistantRow {
  assistant_id: string;
  graph_id: string;
  version: number;
  config: JsonObject;
  context: JsonObject;
  metadata: JsonObject;
  name: string;
  description: string | null;
  created_at: Date;
  updated_at: Date;
}

export type AssistantVersionRow = Omit<AssistantRow, "updated_at">;

export interface AssistantFields {
  graph_id: string;
  config: JsonObject;
  context: JsonObject;
  metadata: JsonObject;
  name: string;
  description: string | null;
}

export interface AssistantFilter {
  metadata?: JsonObject;
  graphId?: string;
  name?: string;
  /** Only assistants of these graphs (those the deployment serves); every graph when absent. */
  servedGraphIds?: readonly string[];
  /** The caller's auth filter, on the metadata. */
  auth?: AuthFilter;
}

export interface AssistantPatch {
  graph_id?: string;
  config?: JsonObject;
  context?: JsonObject;
  metadata?: JsonObject;
  name?: string;
  description?: string;
}

const SORT_COLUMNS: Record<string, string> = {
  assistant_id: "assistant_id",
  created_at: "created_at",
  updated_at: "updated_at",
  name: "name",
  graph_id: "graph_id",
};

function filterConditions(filter: AssistantFilter): Conditions {
  const c = new Conditions();
  if (filter.metadata && Object.keys(filter.metadata).length > 0) c.add("metadata @> ?::jsonb", JSON.stringify(filter.metadata));
  if (filter.graphId) c.add("graph_id = ?", filter.graphId);
  if (filter.name) c.add("name ILIKE '%' || ? || '%'", escapeLike(filter.name));
  if (filter.servedGraphIds) c.add("graph_id = ANY(?::text[])", [...filter.servedGraphIds]);
  return withAuth(c, filter.auth);
}

/** Adds the auth filter's condition (on the metadata) to a statement's conditions. */
function withAuth(c: Conditions, auth: AuthFilter | undefined): Conditions {
  const match = authFilterSql(auth, "metadata", c);
  return match ? c.raw(match) : c;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (m) => `\\${m}`);
}

/** The assistant rows of the data plane, as its callers use them. */
export interface AssistantStore {
  /**
   * Inserts version 1 unless the id exists; returns the row, whether it was created, and whether
   * the row matches the auth filter (always so for a created one).
   */
  create(
    id: string,
    fields: AssistantFields,
    auth?: AuthFilter,
  ): Promise<{
    row: AssistantRow;
    created: boolean;
    matches: boolean;
  }>;
  /** The assistant, if it matches the auth filter. */
  get(id: string, auth?: AuthFilter): Promise<AssistantRow | undefined>;
  /** Writes a new version from the current one with the patch applied and selects it, if the assistant matches the auth filter. */
  update(id: string, patch: AssistantPatch, auth?: AuthFilter): Promise<AssistantRow | undefined>;
  /**
   * Deletes the assistant and its versions, and optionally the threads that name it, if it
   * matches the auth filter; false when there is no such assistant (or it does not match).
   */
  delete(id: string, deleteThreads: boolean, auth?: AuthFilter): Promise<boolean>;
  search(
    filter: AssistantFilter,
    page: {
      limit: number;
      offset: number;
      sortBy: string;
      desc: boolean;
    },
  ): Promise<{
    rows: AssistantRow[];
    total: number;
  }>;
  count(filter: AssistantFilter): Promise<number>;
  /**
   * The versions of an assistant that matches the auth filter, newest first; only the versions
   * whose own metadata matches it too.
   */
  listVersions(
    id: string,
    metadata: JsonObject | undefined,
    limit: number,
    offset: number,
    auth?: AuthFilter,
  ): Promise<AssistantVersionRow[]>;
  /**
   * Selects a stored version; undefined when the assistant or the version does not exist, or the
   * assistant does not match the auth filter.
   */
  setLatest(id: string, version: number, auth?: AuthFilter): Promise<AssistantRow | undefined>;
}

export function createAssistantStore(pool: Pool): AssistantStore {
  const insertVersion = (db: Queryable, id: string, version: number, f: AssistantFields) =>
    db.query(
      `INSERT INTO assistant_versions (assistant_id, version, graph_id, config, context, metadata, name, description)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [id, version, f.graph_id, f.config, f.context, f.metadata, f.name, f.description],
    );

  return {
    async create(
      id: string,
      fields: AssistantFields,
      auth?: AuthFilter,
    ): Promise<{ row: AssistantRow; created: boolean; matches: boolean }> {
      return inTransaction(pool, async (db) => {
        const inserted = await db.query<AssistantRow>(
          `INSERT INTO assistants (assistant_id, graph_id, version, config, context, metadata, name, description)
           VALUES ($1, $2, 1, $3, $4, $5, $6, $7)
           ON CONFLICT (assistant_id) DO NOTHING
           RETURNING *`,
          [id, fields.graph_id, fields.config, fields.context, fields.metadata, fields.name, fields.description],
        );
        const row = inserted.rows[0];
        if (row) {
          await insertVersion(db, id, 1, fields);
          return { row, created: true, matches: true };
        }
        const c = new Conditions([id]);
        const existing = await db.query<AssistantRow & { auth_match: boolean }>(
          `SELECT *, ${authMatchSql(auth, "metadata", c)} AS auth_match FROM assistants WHERE assistant_id = $1`,
          c.params,
        );
        const { auth_match, ...found } = existing.rows[0] as AssistantRow & { auth_match: boolean };
        return { row: found, created: false, matches: auth_match };
      });
    },

    async get(id: string, auth?: AuthFilter): Promise<AssistantRow | undefined> {
      const c = withAuth(new Conditions().add("assistant_id = ?", id), auth);
      const { rows } = await pool.query<AssistantRow>(`SELECT * FROM assistants ${c.where()}`, c.params);
      return rows[0];
    },

    async update(id: string, patch: AssistantPatch, auth?: AuthFilter): Promise<AssistantRow | undefined> {
      return inTransaction(pool, async (db) => {
        // The row lock and the auth check in one statement: the metadata cannot change in between.
        const c = withAuth(new Conditions().add("assistant_id = ?", id), auth);
        const current = (await db.query<AssistantRow>(`SELECT * FROM assistants ${c.where()} FOR UPDATE`, c.params)).rows[0];
        if (!current) return undefined;
        const { rows } = await db.query<{ max: number }>(
          "SELECT max(version) AS max FROM assistant_versions WHERE assistant_id = $1",
          [id],
        );
        const version = (rows[0]?.max ?? current.version) + 1;
        const fields: AssistantFields = {
          graph_id: patch.graph_id ?? current.graph_id,
          config: patch.config ?? current.config,
          context: patch.context ?? current.context,
          metadata: patch.metadata ? { ...current.metadata, ...patch.metadata } : current.metadata,
          name: patch.name ?? current.name,
          description: patch.description ?? current.description,
        };
        await insertVersion(db, id, version, fields);
        const updated = await db.query<AssistantRow>(
          `UPDATE assistants SET graph_id = $2, version = $3, config = $4, context = $5, metadata = $6, name = $7,
             description = $8, updated_at = now()
           WHERE assistant_id = $1 RETURNING *`,
          [id, fields.graph_id, version, fields.config, fields.context, fields.metadata, fields.name, fields.description],
        );
        return updated.rows[0];
      });
    },

    async delete(id: string, deleteThreads: boolean, auth?: AuthFilter): Promise<boolean> {
      return inTransaction(pool, async (db) => {
        const c = withAuth(new Conditions().add("assistant_id = ?", id), auth);
        const { rowCount } = await db.query(`DELETE FROM assistants ${c.where()}`, c.params);
        if (!rowCount) return false;
        if (deleteThreads) await db.query("DELETE FROM threads WHERE metadata->>'assistant_id' = $1", [id]);
        return true;
      });
    },

    async search(
      filter: AssistantFilter,
      page: { limit: number; offset: number; sortBy: string; desc: boolean },
    ): Promise<{ rows: AssistantRow[]; total: number }> {
      const c = filterConditions(filter);
      const limit = c.param(page.limit);
      const offset = c.param(page.offset);
      const { rows } = await pool.query<AssistantRow & { total: string }>(
        `SELECT *, count(*) OVER () AS total FROM assistants ${c.where()}
         ${orderBy(SORT_COLUMNS, page.sortBy, "created_at", page.desc)}, assistant_id
         LIMIT ${limit} OFFSET ${offset}`,
        c.params,
      );
      const total = rows[0] ? Number(rows[0].total) : await this.count(filter);
      return { rows, total };
    },

    async count(filter: AssistantFilter): Promise<number> {
      const c = filterConditions(filter);
      const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM assistants ${c.where()}`, c.params);
      return Number(rows[0]?.n ?? 0);
    },

    async listVersions(
      id: string,
      metadata: JsonObject | undefined,
      limit: number,
      offset: number,
      auth?: AuthFilter,
    ): Promise<AssistantVersionRow[]> {
      const c = new Conditions().add("assistant_id = ?", id);
      if (metadata && Object.keys(metadata).length > 0) c.add("metadata @> ?::jsonb", JSON.stringify(metadata));
      const assistantMatch = authFilterSql(auth, "a.metadata", c);
      if (assistantMatch) {
        c.raw(`EXISTS (SELECT 1 FROM assistants a WHERE a.assistant_id = assistant_versions.assistant_id AND ${assistantMatch})`);
      }
      withAuth(c, auth);
      const { rows } = await pool.query<AssistantVersionRow>(
        `SELECT * FROM assistant_versions ${c.where()} ORDER BY version DESC
         LIMIT ${c.param(limit)} OFFSET ${c.param(offset)}`,
        c.params,
      );
      return rows;
    },

    async setLatest(id: string, version: number, auth?: AuthFilter): Promise<AssistantRow | undefined> {
      const c = new Conditions([id, version]);
      const match = authFilterSql(auth, "a.metadata", c);
      const { rows } = await pool.query<AssistantRow>(
        `UPDATE assistants a SET graph_id = v.graph_id, version = v.version, config = v.config, context = v.context,
           metadata = v.metadata, name = v.name, description = v.description, updated_at = now()
         FROM assistant_versions v
         WHERE a.assistant_id = $1 AND v.assistant_id = a.assistant_id AND v.version = $2 ${match ? `AND ${match}` : ""}
         RETURNING a.*`,
        c.params,
      );
      return rows[0];
    },
  };
}
