import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { invalidArgument, jsonText, notFound, parseJsonBytes, textBytes } from "@langopen/common";
import type { ItemRow, ItemStore } from "@langopen/data-plane";
import { ItemSchema } from "@langopen/gen/langopen/data/v1/store_pb";
import type { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import { authOf } from "../caller.js";
import { checkLabels, requireNamespace } from "../domain/namespace.js";
import { page } from "../domain/paging.js";
import { ts } from "./timestamps.js";

export interface StoreServiceDeps {
  items: ItemStore;
  /** Whether reads restart an item's TTL when the caller does not say. */
  refreshTtlOnRead: boolean;
}

function toItem(row: ItemRow) {
  return create(ItemSchema, {
    namespace: row.namespace,
    key: row.key,
    valueJson: textBytes(row.value_text),
    createTime: ts(row.created_at),
    updateTime: ts(row.updated_at),
  });
}

function requireKey(key: string): string {
  if (key === "") throw invalidArgument("key is required", [{ field: "key", description: "required" }]);
  return key;
}

/** A JSON object given as bytes, as text; absent when empty. */
function objectJson(field: string, bytes: Uint8Array, required: boolean): string | undefined {
  if (bytes.length === 0) {
    if (required) throw invalidArgument(`${field} is required`, [{ field, description: "required" }]);
    return undefined;
  }
  const value = parseJsonBytes<unknown>(bytes, null);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalidArgument(`${field} must be a JSON object`, [{ field, description: "not an object" }]);
  }
  return jsonText(bytes);
}

/*
 * A caller whose auth filter restricts them (upstream's store semantics): the filter matches an
 * item as `{...value, namespace, key}`. An item that exists and does not match is NOT_FOUND, as
 * if absent, for a get, a put over it and a delete; a put whose item would not match, and a
 * delete of an absent item whose address would not match, are PERMISSION_DENIED. Searches and
 * namespace listings hold only what matches, filtered in SQL.
 */

const itemNotFound = (namespace: string[], key: string) => notFound("Item", `${namespace.join(".")}/${key}`);

const notAuthorized = () => new ConnectError("Not authorized to write this item", Code.PermissionDenied);

export function createStoreServiceImpl(deps: StoreServiceDeps): ServiceImpl<typeof StoreService> {
  const { items } = deps;
  return {
    async putItem(req, ctx) {
      const namespace = requireNamespace(req.namespace);
      const value = objectJson("value", req.valueJson, true) as string;
      if (req.ttlMinutes !== undefined && !(req.ttlMinutes > 0 && Number.isFinite(req.ttlMinutes))) {
        throw invalidArgument("ttl must be a positive number of minutes", [{ field: "ttl", description: "out of range" }]);
      }
      const key = requireKey(req.key);
      const auth = authOf(ctx);
      if (!auth) {
        await items.put(namespace, key, value, req.ttlMinutes);
        return {};
      }
      const outcome = await items.putMatching(namespace, key, value, req.ttlMinutes, auth);
      if (outcome === "hidden") throw itemNotFound(namespace, key);
      if (outcome === "denied") throw notAuthorized();
      return {};
    },

    async getItem(req, ctx) {
      const namespace = requireNamespace(req.namespace);
      const key = requireKey(req.key);
      const refreshTtl = req.refreshTtl ?? deps.refreshTtlOnRead;
      const auth = authOf(ctx);
      const row = auth ? await items.getMatching(namespace, key, refreshTtl, auth) : await items.get(namespace, key, refreshTtl);
      if (row === "hidden") throw itemNotFound(namespace, key);
      return { item: row ? toItem(row) : undefined };
    },

    async deleteItem(req, ctx) {
      const namespace = requireNamespace(req.namespace);
      const key = requireKey(req.key);
      const auth = authOf(ctx);
      if (!auth) {
        await items.delete(namespace, key);
        return {};
      }
      const outcome = await items.deleteMatching(namespace, key, auth);
      if (outcome === "hidden") throw itemNotFound(namespace, key);
      if (outcome === "denied") throw notAuthorized();
      return {};
    },

    async searchItems(req, ctx) {
      const { limit, offset } = page(req.limit, req.offset);
      const rows = await items.search(
        checkLabels("namespace_prefix", req.namespacePrefix),
        objectJson("filter", req.filterJson, false),
        limit,
        offset,
        req.refreshTtl ?? deps.refreshTtlOnRead,
        authOf(ctx),
      );
      return { items: rows.map(toItem) };
    },

    async listNamespaces(req, ctx) {
      const { limit, offset } = page(req.limit, req.offset, 100);
      if (req.maxDepth < 0)
        throw invalidArgument("max_depth must not be negative", [{ field: "max_depth", description: "out of range" }]);
      const namespaces = await items.listNamespaces(
        checkLabels("prefix", req.prefix),
        checkLabels("suffix", req.suffix),
        req.maxDepth,
        limit,
        offset,
        authOf(ctx),
      );
      return { namespaces: namespaces.map((labels) => ({ labels })) };
    },
  };
}
