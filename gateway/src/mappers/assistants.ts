import { create, type JsonObject } from "@bufbuild/protobuf";
import type { Assistant, AssistantVersion } from "@langopen/gen/langopen/data/v1/assistant_pb";
import {
  type CountAssistantsRequest,
  CountAssistantsRequestSchema,
  type CreateAssistantRequest,
  CreateAssistantRequestSchema,
  type ListAssistantVersionsRequest,
  ListAssistantVersionsRequestSchema,
  type SearchAssistantsRequest,
  SearchAssistantsRequestSchema,
  type UpdateAssistantRequest,
  UpdateAssistantRequestSchema,
} from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import type {
  AssistantCountBody,
  AssistantCreateBody,
  AssistantPatchBody,
  AssistantSearchBody,
  AssistantVersionsBody,
} from "../schemas/assistants.js";
import { isoTimestamp, objectOrEmpty, toIfExists, toSortOrder } from "./common.js";

/** The public Assistant object. */
export interface ApiAssistant {
  assistant_id: string;
  graph_id: string;
  config: JsonObject;
  context: JsonObject;
  created_at: string | null;
  updated_at: string | null;
  metadata: JsonObject;
  version: number;
  name: string;
  description: string | null;
}

/** One entry of POST /assistants/{id}/versions: an assistant as it was at that version. */
export interface ApiAssistantVersion {
  assistant_id: string;
  graph_id: string;
  config: JsonObject;
  context: JsonObject;
  created_at: string | null;
  metadata: JsonObject;
  version: number;
  name: string;
  description: string | null;
}

export function toApiAssistant(a: Assistant): ApiAssistant {
  return {
    assistant_id: a.assistantId,
    graph_id: a.graphId,
    config: objectOrEmpty(a.config),
    context: objectOrEmpty(a.context),
    created_at: isoTimestamp(a.createTime),
    updated_at: isoTimestamp(a.updateTime),
    metadata: objectOrEmpty(a.metadata),
    version: a.version,
    name: a.name,
    description: a.description ?? null,
  };
}

export function toApiAssistantVersion(v: AssistantVersion): ApiAssistantVersion {
  return {
    assistant_id: v.assistantId,
    graph_id: v.graphId,
    config: objectOrEmpty(v.config),
    context: objectOrEmpty(v.context),
    created_at: isoTimestamp(v.createTime),
    metadata: objectOrEmpty(v.metadata),
    version: v.version,
    name: v.name,
    description: v.description ?? null,
  };
}

export function fromApiAssistantCreate(body: AssistantCreateBody): CreateAssistantRequest {
  return create(CreateAssistantRequestSchema, {
    graphId: body.graph_id,
    assistantId: body.assistant_id ?? "",
    config: body.config,
    context: body.context,
    metadata: body.metadata,
    ifExists: toIfExists(body.if_exists),
    name: body.name,
    description: body.description ?? undefined,
  });
}

export function fromApiAssistantPatch(assistantId: string, body: AssistantPatchBody): UpdateAssistantRequest {
  return create(UpdateAssistantRequestSchema, {
    assistantId,
    graphId: body.graph_id,
    config: body.config,
    context: body.context,
    metadata: body.metadata,
    name: body.name,
    description: body.description ?? undefined,
  });
}

export function fromApiAssistantSearch(body: AssistantSearchBody): SearchAssistantsRequest {
  return create(SearchAssistantsRequestSchema, {
    metadata: body.metadata,
    graphId: body.graph_id ?? "",
    name: body.name ?? "",
    limit: body.limit ?? 10,
    offset: body.offset ?? 0,
    sortBy: body.sort_by ?? "",
    sortOrder: toSortOrder(body.sort_order),
  });
}

export function fromApiAssistantCount(body: AssistantCountBody): CountAssistantsRequest {
  return create(CountAssistantsRequestSchema, {
    metadata: body.metadata,
    graphId: body.graph_id ?? "",
    name: body.name ?? "",
  });
}

export function fromApiAssistantVersions(assistantId: string, body: AssistantVersionsBody): ListAssistantVersionsRequest {
  return create(ListAssistantVersionsRequestSchema, {
    assistantId,
    metadata: body.metadata,
    limit: body.limit ?? 10,
    offset: body.offset ?? 0,
  });
}

/** `?xray=`: true expands every level (-1), false none (0), an integer that many levels. */
export function xrayDepth(value: string | undefined): number {
  if (value === undefined) return 0;
  if (/^(?:true|yes)$/i.test(value)) return -1;
  if (/^(?:false|no)$/i.test(value)) return 0;
  return Number.parseInt(value, 10);
}
