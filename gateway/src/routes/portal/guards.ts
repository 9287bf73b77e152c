import type { DescService, JsonObject, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { CronService } from "@langopen/gen/langopen/data/v1/cron_service_pb";
import { MultitaskStrategy } from "@langopen/gen/langopen/data/v1/run_pb";
import { RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import type { ThreadStatus } from "@langopen/gen/langopen/data/v1/thread_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { WebhookService } from "@langopen/gen/langopen/data/v1/webhook_service_pb";
import type { AuthResource } from "../../auth/events.js";
import { createRunValue } from "../../auth/events.js";
import { toApiThreadStatus } from "../../mappers/threads.js";

type Json = Record<string, unknown>;

/** One event of the project's custom auth that a call is, with its value in the upstream shape. */
export interface CallEvent<I> {
  resource: AuthResource;
  action: string;
  value(request: I): Json;
  /** Puts what a handler edited back into the request (upstream persists what handlers stamp in metadata). */
  apply?(request: I, value: Json): void;
}

/**
 * How a forwarded method is guarded: the events it is, in order (the first one's filter goes with
 * the call; later ones may only refuse, as for the REST routes), and whether it writes. A write
 * runs to completion when the browser goes away, so that its outcome is never left unknown; a
 * read or a stream stops with the browser.
 */
export interface MethodGuard<I> {
  events: CallEvent<I>[];
  write?: boolean;
}

/** The guarded methods of one service: a method missing here is not served (Unimplemented). */
export type ServiceGuards<S extends DescService> = {
  [M in keyof S["method"]]?: MethodGuard<MessageShape<S["method"][M]["input"]>>;
};

/** A service the portal reaches, the methods it may call, and the `http.disable_*` switch that turns it off. */
export interface GuardedService<S extends DescService = DescService> {
  service: S;
  guards: ServiceGuards<S>;
  switch: "assistants" | "threads" | "runs" | "store" | "webhooks";
}

const event = <I>(resource: AuthResource, action: string, value: (r: I) => Json, apply?: (r: I, v: Json) => void) => ({
  resource,
  action,
  value,
  apply,
});

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

/** Edits of `metadata` go back into the request. */
const applyMetadata = <I extends { metadata?: JsonObject }>(request: I, value: Json): void => {
  if (isObject(value.metadata)) request.metadata = value.metadata;
};

const status = (value: ThreadStatus): string | undefined => (value === 0 ? undefined : toApiThreadStatus(value));

const read = <I>(resource: AuthResource, value: (r: I) => Json): MethodGuard<I> => ({
  events: [event(resource, "read", value)],
});

const assistantId = (r: { assistantId: string }): Json => ({ assistant_id: r.assistantId });
const threadId = (r: { threadId: string }): Json => ({ thread_id: r.threadId });
const runIds = (r: { threadId: string; runId: string }): Json => ({ thread_id: r.threadId || null, run_id: r.runId });

export const ASSISTANT_GUARDS: ServiceGuards<typeof AssistantService> = {
  searchAssistants: {
    events: [
      event("assistants", "search", (r) => ({
        metadata: r.metadata ?? {},
        graph_id: r.graphId || undefined,
        name: r.name || undefined,
        limit: r.limit,
        offset: r.offset,
      })),
    ],
  },
  countAssistants: {
    events: [
      event("assistants", "search", (r) => ({
        metadata: r.metadata ?? {},
        graph_id: r.graphId || undefined,
        name: r.name || undefined,
      })),
    ],
  },
  getAssistant: read("assistants", assistantId),
  listAssistantVersions: read("assistants", assistantId),
  getAssistantGraph: read("assistants", assistantId),
  getAssistantSchemas: read("assistants", assistantId),
  getAssistantSubgraphs: read("assistants", assistantId),
  createAssistant: {
    write: true,
    events: [
      event(
        "assistants",
        "create",
        (r) => ({
          assistant_id: r.assistantId || undefined,
          graph_id: r.graphId,
          config: r.config ?? {},
          context: r.context ?? {},
          metadata: r.metadata ?? {},
          name: r.name,
          description: r.description,
        }),
        applyMetadata,
      ),
    ],
  },
  updateAssistant: {
    write: true,
    events: [
      event(
        "assistants",
        "update",
        (r) => ({
          assistant_id: r.assistantId,
          graph_id: r.graphId,
          config: r.config,
          context: r.context,
          metadata: r.metadata,
          name: r.name,
          description: r.description,
        }),
        applyMetadata,
      ),
    ],
  },
  setLatestAssistantVersion: {
    write: true,
    events: [event("assistants", "update", (r) => ({ assistant_id: r.assistantId, version: r.version }))],
  },
  deleteAssistant: { write: true, events: [event("assistants", "delete", assistantId)] },
};

export const THREAD_GUARDS: ServiceGuards<typeof ThreadService> = {
  createThread: {
    write: true,
    events: [
      event("threads", "create", (r) => ({ thread_id: r.threadId || undefined, metadata: r.metadata ?? {} }), applyMetadata),
    ],
  },
  getThread: read("threads", threadId),
  getThreadState: read("threads", threadId),
  getThreadHistory: read("threads", threadId),
  streamThread: read("threads", threadId),
  updateThread: {
    write: true,
    events: [event("threads", "update", (r) => ({ thread_id: r.threadId, metadata: r.metadata }), applyMetadata)],
  },
  updateThreadState: {
    write: true,
    // Without the values: they may be megabytes, and upstream's update event carries the thread's id.
    events: [event("threads", "update", (r) => ({ thread_id: r.threadId, as_node: r.asNode || undefined }))],
  },
  deleteThread: { write: true, events: [event("threads", "delete", threadId)] },
  searchThreads: {
    events: [
      event("threads", "search", (r) => ({
        ids: r.ids.length > 0 ? r.ids : undefined,
        metadata: r.metadata ?? {},
        status: status(r.status),
        limit: r.limit,
        offset: r.offset,
      })),
    ],
  },
  countThreads: {
    events: [event("threads", "search", (r) => ({ metadata: r.metadata ?? {}, status: status(r.status) }))],
  },
  // As POST /threads/{id}/copy: read the source (its filter governs), then create the copy.
  copyThread: { write: true, events: [event("threads", "read", threadId), event("threads", "create", threadId)] },
};

const STRATEGY: Record<MultitaskStrategy, string> = {
  [MultitaskStrategy.UNSPECIFIED]: "enqueue",
  [MultitaskStrategy.REJECT]: "reject",
  [MultitaskStrategy.INTERRUPT]: "interrupt",
  [MultitaskStrategy.ROLLBACK]: "rollback",
  [MultitaskStrategy.ENQUEUE]: "enqueue",
};

type RunCreate = MessageShape<(typeof RunService)["method"]["createRun"]["input"]>;

/** A run create's event, as the REST routes' (its input left out), its metadata edits put back into the spec. */
const createRunEvent = <I>(runOf: (r: I) => RunCreate | undefined): CallEvent<I> =>
  event(
    "threads",
    "create_run",
    (r) => {
      const run = runOf(r);
      return createRunValue(run?.threadId || null, {
        assistant_id: run?.spec?.assistantId,
        metadata: run?.spec?.metadata ?? {},
        multitask_strategy: STRATEGY[run?.multitaskStrategy ?? MultitaskStrategy.UNSPECIFIED],
        after_seconds: run?.afterSeconds || undefined,
        config: run?.spec?.config,
        context: run?.spec?.context,
        stream_mode: run?.spec?.streamModes,
      });
    },
    (r, value) => {
      const spec = runOf(r)?.spec;
      if (spec && isObject(value.metadata)) spec.metadata = value.metadata;
    },
  );

export const RUN_GUARDS: ServiceGuards<typeof RunService> = {
  createRun: { write: true, events: [createRunEvent((r) => r)] },
  createAndStreamRun: { events: [createRunEvent((r) => r.run)] },
  createOrResumeRun: { write: true, events: [createRunEvent((r) => r.run)] },
  getRun: read("threads", runIds),
  listRuns: read("threads", threadId),
  joinRun: read("threads", runIds),
  streamRun: read("threads", runIds),
  cancelRun: { write: true, events: [event("threads", "update", runIds)] },
};

type Item = { namespace: string[]; key: string };
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Edits of the item's address (and, for a put, its value) go back into the request. */
const applyItem = <I extends Item & { valueJson?: Uint8Array }>(request: I, value: Json): void => {
  if (Array.isArray(value.namespace) && value.namespace.every((part) => typeof part === "string")) {
    request.namespace = value.namespace;
  }
  if (typeof value.key === "string") request.key = value.key;
  if (request.valueJson !== undefined && isObject(value.value)) {
    request.valueJson = encoder.encode(JSON.stringify(value.value));
  }
};

/** A `*_json` field's value; not JSON is the caller's mistake. */
function jsonOf(bytes: Uint8Array): unknown {
  if (bytes.length === 0) return null;
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    throw new ConnectError("value_json is not valid JSON", Code.InvalidArgument);
  }
}

const item = (r: Item): Json => ({ namespace: r.namespace, key: r.key });

export const STORE_GUARDS: ServiceGuards<typeof StoreService> = {
  putItem: {
    write: true,
    events: [event("store", "put", (r) => ({ ...item(r), value: jsonOf(r.valueJson) }), applyItem)],
  },
  getItem: { events: [event("store", "get", item, applyItem)] },
  deleteItem: { write: true, events: [event("store", "delete", item, applyItem)] },
  searchItems: {
    events: [
      event("store", "search", (r) => ({
        namespace: r.namespacePrefix,
        query: r.query || undefined,
        limit: r.limit,
        offset: r.offset,
      })),
    ],
  },
  listNamespaces: {
    events: [
      event("store", "list_namespaces", (r) => ({
        namespace: r.prefix,
        suffix: r.suffix.length > 0 ? r.suffix : undefined,
        max_depth: r.maxDepth || undefined,
        limit: r.limit,
        offset: r.offset,
      })),
    ],
  },
};

const cronId = (r: { cronId: string }): Json => ({ cron_id: r.cronId });

export const CRON_GUARDS: ServiceGuards<typeof CronService> = {
  createCron: {
    write: true,
    events: [
      event(
        "crons",
        "create",
        (r) => ({
          thread_id: r.threadId || undefined,
          assistant_id: r.payload?.assistantId,
          schedule: r.schedule,
          metadata: r.metadata ?? {},
        }),
        applyMetadata,
      ),
    ],
  },
  getCron: read("crons", cronId),
  updateCron: {
    write: true,
    events: [event("crons", "update", (r) => ({ cron_id: r.cronId, metadata: r.metadata }), applyMetadata)],
  },
  deleteCron: { write: true, events: [event("crons", "delete", cronId)] },
  searchCrons: {
    events: [
      event("crons", "search", (r) => ({
        assistant_id: r.assistantId || undefined,
        thread_id: r.threadId || undefined,
        metadata: r.metadata ?? {},
        limit: r.limit,
        offset: r.offset,
      })),
    ],
  },
  countCrons: {
    events: [
      event("crons", "search", (r) => ({
        assistant_id: r.assistantId || undefined,
        thread_id: r.threadId || undefined,
        metadata: r.metadata ?? {},
      })),
    ],
  },
};

export const WEBHOOK_GUARDS: ServiceGuards<typeof WebhookService> = {
  // As GET /runs/{run_id}/webhooks: reading a run's deliveries is reading its thread.
  listWebhookDeliveries: read("threads", (r) => ({ run_id: r.runId })),
};

/** Every service the portal reaches through the gateway, and what guards each method. */
export const PORTAL_SERVICES: readonly GuardedService[] = [
  { service: AssistantService, guards: ASSISTANT_GUARDS, switch: "assistants" },
  { service: ThreadService, guards: THREAD_GUARDS, switch: "threads" },
  { service: RunService, guards: RUN_GUARDS, switch: "runs" },
  { service: StoreService, guards: STORE_GUARDS, switch: "store" },
  { service: CronService, guards: CRON_GUARDS, switch: "runs" },
  { service: WebhookService, guards: WEBHOOK_GUARDS, switch: "webhooks" },
] as unknown as readonly GuardedService[];
