import { create, type JsonValue } from "@bufbuild/protobuf";
import { jsonBytes } from "@langopen/common";
import type { Item } from "@langopen/gen/langopen/data/v1/store_pb";
import {
  type DeleteItemRequest,
  DeleteItemRequestSchema,
  type ListNamespacesRequest,
  ListNamespacesRequestSchema,
  type ListNamespacesResponse,
  type PutItemRequest,
  PutItemRequestSchema,
  type SearchItemsRequest,
  SearchItemsRequestSchema,
} from "@langopen/gen/langopen/data/v1/store_service_pb";
import type { StoreDeleteBody, StoreNamespacesBody, StorePutBody, StoreSearchBody } from "../schemas/store.js";
import { isoTimestamp, jsonFromBytes, jsonListParam } from "./common.js";

/** The public Item object; `score` only on results of a semantic search. */
export interface ApiItem {
  namespace: string[];
  key: string;
  value: JsonValue;
  created_at: string | null;
  updated_at: string | null;
  score?: number;
}

export function toApiItem(item: Item): ApiItem {
  const out: ApiItem = {
    namespace: [...item.namespace],
    key: item.key,
    value: jsonFromBytes(item.valueJson, {}),
    created_at: isoTimestamp(item.createTime),
    updated_at: isoTimestamp(item.updateTime),
  };
  if (item.score !== undefined) out.score = item.score;
  return out;
}

export function toApiNamespaces(response: ListNamespacesResponse): { namespaces: string[][] } {
  return { namespaces: response.namespaces.map((ns) => [...ns.labels]) };
}

export function fromApiPutItem(body: StorePutBody): PutItemRequest {
  return create(PutItemRequestSchema, {
    namespace: body.namespace,
    key: body.key,
    valueJson: jsonBytes(body.value),
    indexFields: Array.isArray(body.index) ? body.index : [],
    indexDisabled: body.index === false,
    ttlMinutes: body.ttl ?? undefined,
  });
}

export function fromApiDeleteItem(body: StoreDeleteBody): DeleteItemRequest {
  return create(DeleteItemRequestSchema, { namespace: body.namespace ?? [], key: body.key });
}

export function fromApiSearchItems(body: StoreSearchBody): SearchItemsRequest {
  return create(SearchItemsRequestSchema, {
    namespacePrefix: body.namespace_prefix ?? [],
    filterJson: body.filter === undefined || body.filter === null ? new Uint8Array() : jsonBytes(body.filter),
    limit: body.limit ?? 10,
    offset: body.offset ?? 0,
    query: body.query ?? "",
    refreshTtl: body.refresh_ttl ?? undefined,
  });
}

export function fromApiListNamespaces(body: StoreNamespacesBody): ListNamespacesRequest {
  return create(ListNamespacesRequestSchema, {
    prefix: body.prefix ?? [],
    suffix: body.suffix ?? [],
    maxDepth: body.max_depth ?? 0,
    limit: body.limit ?? 100,
    offset: body.offset ?? 0,
  });
}

/**
 * The `namespace` query parameter of GET /store/items: one dot-joined string as the SDKs send
 * it (`a.b.c`), or labels as the spec models the array (repeated, or one JSON list). Labels are
 * returned unchecked; the caller validates them.
 */
export function namespaceFromQuery(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value;
  if (value === "") return [];
  return jsonListParam(value) ?? value.split(".");
}
