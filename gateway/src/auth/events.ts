import type { FastifyRequest } from "fastify";

/** The resources and actions of LangGraph custom auth (`@langchain/langgraph-sdk/auth`). */
export type AuthResource = "threads" | "assistants" | "crons" | "store";

/** One event a request is authorized for, with its value in the upstream shape. */
export interface AuthEvent {
  resource: AuthResource;
  action: string;
  /** The event's value, built from the request (handlers see it, and may edit it). */
  value(request: FastifyRequest): Record<string, unknown>;
  /** Puts what a handler edited back into the request, before the route reads it. */
  apply?(request: FastifyRequest, value: Record<string, unknown>): void;
}

/**
 * How a route is guarded:
 * - `open`: no authentication (liveness, the server's description);
 * - `authenticated`: authentication only, no resource event (metrics);
 * - `in-handler`: the route authorizes itself, per JSON-RPC method or batch item
 *   (`request.authorize`);
 * - events: authorized before the handler, in order; the first event's filter is the one the
 *   route's calls carry (a copy is restricted by what the caller may read), later ones may refuse.
 */
export type RouteGuard = "open" | "authenticated" | "in-handler" | AuthEvent[];

type Json = Record<string, unknown>;

const objectOf = (value: unknown): Json =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : {};
const params = (request: FastifyRequest): Json => objectOf(request.params);
const body = (request: FastifyRequest): Json => objectOf(request.body);

/** Edits of `metadata` go back into the body (upstream persists what handlers stamp there). */
function applyMetadata(request: FastifyRequest, value: Json): void {
  const target = body(request);
  if (request.body === target && value.metadata !== undefined) target.metadata = value.metadata;
}

/** A run create's value: what identifies and governs the run, without its input (possibly megabytes). */
export function createRunValue(threadId: unknown, source: Json): Json {
  const { input: _input, command: _command, ...kwargs } = source;
  return {
    thread_id: threadId ?? null,
    assistant_id: source.assistant_id,
    run_id: null,
    status: "pending",
    metadata: source.metadata ?? {},
    prevent_insert_if_inflight: source.multitask_strategy === "reject",
    multitask_strategy: source.multitask_strategy,
    if_not_exists: source.if_not_exists,
    after_seconds: source.after_seconds,
    kwargs,
  };
}

/** The metadata a handler left in a run create's value, else what the request had. */
export function authorizedMetadata<T extends object>(value: Json, fallback: T): T {
  const metadata = value.metadata;
  return typeof metadata === "object" && metadata !== null && !Array.isArray(metadata) ? (metadata as T) : fallback;
}

const event = (resource: AuthResource, action: string, value: AuthEvent["value"], apply?: AuthEvent["apply"]): AuthEvent => ({
  resource,
  action,
  value,
  apply,
});

/** The request's path ids (and for searches, its body): what read, update and delete events get. */
const idsAndBody = (request: FastifyRequest): Json => ({ ...body(request), ...params(request) });

const threadRead = [event("threads", "read", params)];
const threadUpdate = [event("threads", "update", idsAndBody, applyMetadata)];
const threadDelete = [event("threads", "delete", params)];
const threadSearch = [event("threads", "search", body)];
const createRun = [event("threads", "create_run", (r) => createRunValue(params(r).thread_id, body(r)), applyMetadata)];
const assistantRead = [event("assistants", "read", params)];
const assistantUpdate = [event("assistants", "update", idsAndBody, applyMetadata)];
const assistantSearch = [event("assistants", "search", body)];
const cronRead = [event("crons", "read", params)];

/** Store items are addressed by the body (put, delete) or the query (get). */
function storeQueryValue(request: FastifyRequest): Json {
  const query = objectOf(request.query);
  const namespace = typeof query.namespace === "string" && query.namespace !== "" ? query.namespace.split(".") : [];
  return { namespace, key: query.key };
}

function applyStoreQuery(request: FastifyRequest, value: Json): void {
  const query = objectOf(request.query);
  if (Array.isArray(value.namespace)) query.namespace = value.namespace.join(".");
  if (typeof value.key === "string") query.key = value.key;
}

function applyStoreBody(request: FastifyRequest, value: Json): void {
  const target = body(request);
  for (const field of ["namespace", "key", "value"] as const) {
    if (value[field] !== undefined) target[field] = value[field];
  }
}

/** Search and list name the namespace they look under `namespace`, as upstream's values do. */
const storeSearchValue = (request: FastifyRequest): Json => {
  const { namespace_prefix, prefix, ...rest } = body(request);
  return { ...rest, namespace: namespace_prefix ?? prefix ?? [] };
};

/**
 * Every route of the public API and its guard, by method and route pattern. A route missing here
 * is refused (see the auth plugin), so a new route cannot be left open by forgetting it.
 */
export const ROUTE_GUARDS: Readonly<Record<string, RouteGuard>> = {
  // Open: liveness, health for probes (it says only what is up), the server's description and its API.
  "GET /ok": "open",
  "GET /health": "open",
  "GET /info": "open",
  // Generative UI: a component's HTML is asked for with the user's credentials, the files it
  // loads are plain <script> and <link> fetches that carry none (as upstream).
  "POST /ui/:namespace": "authenticated",
  "GET /ui/:namespace/:file": "open",
  "GET /docs": "open",
  "GET /openapi.json": "open",
  "GET /metrics": "authenticated",

  "POST /assistants": [event("assistants", "create", body, applyMetadata)],
  "POST /assistants/search": assistantSearch,
  "POST /assistants/count": assistantSearch,
  "GET /assistants/:assistant_id": assistantRead,
  "PATCH /assistants/:assistant_id": assistantUpdate,
  "DELETE /assistants/:assistant_id": [event("assistants", "delete", params)],
  "POST /assistants/:assistant_id/versions": assistantRead,
  "POST /assistants/:assistant_id/latest": assistantUpdate,
  "GET /assistants/:assistant_id/graph": assistantRead,
  "GET /assistants/:assistant_id/schemas": assistantRead,
  "GET /assistants/:assistant_id/subgraphs": assistantRead,
  "GET /assistants/:assistant_id/subgraphs/:namespace": assistantRead,

  "POST /threads": [event("threads", "create", body, applyMetadata)],
  "POST /threads/search": threadSearch,
  "POST /threads/count": threadSearch,
  "POST /threads/prune": [event("threads", "delete", body)],
  "GET /threads/:thread_id": threadRead,
  "PATCH /threads/:thread_id": threadUpdate,
  "DELETE /threads/:thread_id": threadDelete,
  "POST /threads/:thread_id/copy": [event("threads", "read", params), event("threads", "create", params)],
  "GET /threads/:thread_id/stream": threadRead,
  "GET /threads/:thread_id/storage": threadRead,
  "GET /threads/:thread_id/state": threadRead,
  "GET /threads/:thread_id/state/:checkpoint_id": threadRead,
  "POST /threads/:thread_id/state/checkpoint": threadRead,
  "POST /threads/:thread_id/state": threadUpdate,
  "PATCH /threads/:thread_id/state": threadUpdate,
  "GET /threads/:thread_id/history": threadRead,
  "POST /threads/:thread_id/history": threadRead,

  "POST /threads/:thread_id/runs": createRun,
  "POST /threads/:thread_id/runs/stream": createRun,
  "POST /threads/:thread_id/runs/wait": createRun,
  "GET /threads/:thread_id/runs": threadRead,
  "GET /threads/:thread_id/runs/:run_id": threadRead,
  "DELETE /threads/:thread_id/runs/:run_id": threadDelete,
  "GET /threads/:thread_id/runs/:run_id/join": threadRead,
  "GET /threads/:thread_id/runs/:run_id/stream": threadRead,
  "POST /threads/:thread_id/runs/:run_id/cancel": threadUpdate,
  "POST /runs/cancel": [event("threads", "update", body)],
  "POST /runs": createRun,
  "POST /runs/stream": createRun,
  "POST /runs/wait": createRun,
  "POST /runs/batch": "in-handler",
  "GET /runs/:run_id/stream": threadRead,
  "GET /runs/:run_id/webhooks": threadRead,

  "POST /threads/:thread_id/runs/crons": [event("crons", "create", idsAndBody, applyMetadata)],
  "POST /runs/crons": [event("crons", "create", body, applyMetadata)],
  "POST /runs/crons/search": [event("crons", "search", body)],
  "POST /runs/crons/count": [event("crons", "search", body)],
  "GET /runs/crons/:cron_id": cronRead,
  "PATCH /runs/crons/:cron_id": [event("crons", "update", idsAndBody, applyMetadata)],
  "DELETE /runs/crons/:cron_id": [event("crons", "delete", params)],

  "PUT /store/items": [event("store", "put", body, applyStoreBody)],
  "GET /store/items": [event("store", "get", storeQueryValue, applyStoreQuery)],
  "DELETE /store/items": [event("store", "delete", body, applyStoreBody)],
  "POST /store/items/search": [event("store", "search", storeSearchValue)],
  "POST /store/namespaces": [event("store", "list_namespaces", storeSearchValue)],

  // JSON-RPC and protocol envelopes: each method is its own event (read a task, create a run...).
  "GET /.well-known/agent-card.json": "authenticated",
  "GET /a2a/:assistant_id/.well-known/agent-card.json": "authenticated",
  "POST /a2a/:assistant_id": "in-handler",
  "POST /mcp": "in-handler",
  "GET /mcp": "authenticated",
  "DELETE /mcp": "authenticated",
  "POST /threads/:thread_id/commands": "in-handler",
  "POST /threads/:thread_id/stream/events": threadRead,
};

/** The guard of a matched route (`request.routeOptions.url`); undefined for a route not listed. */
export function guardOf(method: string, url: string | undefined): RouteGuard | undefined {
  if (url === undefined) return undefined;
  // The API docs' own files (the Swagger UI page's scripts and the spec it loads).
  if (url.startsWith("/docs/") && (method === "GET" || method === "HEAD")) return "open";
  // The portal's RPCs: each method authorizes itself (routes/portal/guards.ts); its app's files hold no data.
  if (url.startsWith("/portal/rpc/")) return "in-handler";
  if ((url === "/portal" || url.startsWith("/portal/")) && (method === "GET" || method === "HEAD")) return "open";
  const key = `${method === "HEAD" ? "GET" : method} ${url.length > 1 && url.endsWith("/") ? url.slice(0, -1) : url}`;
  return Object.hasOwn(ROUTE_GUARDS, key) ? ROUTE_GUARDS[key] : undefined;
}
