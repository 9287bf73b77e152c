import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { malformed } from "@langopen/common";
import { queryBool } from "../../mappers/common.js";
import {
  fromApiDeleteItem,
  fromApiListNamespaces,
  fromApiPutItem,
  fromApiSearchItems,
  namespaceFromQuery,
  toApiItem,
  toApiNamespaces,
} from "../../mappers/store.js";
import { emptyBodyAsObject } from "../../plugins/json-body.js";
import { readOptions, writeOptions } from "../../plugins/rpc-clients.js";
import { StoreDeleteBody, StoreGetQuery, StoreNamespacesBody, StorePutBody, StoreSearchBody } from "../../schemas/store.js";
import { RequestValidationError } from "../../validation.js";

/** An item address needs at least one label; the contract answers 400 otherwise. */
function requireNamespace(namespace: string[] | undefined): string[] {
  if (namespace === undefined || namespace.length === 0) {
    throw malformed("Namespace is required: give at least one label");
  }
  return namespace;
}

/** The long-term memory store. */
export const storeRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { store } = fastify.rpc;

  fastify.put("/store/items", { schema: { body: StorePutBody } }, async (request, reply) => {
    requireNamespace(request.body.namespace);
    await store.putItem(fromApiPutItem(request.body), writeOptions(request));
    return reply.code(204).send();
  });

  fastify.get("/store/items", { schema: { querystring: StoreGetQuery } }, async (request, reply) => {
    const namespace = requireNamespace(namespaceFromQuery(request.query.namespace));
    if (namespace.some((label) => label === "" || label.includes("."))) {
      throw new RequestValidationError(
        "Invalid query parameter: 'namespace' labels must be non-empty and contain no '.'",
        "querystring",
      );
    }
    const res = await store.getItem(
      {
        namespace,
        key: request.query.key,
        refreshTtl: queryBool(request.query.refresh_ttl),
      },
      readOptions(request),
    );
    // A missing item is 200 with a JSON null: the JS client turns that into `null`.
    return reply.type("application/json").send(JSON.stringify(res.item === undefined ? null : toApiItem(res.item)));
  });

  fastify.delete("/store/items", { schema: { body: StoreDeleteBody } }, async (request, reply) => {
    requireNamespace(request.body.namespace);
    await store.deleteItem(fromApiDeleteItem(request.body), writeOptions(request));
    return reply.code(204).send();
  });

  fastify.post(
    "/store/items/search",
    { schema: { body: StoreSearchBody }, preValidation: emptyBodyAsObject },
    async (request) => {
      const res = await store.searchItems(fromApiSearchItems(request.body), readOptions(request));
      return { items: res.items.map(toApiItem) };
    },
  );

  fastify.post(
    "/store/namespaces",
    { schema: { body: StoreNamespacesBody }, preValidation: emptyBodyAsObject },
    async (request) => {
      const res = await store.listNamespaces(fromApiListNamespaces(request.body), readOptions(request));
      return toApiNamespaces(res);
    },
  );
};
