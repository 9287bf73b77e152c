import { create, type JsonObject } from "@bufbuild/protobuf";
import type { Client, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { alreadyExists, failedPrecondition, inCallOf, invalidArgument, notFound, Reason, unavailable } from "@langopen/common";
import {
  type AssistantRow,
  type AssistantStore,
  type AssistantVersionRow,
  defaultAssistantId,
  idOrNew,
  isUuid,
} from "@langopen/data-plane";
import { type Assistant, AssistantSchema, AssistantVersionSchema } from "@langopen/gen/langopen/data/v1/assistant_pb";
import type { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { IfExists } from "@langopen/gen/langopen/data/v1/common_pb";
import type { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { authOf } from "../caller.js";
import { isDesc, page, sortKey } from "../domain/paging.js";
import { ts } from "./timestamps.js";

export interface AssistantServiceDeps {
  assistants: AssistantStore;
  /** The runtime hosting the graphs, for graph introspection. */
  runtime?: Client<typeof RuntimeService>;
  /** The graph ids served; assistants may only be made for these. */
  graphIds: () => ReadonlySet<string>;
}

const SORT_KEYS = ["assistant_id", "created_at", "updated_at", "name", "graph_id"] as const;

export function toAssistant(row: AssistantRow): Assistant {
  return create(AssistantSchema, {
    assistantId: row.assistant_id,
    graphId: row.graph_id,
    config: row.config,
    context: row.context,
    metadata: row.metadata,
    version: row.version,
    name: row.name,
    description: row.description ?? undefined,
    createTime: ts(row.created_at),
    updateTime: ts(row.updated_at),
  });
}

function toVersion(row: AssistantVersionRow) {
  return create(AssistantVersionSchema, {
    assistantId: row.assistant_id,
    graphId: row.graph_id,
    config: row.config,
    context: row.context,
    metadata: row.metadata,
    version: row.version,
    name: row.name,
    description: row.description ?? undefined,
    createTime: ts(row.created_at),
  });
}

/** An assistant id, or the id of the default assistant of a graph id given in its place. */
export function resolveAssistantId(idOrGraph: string, graphIds: ReadonlySet<string>): string {
  if (idOrGraph === "") throw invalidArgument("assistant_id is required", [{ field: "assistant_id", description: "required" }]);
  if (isUuid(idOrGraph)) return idOrGraph.toLowerCase();
  if (graphIds.has(idOrGraph)) return defaultAssistantId(idOrGraph);
  throw notFound("Assistant", idOrGraph);
}

/**
 * The graphs that listings of assistants are limited to: the served ones. None when the api-server
 * was given no langgraph.json, as it then cannot tell which graphs are served.
 */
function servedGraphs(graphIds: ReadonlySet<string>): string[] | undefined {
  return graphIds.size > 0 ? [...graphIds] : undefined;
}

/**
 * Refuses at once to run an assistant whose graph this deployment does not serve (an assistant
 * of a graph of an earlier langgraph.json): FAILED_PRECONDITION (public 409) naming the graph.
 */
export function requireServedGraph(assistant: AssistantRow, graphIds: ReadonlySet<string>): void {
  if (graphIds.size === 0 || graphIds.has(assistant.graph_id)) return;
  throw failedPrecondition(
    Reason.GraphNotServed,
    `graph '${assistant.graph_id}' of assistant ${assistant.assistant_id} is not served by this deployment (it serves: ${[...graphIds].join(", ")})`,
    { graph_id: assistant.graph_id, assistant_id: assistant.assistant_id },
  );
}

export function createAssistantServiceImpl(deps: AssistantServiceDeps): ServiceImpl<typeof AssistantService> {
  const { assistants } = deps;
  const resolve = (id: string) => resolveAssistantId(id, deps.graphIds());
  const requireGraph = (graphId: string) => {
    if (graphId === "") throw invalidArgument("graph_id is required", [{ field: "graph_id", description: "required" }]);
    if (!deps.graphIds().has(graphId)) throw notFound("Graph", graphId);
  };
  /** The assistant, if the caller may read it: one their auth filter does not match is NOT_FOUND, as if absent. */
  const mustGet = async (id: string, ctx: HandlerContext) => {
    const row = await assistants.get(id, authOf(ctx));
    if (!row) throw notFound("Assistant", id);
    return row;
  };
  const runtime = () => {
    if (!deps.runtime) throw unavailable("runtime");
    return deps.runtime;
  };

  return {
    async createAssistant(req, ctx) {
      requireGraph(req.graphId);
      const id = idOrNew("assistant_id", req.assistantId);
      const { row, created, matches } = await assistants.create(
        id,
        {
          graph_id: req.graphId,
          config: req.config ?? {},
          context: req.context ?? {},
          metadata: req.metadata ?? {},
          name: req.name ?? "Untitled",
          description: req.description ?? null,
        },
        authOf(ctx),
      );
      // One the caller may not see is not handed to them, whatever if_exists says.
      if (!created && (!matches || req.ifExists !== IfExists.DO_NOTHING)) throw alreadyExists("Assistant", id);
      return { assistant: toAssistant(row) };
    },

    async getAssistant(req, ctx) {
      return { assistant: toAssistant(await mustGet(resolve(req.assistantId), ctx)) };
    },

    async updateAssistant(req, ctx) {
      if (req.graphId !== undefined) requireGraph(req.graphId);
      const id = resolve(req.assistantId);
      const row = await assistants.update(
        id,
        {
          graph_id: req.graphId,
          config: req.config,
          context: req.context,
          metadata: req.metadata,
          name: req.name,
          description: req.description,
        },
        authOf(ctx),
      );
      if (!row) throw notFound("Assistant", id);
      return { assistant: toAssistant(row) };
    },

    async deleteAssistant(req, ctx) {
      const id = resolve(req.assistantId);
      if (!(await assistants.delete(id, req.deleteThreads, authOf(ctx)))) throw notFound("Assistant", id);
      return {};
    },

    async searchAssistants(req, ctx) {
      const { limit, offset } = page(req.limit, req.offset);
      const { rows, total } = await assistants.search(
        {
          metadata: req.metadata,
          graphId: req.graphId,
          name: req.name,
          servedGraphIds: servedGraphs(deps.graphIds()),
          auth: authOf(ctx),
        },
        { limit, offset, sortBy: sortKey(req.sortBy, SORT_KEYS, "created_at"), desc: isDesc(req.sortOrder) },
      );
      return { assistants: rows.map(toAssistant), totalSize: BigInt(total) };
    },

    async countAssistants(req, ctx) {
      const count = await assistants.count({
        metadata: req.metadata,
        graphId: req.graphId,
        name: req.name,
        servedGraphIds: servedGraphs(deps.graphIds()),
        auth: authOf(ctx),
      });
      return { count: BigInt(count) };
    },

    async listAssistantVersions(req, ctx) {
      const id = resolve(req.assistantId);
      const { limit, offset } = page(req.limit, req.offset);
      const auth = authOf(ctx);
      const rows = await assistants.listVersions(id, req.metadata as JsonObject | undefined, limit, offset, auth);
      if (rows.length === 0 && !(await assistants.get(id, auth))) throw notFound("Assistant", id);
      return { versions: rows.map(toVersion) };
    },

    async setLatestAssistantVersion(req, ctx) {
      const id = resolve(req.assistantId);
      if (req.version < 1)
        throw invalidArgument("version must be a positive integer", [{ field: "version", description: "out of range" }]);
      const row = await assistants.setLatest(id, req.version, authOf(ctx));
      if (!row) {
        await mustGet(id, ctx);
        throw notFound("Assistant version", `${id}@${req.version}`);
      }
      return { assistant: toAssistant(row) };
    },

    async getAssistantGraph(req, ctx) {
      const a = await mustGet(resolve(req.assistantId), ctx);
      const res = await runtime().describeGraph({ graphId: a.graph_id, config: a.config, xray: req.xray }, inCallOf(ctx));
      return { graphJson: res.graphJson };
    },

    async getAssistantSchemas(req, ctx) {
      const a = await mustGet(resolve(req.assistantId), ctx);
      const res = await runtime().getSchemas({ graphId: a.graph_id, config: a.config }, inCallOf(ctx));
      return { schemasJson: res.schemasJson };
    },

    async getAssistantSubgraphs(req, ctx) {
      const a = await mustGet(resolve(req.assistantId), ctx);
      const res = await runtime().getSchemas(
        { graphId: a.graph_id, config: a.config, subgraphNamespace: req.namespace, recurse: req.recurse },
        inCallOf(ctx),
      );
      return { subgraphsJson: res.schemasJson };
    },
  };
}
