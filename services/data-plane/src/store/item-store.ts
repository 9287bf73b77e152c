import { type AuthFilter, authFilterSql, authMatchSql, itemAuthDoc } from "./auth-filter.js";
import { Conditions, type Queryable } from "./sql.js";

export interface ItemRow {
  namespace: string[];
  key: string;
  /** The value as JSON text, passed through unchanged. */
  value_text: string;
  created_at: Date;
  updated_at: Date;
}

/** Text matched literally by LIKE: its wildcards and its escape character (a backslash) escaped. */
export const escapeLike = (text: string) => text.replace(/[\\%_]/g, (ch) => `\\${ch}`);

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
  /**
   * Live items under a namespace prefix whose value contains the filter (and which match the
   * auth filter, see itemAuthDoc), newest-updated first.
   */
  search(
    prefix: string[],
    filterJson: string | undefined,
    limit: number,
    offset: number,
    refreshTtl: boolean,
    auth?: AuthFilter,
  ): Promise<ItemRow[]>;
  /**
   * Deletes at most `limit` expired items; answers how many. Reads never return expired items
   * anyway; this reclaims their space. SKIP LOCKED lets several sweepers run at once.
   */
  deleteExpired(limit: number): Promise<number>;
  /**
   * Distinct live namespaces, truncated to maxDepth labels when set; with an auth filter, those
   * (as truncated) that match it as `{namespace: [...labels]}`.
   */
  listNamespaces(
    prefix: string[],
    suffix: string[],
    maxDepth: number,
    limit: number,
    offset: number,
    auth?: AuthFilter,
  ): Promise<string[][]>;
  /**
   * put for a caller whose auth filter restricts them, checked in the statement that writes:
   * "hidden" when a live item at the address does not match the filter (it stays as it was),
   * "denied" when the item as written would not match it; else the item is written.
   */
  putMatching(
    namespace: string[],
    key: string,
    valueJson: string,
    ttlMinutes: number | undefined,
    auth: AuthFilter,
  ): Promise<"written" | "hidden" | "denied">;
  /** get for a caller whose auth filter restricts them: "hidden" when the live item does not match it. */
  getMatching(namespace: string[], key: string, refreshTtl: boolean, auth: AuthFilter): Promise<ItemRow | "hidden" | undefined>;
  /**
   * delete for a caller whose auth filter restricts them: "hidden" when the live item does not
   * match it (it stays), "denied" when there is no item and its address (`{namespace, key}`) does
   * not match it, "absent" when there is none and it would.
   */
  deleteMatching(namespace: string[], key: string, auth: AuthFilter): Promise<"deleted" | "absent" | "hidden" | "denied">;
}

/** The item store on the pool, or on a transaction's client (a write fenced by a run, see fencedStoreWrites). */
export function createItemStore(pool: Queryable): ItemStore {
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

    async search(
      prefix: string[],
      filterJson: string | undefined,
      limit: number,
      offset: number,
      refreshTtl: boolean,
      auth?: AuthFilter,
    ): Promise<ItemRow[]> {
      const c = new Conditions().raw(LIVE);
      if (prefix.length > 0) {
        const path = nsPath(prefix);
        // The prefix is matched literally (a label may hold `%`, `_` or a backslash).
        c.raw(`(ns_path = ${c.param(path)} OR ns_path LIKE ${c.param(`${escapeLike(path)}.%`)})`);
      }
      if (filterJson) c.add("value @> ?::jsonb", filterJson);
      const match = authFilterSql(auth, itemAuthDoc(), c);
      if (match) c.raw(match);
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

    async listNamespaces(
      prefix: string[],
      suffix: string[],
      maxDepth: number,
      limit: number,
      offset: number,
      auth?: AuthFilter,
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
      // Upstream matches each namespace listed (as truncated) as the document `{namespace}`.
      const match = authFilterSql(auth, `jsonb_build_object('namespace', to_jsonb(${ns}))`, c);
      if (match) c.raw(match);
      const { rows } = await pool.query<{ ns: string[] }>(
        `SELECT DISTINCT ${ns} AS ns FROM store_items ${c.where()} ORDER BY 1
         LIMIT ${c.param(limit)} OFFSET ${c.param(offset)}`,
        c.params,
      );
      return rows.map((r) => r.ns);
    },

    async putMatching(
      namespace: string[],
      key: string,
      valueJson: string,
      ttlMinutes: number | undefined,
      auth: AuthFilter,
    ): Promise<"written" | "hidden" | "denied"> {
      const c = new Conditions([nsPath(namespace), namespace, key, valueJson, ttlMinutes ?? null]);
      const itemOk = authMatchSql(auth, itemAuthDoc(), c);
      const writtenOk = authMatchSql(
        auth,
        "$4::jsonb || jsonb_build_object('namespace', to_jsonb($2::text[]), 'key', $3::text)",
        c,
      );
      // One statement: the item found and the one written are checked where the write happens. A
      // row that another writer made non-matching meanwhile is not updated (the conflict clause
      // checks the row as it is then); an expired row counts as no item.
      const { rows } = await pool.query<{ existing_ok: boolean | null; written_ok: boolean; written: boolean }>(
        `WITH cur AS (SELECT ${itemOk} AS ok FROM store_items WHERE ns_path = $1 AND key = $3 AND ${LIVE}),
           fresh AS (SELECT ${writtenOk} AS ok),
           ins AS (
             INSERT INTO store_items (ns_path, namespace, key, value, ttl_minutes, expires_at)
             SELECT $1, $2, $3, $4::jsonb, $5::float8, now() + make_interval(secs => $5::float8 * 60)
             WHERE (SELECT ok FROM fresh) AND NOT EXISTS (SELECT 1 FROM cur WHERE NOT ok)
             ON CONFLICT (ns_path, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now(),
               ttl_minutes = EXCLUDED.ttl_minutes, expires_at = EXCLUDED.expires_at
             WHERE NOT (store_items.expires_at IS NULL OR store_items.expires_at > now()) OR ${itemOk}
             RETURNING 1)
         SELECT (SELECT ok FROM cur) AS existing_ok, (SELECT ok FROM fresh) AS written_ok, EXISTS (SELECT 1 FROM ins) AS written`,
        c.params,
      );
      const r = rows[0];
      if (r?.existing_ok === false) return "hidden";
      if (!r?.written_ok) return "denied";
      return r.written ? "written" : "hidden";
    },

    async getMatching(
      namespace: string[],
      key: string,
      refreshTtl: boolean,
      auth: AuthFilter,
    ): Promise<ItemRow | "hidden" | undefined> {
      const c = new Conditions([nsPath(namespace), key]);
      const ok = authMatchSql(auth, itemAuthDoc(), c);
      if (refreshTtl) {
        const { rows } = await pool.query<ItemRow>(
          `UPDATE store_items SET ${REFRESH} WHERE ns_path = $1 AND key = $2 AND ${LIVE} AND ${ok} RETURNING ${COLUMNS}`,
          c.params,
        );
        if (rows[0]) return rows[0];
        const found = await pool.query(`SELECT 1 FROM store_items WHERE ns_path = $1 AND key = $2 AND ${LIVE}`, [
          nsPath(namespace),
          key,
        ]);
        return found.rows.length > 0 ? "hidden" : undefined;
      }
      const { rows } = await pool.query<ItemRow & { auth_match: boolean }>(
        `SELECT ${COLUMNS}, ${ok} AS auth_match FROM store_items WHERE ns_path = $1 AND key = $2 AND ${LIVE}`,
        c.params,
      );
      const row = rows[0];
      if (!row) return undefined;
      const { auth_match, ...item } = row;
      return auth_match ? item : "hidden";
    },

    async deleteMatching(
      namespace: string[],
      key: string,
      auth: AuthFilter,
    ): Promise<"deleted" | "absent" | "hidden" | "denied"> {
      const c = new Conditions([nsPath(namespace), key, namespace]);
      const itemOk = authMatchSql(auth, itemAuthDoc(), c);
      const addressOk = authMatchSql(auth, "jsonb_build_object('namespace', to_jsonb($3::text[]), 'key', $2::text)", c);
      const { rows } = await pool.query<{ existing_ok: boolean | null; deleted: boolean; address_ok: boolean }>(
        `WITH cur AS (SELECT ${itemOk} AS ok FROM store_items WHERE ns_path = $1 AND key = $2 AND ${LIVE}),
           del AS (DELETE FROM store_items WHERE ns_path = $1 AND key = $2 AND ${LIVE} AND ${itemOk} RETURNING 1)
         SELECT (SELECT ok FROM cur) AS existing_ok, EXISTS (SELECT 1 FROM del) AS deleted, ${addressOk} AS address_ok`,
        c.params,
      );
      const r = rows[0];
      if (r?.deleted) return "deleted";
      if (r?.existing_ok === false) return "hidden";
      if (r?.existing_ok === true) return "absent";
      return r?.address_ok ? "absent" : "denied";
    },
  };
}
