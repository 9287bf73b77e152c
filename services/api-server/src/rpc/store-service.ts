import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { invalidArgument, jsonText, parseJsonBytes, textBytes } from "@langopen/common";
import type { ItemRow, ItemStore } from "@langopen/data-plane";
import { ItemSchema } from "@langopen/gen/langopen/data/v1/store_pb";
import type { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
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

export function createStoreServiceImpl(deps: StoreServiceDeps): ServiceImpl<typeof StoreService> {
  const { items } = deps;
  return {
    async putItem(req) {
      const namespace = requireNamespace(req.namespace);
      const value = objectJson("value", req.valueJson, true) as string;
      if (req.ttlMinutes !== undefined && !(req.ttlMinutes > 0 && Number.isFinite(req.ttlMinutes))) {
        throw invalidArgument("ttl must be a positive number of minutes", [{ field: "ttl", description: "out of range" }]);
      }
      await items.put(namespace, requireKey(req.key), value, req.ttlMinutes);
      return {};
    },

    async getItem(req) {
      const row = await items.get(requireNamespace(req.namespace), requireKey(req.key), req.refreshTtl ?? deps.refreshTtlOnRead);
      return { item: row ? toItem(row) : undefined };
    },

    async deleteItem(req) {
      await items.delete(requireNamespace(req.namespace), requireKey(req.key));
      return {};
    },

    async searchItems(req) {
      const { limit, offset } = page(req.limit, req.offset);
      const rows = await items.search(
        checkLabels("namespace_prefix", req.namespacePrefix),
        objectJson("filter", req.filterJson, false),
        limit,
        offset,
        req.refreshTtl ?? deps.refreshTtlOnRead,
      );
      return { items: rows.map(toItem) };
    },

    async listNamespaces(req) {
      const { limit, offset } = page(req.limit, req.offset, 100);
      if (req.maxDepth < 0)
        throw invalidArgument("max_depth must not be negative", [{ field: "max_depth", description: "out of range" }]);
      const namespaces = await items.listNamespaces(
        checkLabels("prefix", req.prefix),
        checkLabels("suffix", req.suffix),
        req.maxDepth,
        limit,
        offset,
      );
      return { namespaces: namespaces.map((labels) => ({ labels })) };
    },
  };
}
