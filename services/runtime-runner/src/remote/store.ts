import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import {
  BaseStore,
  type GetOperation,
  type Item,
  type ListNamespacesOperation,
  type Operation,
  type OperationResults,
  type PutOperation,
  type SearchItem,
  type SearchOperation,
} from "@langchain/langgraph-checkpoint";
import type { Item as ItemMessage } from "@langopen/gen/langopen/data/v1/store_pb";
import type { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import type { FenceInit } from "./checkpointer.js";

export type StoreClient = Client<typeof StoreService>;

export interface RemoteStoreOptions {
  client: StoreClient;
  /** Carried by the writes of a run. */
  fence?: FenceInit;
  timeoutMs?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function isPut(op: Operation): op is PutOperation {
  return "value" in op && "key" in op;
}

function isSearch(op: Operation): op is SearchOperation {
  return "namespacePrefix" in op;
}

function isGet(op: Operation): op is GetOperation {
  return "key" in op && "namespace" in op && !("value" in op);
}

function isListNamespaces(op: Operation): op is ListNamespacesOperation {
  return "limit" in op && "offset" in op && !("namespacePrefix" in op);
}

function toItem(message: ItemMessage): SearchItem {
  const item: SearchItem = {
    namespace: [...message.namespace],
    key: message.key,
    value: message.valueJson.length > 0 ? (JSON.parse(decoder.decode(message.valueJson)) as Record<string, unknown>) : {},
    createdAt: message.createTime ? timestampDate(message.createTime) : new Date(0),
    updatedAt: message.updateTime ? timestampDate(message.updateTime) : new Date(0),
  };
  if (message.score !== undefined) item.score = message.score;
  return item;
}

/**
 * LangGraph's long-term memory store over the data plane's StoreService. Operations run in the
 * order given; a put with a null value deletes. Writes made for a run carry its fence.
 */
export class RemoteStore extends BaseStore {
  private readonly client: StoreClient;
  private readonly fence?: FenceInit;
  private readonly timeoutMs: number;

  constructor(options: RemoteStoreOptions) {
    super();
    this.client = options.client;
    this.fence = options.fence;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  async batch<Op extends Operation[]>(operations: Op): Promise<OperationResults<Op>> {
    const results: unknown[] = [];
    for (const op of operations) results.push(await this.run(op));
    return results as OperationResults<Op>;
  }

  private async run(op: Operation): Promise<Item | SearchItem[] | string[][] | null | undefined> {
    const call = { timeoutMs: this.timeoutMs };
    if (isPut(op)) {
      if (op.value === null) {
        await this.client.deleteItem({ namespace: op.namespace, key: op.key, fence: this.fence }, call);
        return undefined;
      }
      await this.client.putItem(
        {
          namespace: op.namespace,
          key: op.key,
          valueJson: encoder.encode(JSON.stringify(op.value)),
          indexFields: Array.isArray(op.index) ? op.index : [],
          indexDisabled: op.index === false,
          fence: this.fence,
        },
        call,
      );
      return undefined;
    }
    if (isSearch(op)) {
      const res = await this.client.searchItems(
        {
          namespacePrefix: op.namespacePrefix,
          filterJson:
            op.filter && Object.keys(op.filter).length > 0 ? encoder.encode(JSON.stringify(op.filter)) : new Uint8Array(),
          limit: op.limit ?? 10,
          offset: op.offset ?? 0,
          query: op.query ?? "",
        },
        call,
      );
      return res.items.map(toItem);
    }
    if (isGet(op)) {
      const res = await this.client.getItem({ namespace: op.namespace, key: op.key }, call);
      return res.item ? toItem(res.item) : null;
    }
    if (isListNamespaces(op)) {
      const prefix = op.matchConditions?.find((c) => c.matchType === "prefix")?.path ?? [];
      const suffix = op.matchConditions?.find((c) => c.matchType === "suffix")?.path ?? [];
      const res = await this.client.listNamespaces(
        { prefix, suffix, maxDepth: op.maxDepth ?? 0, limit: op.limit, offset: op.offset },
        call,
      );
      return res.namespaces.map((ns) => [...ns.labels]);
    }
    throw new Error(`Unknown store operation: ${JSON.stringify(op)}`);
  }
}
