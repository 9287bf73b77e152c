import type { Pool } from "@langopen/common";
import { Conditions } from "./sql.js";

export interface ItemRow {
  namespace: string[];
  key: string;
  /** The value as JSON text, passed through unchanged. */
  value_text: string;
  created_at: Date;
  updated_at: Date;
}

/** Namespace labels are joined with '.', which a label may not contain. */
export const nsPath = (namespace: string[]) => namespace.join(".");

const LIVE = "(expires_at IS NULL OR expires_at > now())";
const COLUMNS = "namespace, key, value::text AS value_text, created_at, updated_at";
const REFRESH = "expires_at = CASE WHEN ttl_minutes IS NULL THEN NULL ELSE now() + make_interval(secs => ttl_minutes * 60) END";

/** The item rows of the data plane, as its callers use them. */
export interface ItemStore {
  put(namespace: string[], key: string, valueJson: string, ttlMinutes: number | undefined): Promise<void>;
  /** A live item, its TTL restarted when asked. */
  get(namespace: string[], key: string, refreshTtl: boolean): Promise<ItemRow | undefined>;
  delete(namespace: string[], key: string): Promise<void>;
  /** Live items under a namespace prefix whose value contains the filter, newest-updated first. */
  search(
    prefix: string[],
    filterJson: string | undefined,
    limit: number,
    offset: number,
    refreshTtl: boolean,
  ): Promise<ItemRow[]>;
  /**
   * Deletes at most `limit` expired items; answers how many. Reads never return expired items
   * anyway; this reclaims their space. SKIP LOCKED lets several sweepers run at once.
   */
  deleteExpired(limit: number): Promise<number>;
  /** Distinct live namespaces, truncated to maxDepth labels when set. */
  listNamespaces(prefix: string[], suffix: string[], maxDepth: number, limit: number, offset: number): Promise<string[][]>;
}

export function createItemStore(pool: Pool): ItemStore {
  return {
    async put(namespace: string[], key: string, valueJson: string, ttlMinutes: number | undefined): Promise<void> {
      await pool.query(
        `INSERT INTO store_items (ns_path, namespace, key, value, ttl_minutes, expires_at)
         VALUES ($1, $2, $3, $4::jsonb, $5::float8, now() + make_interval(secs => $5::float8 * 60))
         ON CONFLICT (ns_path, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now(),
           ttl_minutes = EXCLUDED.ttl_minutes, expires_at = EXCLUDED.expires_at`,
        [nsPath(namespace), namespace, key, valueJson, ttlMinutes ?? null],
      );
    },

    /** A live item, its TTL restarted when asked. */
    async get(namespace: string[], key: string, refreshTtl: boolean): Promise<ItemRow | undefined> {
      const sql = refreshTtl
        ? `UPDATE store_items SET ${REFRESH} WHERE ns_path = $1 AND key = $2 AND ${LIVE} RETURNING ${COLUMNS}`
        : `SELECT ${COLUMNS} FROM store_items WHERE ns_path = $1 AND key = $2 AND ${LIVE}`;
      const { rows } = await pool.query<ItemRow>(sql, [nsPath(namespace), key]);
      return rows[0];
    },

    async delete(namespace: string[], key: string): Promise<void> {
      await pool.query("DELETE FROM store_items WHERE ns_path = $1 AND key = $2", [nsPath(namespace), key]);
    },

    /** Live items under a namespace prefix whose value contains the filter, newest-updated first. */
    async search(
      prefix: string[],
      filterJson: string | undefined,
      limit: number,
      offset: number,
      refreshTtl: boolean,
    ): Promise<ItemRow[]> {
      const c = new Conditions().raw(LIVE);
      if (prefix.length > 0) {
        const path = c.param(nsPath(prefix));
        c.raw(`(ns_path = ${path} OR ns_path LIKE replace(replace(${path}, '%', '\\%'), '_', '\\_') || '.%')`);
      }
      if (filterJson) c.add("value @> ?::jsonb", filterJson);
      const select = `SELECT ns_path, key FROM store_items ${c.where()}
        ORDER BY updated_at DESC, ns_path, key LIMIT ${c.param(limit)} OFFSET ${c.param(offset)}`;
      const sql = refreshTtl
        ? `WITH hit AS (${select}), upd AS (
             UPDATE store_items s SET ${REFRESH} FROM hit WHERE s.ns_path = hit.ns_path AND s.key = hit.key
             RETURNING s.namespace, s.key, s.value::text AS value_text, s.created_at, s.updated_at)
           SELECT * FROM upd ORDER BY updated_at DESC, key`
        : `SELECT ${COLUMNS} FROM store_items s JOIN (${select}) hit USING (ns_path, key) ORDER BY updated_at DESC, key`;
      const { rows } = await pool.query<ItemRow>(sql, c.params);
      return rows;
    },

    /**
     * Deletes at most `limit` expired items; answers how many. Reads never return expired items
     * anyway; this reclaims their space. SKIP LOCKED lets several sweepers run at once.
     */
    async deleteExpired(limit: number): Promise<number> {
      const { rowCount } = await pool.query(
        `DELETE FROM store_items s USING (
           SELECT ns_path, key FROM store_items WHERE expires_at <= now()
           ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
         ) x WHERE s.ns_path = x.ns_path AND s.key = x.key`,
        [limit],
      );
      return rowCount ?? 0;
    },

    /** Distinct live namespaces, truncated to maxDepth labels when set. */
    async listNamespaces(
      prefix: string[],
      suffix: string[],
      maxDepth: number,
      limit: number,
      offset: number,
    ): Promise<string[][]> {
      const c = new Conditions().raw(LIVE);
      if (prefix.length > 0) {
        const p = c.param(prefix);
        c.raw(`namespace[1:cardinality(${p}::text[])] = ${p}::text[]`);
      }
      if (suffix.length > 0) {
        const s = c.param(suffix);
        c.raw(`cardinality(namespace) >= cardinality(${s}::text[])
          AND namespace[cardinality(namespace) - cardinality(${s}::text[]) + 1:] = ${s}::text[]`);
      }
      const ns = maxDepth > 0 ? `namespace[1:${c.param(maxDepth)}::int]` : "namespace";
      const { rows } = await pool.query<{ ns: string[] }>(
        `SELECT DISTINCT ${ns} AS ns FROM store_items ${c.where()} ORDER BY 1
         LIMIT ${c.param(limit)} OFFSET ${c.param(offset)}`,
        c.params,
      );
      return rows.map((r) => r.ns);
    },
  };
}
